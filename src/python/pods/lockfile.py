"""pod.lock.json: schema, stable text, atomic writes and staleness (docs/lockfile.md)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pods.errors import PodsError
from pods.graph import BUILD_FILES, PodGraph

SCHEMA_VERSION = 1
LOCK_NAME = "pod.lock.json"


def lock_path(repo: Path, pod: str) -> Path:
    return repo / BUILD_FILES / pod / LOCK_NAME


def yaml_path(repo: Path, pod: str) -> Path:
    return repo / BUILD_FILES / pod / "pod.yaml"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


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
            "pod_yaml_sha256": sha256_bytes(pod_yaml),
            "parent_lock_sha256": None if parent_lock is None else sha256_bytes(parent_lock),
            "resolvers": resolver_inputs,
        },
        **sections,
    }


def parse_lock(text: bytes | str, display: str) -> dict[str, Any]:
    try:
        lock = json.loads(text)
    except json.JSONDecodeError as e:
        raise PodsError(display, f"is not valid JSON (line {e.lineno}: {e.msg}); re-lock it") from None
    if not isinstance(lock, dict) or lock.get("schema_version") != SCHEMA_VERSION:
        found = lock.get("schema_version") if isinstance(lock, dict) else type(lock).__name__
        raise PodsError(display, f"field schema_version: expected {SCHEMA_VERSION}, found {found!r}")
    return lock


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


def stale_locks(
    repo: Path,
    graph: PodGraph,
    pods: Iterable[str] | None = None,
    extra: Callable[[str], str | None] = lambda pod: None,
) -> list[Staleness]:
    """Every pod whose lock does not match its pod.yaml and parent lock: hashes only, offline.

    A pod under a stale parent is stale too: re-locking the parent will change its hash.
    `extra(pod)` adds a reason for files derived from a fresh lock (pixi).
    """
    wanted = set(graph.pods if pods is None else pods)
    out: list[Staleness] = []
    stale: set[str] = set()
    for pod in graph.topological():
        parent = graph.parent_of(pod)
        reason = why_stale(
            pod,
            parent,
            pod_yaml=yaml_path(repo, pod).read_bytes(),
            lock=read_bytes(lock_path(repo, pod)),
            parent_lock=None if parent is None else read_bytes(lock_path(repo, parent)),
            parent_stale=parent in stale,
        ) or extra(pod)
        if reason:
            stale.add(pod)
            if pod in wanted:
                out.append(Staleness(pod, reason))
    return out


def why_stale(
    pod: str,
    parent: str | None,
    pod_yaml: bytes,
    lock: bytes | None,
    parent_lock: bytes | None,
    parent_stale: bool,
) -> str | None:
    """Why a lock no longer matches its inputs, or None when it does. Pure: bytes in."""
    display = f"{BUILD_FILES}/{pod}/{LOCK_NAME}"
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
    if inputs.get("pod_yaml_sha256") != sha256_bytes(pod_yaml):
        return f"{BUILD_FILES}/{pod}/pod.yaml changed after its lock"
    if parent is None:
        return (
            None
            if inputs.get("parent_lock_sha256") is None
            else f"{display} records a parent lock, but {pod} has no parent"
        )
    if parent_stale:
        return f"its parent {parent} is stale"
    if parent_lock is None or inputs.get("parent_lock_sha256") != sha256_bytes(parent_lock):
        return f"{BUILD_FILES}/{parent}/{LOCK_NAME} changed after this lock"
    return None
