"""pod.lock.json: stable text, atomic writes and staleness (docs/lockfile.md).

The format itself (name, schema check, hashing) is pods_contract's, shared with the images.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pods_contract
from pods_contract import BUILD_FILES, SCHEMA_VERSION, ContractError, bytes_sha256

from pods.deriver import Deriver, LockedPod
from pods.errors import PodsError, from_contract
from pods.graph import PodGraph
from pods.podspec import PodSpec, load_pod_spec
from pods.settings import Settings


def lock_path(repo: Path, pod: str) -> Path:
    return repo / pods_contract.repo_lock_path(pod)


def yaml_path(repo: Path, pod: str) -> Path:
    return repo / BUILD_FILES / pod / "pod.yaml"


def dumps(lock: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline (lists come sorted)."""
    return json.dumps(lock, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def make_lock(
    pod: str,
    parent: str | None,
    pod_yaml: bytes,
    parent_lock: bytes | None,
    resolver_inputs: dict[str, Any],
    sections: dict[str, Any],
) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "pod": pod,
        "parent": parent,
        "inputs": {
            "pod_yaml_sha256": bytes_sha256(pod_yaml),
            "parent_lock_sha256": None if parent_lock is None else bytes_sha256(parent_lock),
            "resolvers": resolver_inputs,
        },
        **sections,
    }


def parse_lock(text: bytes | str, display: str) -> dict[str, Any]:
    try:
        return pods_contract.parse_lock(text, display)
    except ContractError as e:
        raise from_contract(e) from None


def write_files_atomically(files: Iterable[tuple[Path, str]]) -> None:
    """Write every file to a temp file beside it first, then rename each into place.

    A failure before the renames leaves every file as it was; each rename is atomic, so
    a reader never sees half a lock.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            staged.append((tmp, path))
            with os.fdopen(fd, "w") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            # mkstemp makes 0600 files; a lock is as readable as the rest of the repo.
            os.chmod(tmp, 0o644)
        for tmp, path in staged:
            os.replace(tmp, path)
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


@dataclass(frozen=True)
class Staleness:
    pod: str
    reason: str

    def __str__(self) -> str:
        return f"{self.pod}: {self.reason}"


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def load_specs(settings: Settings, graph: PodGraph) -> dict[str, PodSpec]:
    return {
        pod: load_pod_spec(yaml_path(settings.repo, pod), pod, f"{BUILD_FILES}/{pod}/pod.yaml")
        for pod in graph.pods
    }


class LockBook:
    """Every pod's lock as a run leaves it (on disk, or re-locked in the run), and which are stale.

    Staleness is asked parents first: a pod under a stale parent is stale too, since
    re-locking the parent will change its hash.
    """

    def __init__(
        self, settings: Settings, graph: PodGraph, specs: dict[str, PodSpec], derivers: Sequence[Deriver]
    ) -> None:
        self.settings, self.graph, self.specs, self.derivers = settings, graph, specs, derivers
        self.texts = {pod: read_bytes(lock_path(settings.repo, pod)) for pod in graph.pods}
        self.stale: set[str] = set()

    def lock(self, pod: str) -> dict[str, Any]:
        return parse_lock(self.texts[pod], pods_contract.repo_lock_path(pod))

    def ancestor_locks(self, pod: str) -> tuple[dict[str, Any], ...]:
        return tuple(self.lock(a) for a in self.graph.ancestors(pod))

    def why_stale(self, pod: str) -> str | None:
        """Why the pod's lock or a file derived with it needs writing again; remembered for its children."""
        parent = self.graph.parent_of(pod)
        reason = why_stale(
            pod,
            parent,
            yaml_path(self.settings.repo, pod).read_bytes(),
            self.texts[pod],
            None if parent is None else self.texts[parent],
            parent in self.stale,
        ) or self._derived_stale(pod)
        if reason:
            self.stale.add(pod)
        return reason

    def _derived_stale(self, pod: str) -> str | None:
        folder = self.settings.repo / BUILD_FILES / pod
        try:
            locked = LockedPod(
                self.specs[pod], folder, self.lock(pod), self.ancestor_locks(pod), self.settings
            )
        except PodsError as e:
            return f"its ancestors' locks cannot be read: {e}"
        for deriver in self.derivers:
            try:
                reason = deriver.stale(locked)
            except (PodsError, KeyError, TypeError) as e:
                return f"its {deriver.name} cannot be checked: {e}"
            if reason:
                return reason
        return None

    def replace(self, pod: str, text: bytes) -> None:
        """The pod was re-locked in this run: its children compare against the new text."""
        self.texts[pod] = text
        self.stale.discard(pod)


def stale_locks(
    settings: Settings,
    graph: PodGraph,
    derivers: Sequence[Deriver],
    pods: Iterable[str] | None = None,
    specs: dict[str, PodSpec] | None = None,
) -> list[Staleness]:
    """Every pod whose lock does not match its pod.yaml, its parent lock and its derivers: offline."""
    wanted = set(graph.pods if pods is None else pods)
    book = LockBook(settings, graph, specs or load_specs(settings, graph), derivers)
    reasons = [(pod, book.why_stale(pod)) for pod in graph.topological()]
    return [Staleness(pod, reason) for pod, reason in reasons if reason and pod in wanted]


def why_stale(
    pod: str,
    parent: str | None,
    pod_yaml: bytes,
    lock: bytes | None,
    parent_lock: bytes | None,
    parent_stale: bool,
) -> str | None:
    """Why a lock no longer matches its inputs, or None when it does. Pure: bytes in."""
    display = pods_contract.repo_lock_path(pod)
    if lock is None:
        return f"{display} is missing"
    try:
        data = parse_lock(lock, display)
    except PodsError as e:
        return str(e)
    inputs = data.get("inputs") or {}
    if data.get("pod") != pod or data.get("parent") != parent:
        return (
            f"{display} is for pod {data.get('pod')!r} with parent {data.get('parent')!r}, "
            f"expected {pod!r} with parent {parent!r}"
        )
    if inputs.get("pod_yaml_sha256") != bytes_sha256(pod_yaml):
        return f"{BUILD_FILES}/{pod}/pod.yaml changed after its lock"
    if parent is None:
        return (
            None
            if inputs.get("parent_lock_sha256") is None
            else f"{display} records a parent lock, but {pod} has no parent"
        )
    if parent_stale:
        return f"its parent {parent} is stale"
    if parent_lock is None or inputs.get("parent_lock_sha256") != bytes_sha256(parent_lock):
        return f"{pods_contract.repo_lock_path(parent)} changed after this lock"
    return None
