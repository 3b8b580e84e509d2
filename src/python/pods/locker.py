"""`pods lock`: plan -> resolve -> derive -> write, pod by pod, parents first.

- plan: is the pod stale (its pod.yaml, its parent lock, or any deriver says so), asked
  for, and lockable now (its parent locked and fresh)?
- resolve and derive: each deriver in turn (resolvers/*, env, pixi.toml, pixi.lock; see
  pods/deriver.py) makes its lock section or its file; later ones see earlier sections.
- render: the lock text from the sections, beside the derived files.
- write: the CLI writes every file of the run at once (lockfile.write_files_atomically).

Nothing is written until every requested pod resolved, so an error leaves every file as
it was. One exception is by design: a child whose Debian closure must be resolved inside
a parent image that this same run re-locked cannot be resolved until that image is
rebuilt; it is left as it was and named, and the parents' new locks are written so the
user can build them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pods_contract
from pods_contract import BUILD_FILES, bytes_sha256

from pods import lockfile, pixi
from pods.deriver import Deriver, EnvSection, ResolveRequest
from pods.errors import PodsError
from pods.graph import PodGraph
from pods.lockfile import LockBook, load_specs
from pods.resolvers import ParentImageOutdated, all_resolvers
from pods.settings import Settings

__all__ = ["LockRun", "check_names", "default_derivers", "load_specs", "lock_pods"]


def default_derivers() -> list[Deriver]:
    """The lock flow's derivers, in order: upstream sections, env, then the files derived from them."""
    return [*all_resolvers(), EnvSection(), *pixi.DERIVERS]


@dataclass
class LockRun:
    """What a run decided, pod by pod (mutable while the run goes, reported at the end)."""

    locked: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)  # (pod, why)
    files: list[tuple[Path, str]] = field(default_factory=list)
    changed: set[str] = field(default_factory=set)  # pods whose lock text this run changed
    blocked: set[str] = field(default_factory=set)  # pods this run could not lock


def check_names(graph: PodGraph, pods: list[str]) -> None:
    for pod in pods:
        if pod not in graph.pods:
            raise PodsError(f"pod {pod}", f"unknown pod: expected one of {', '.join(graph.pods)}")


def lock_pods(
    settings: Settings,
    graph: PodGraph,
    pods: list[str],
    upgrade: bool,
    derivers: Sequence[Deriver] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> LockRun:
    """Resolve every named pod (all when `pods` is empty) that is stale, or every one with `upgrade`."""
    check_names(graph, pods)
    book = LockBook(settings, graph, load_specs(settings, graph), derivers or default_derivers())
    targets, run = set(pods or graph.pods), LockRun()
    for pod in graph.topological():
        reason = plan(book, pod, pod in targets, upgrade, run)
        if reason is None:
            continue
        say(f"resolving {pod} ({reason})")
        try:
            sections, inputs, files = resolve(book, pod, upgrade)
        except ParentImageOutdated as e:
            if graph.parent_of(pod) not in run.changed:
                raise
            run.blocked.add(pod)
            run.deferred.append((pod, str(e)))
            continue
        render(book, pod, sections, inputs, files, run)
    return run


def plan(book: LockBook, pod: str, targeted: bool, upgrade: bool, run: LockRun) -> str | None:
    """Why to resolve `pod` in this run ("upgrade" when only asked to), or None to leave it."""
    parent = book.graph.parent_of(pod)
    reason = book.why_stale(pod)
    if not targeted:
        return None
    if parent in run.blocked:
        run.blocked.add(pod)
        run.deferred.append((pod, f"its parent {parent} could not be locked in this run"))
        return None
    if not reason and not upgrade:
        run.unchanged.append(pod)
        return None
    if parent in book.stale:
        raise PodsError(f"pod {pod}", f"its parent {parent} is stale; lock both: `pods lock {parent} {pod}`")
    if parent is not None and book.texts[parent] is None:
        raise PodsError(
            f"pod {pod}",
            f"parent {parent} has no {pods_contract.LOCK_NAME}; lock it first: `pods lock {parent}`",
        )
    return reason or "upgrade"


def resolve(
    book: LockBook, pod: str, upgrade: bool
) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, str]]]:
    """(sections, resolver inputs, derived files) for one pod: every deriver in turn."""
    parent = book.graph.parent_of(pod)
    sections: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    files: list[tuple[str, str]] = []
    request = ResolveRequest(
        spec=book.specs[pod],
        parent=parent,
        ancestor_locks=book.ancestor_locks(pod),
        parent_lock_sha256=None if parent is None else bytes_sha256(book.texts[parent]),
        previous=_previous(book, pod),
        upgrade=upgrade,
        settings=book.settings,
        sections=sections,  # filled as the derivers go: a later one reads an earlier one's section
    )
    for deriver in book.derivers:
        derived = deriver.derive(request)
        if derived is None:
            continue
        if derived.section is not None:
            sections[deriver.name] = derived.section
        if derived.inputs:
            inputs[deriver.name] = derived.inputs
        files.extend(derived.files)
    return sections, inputs, files


def render(
    book: LockBook,
    pod: str,
    sections: dict[str, Any],
    inputs: dict[str, Any],
    files: list[tuple[str, str]],
    run: LockRun,
) -> None:
    """The pod's lock text and derived files, queued for the write; its children see the new lock."""
    parent = book.graph.parent_of(pod)
    pod_yaml = lockfile.yaml_path(book.settings.repo, pod).read_bytes()
    parent_lock = None if parent is None else book.texts[parent]
    text = lockfile.dumps(lockfile.make_lock(pod, parent, pod_yaml, parent_lock, inputs, sections))
    if text.encode() != book.texts[pod]:
        run.changed.add(pod)
    book.replace(pod, text.encode())
    run.locked.append(pod)
    run.files.append((lockfile.lock_path(book.settings.repo, pod), text))
    run.files.extend((book.settings.repo / BUILD_FILES / pod / name, content) for name, content in files)


def _previous(book: LockBook, pod: str) -> dict[str, Any] | None:
    """The pod's previous lock, if it can serve as preferences (same pod, readable)."""
    if book.texts[pod] is None:
        return None
    try:
        lock = book.lock(pod)
    except PodsError:
        return None
    return lock if lock.get("pod") == pod else None
