"""`pods lock`: resolve the pods that need it, parents first, and write their files at once.

Nothing is written until every requested pod resolved, so an error leaves every file as
it was. One exception is by design: a child whose Debian closure must be resolved inside
a parent image that this same run re-locked cannot be resolved until that image is
rebuilt; it is left as it was and named, and the parents' new locks are written so the
user can build them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pods import lockfile, pixi
from pods.errors import PodsError
from pods.graph import BUILD_FILES, PodGraph
from pods.podspec import PodSpec, load_pod_spec
from pods.resolvers import ParentImageOutdated, Resolver, ResolveRequest, all_resolvers
from pods.settings import Settings


@dataclass
class LockRun:
    """What a run decided, pod by pod (mutable while the run goes, reported at the end)."""

    locked: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deferred: list[tuple[str, str]] = field(default_factory=list)  # (pod, why)
    files: list[tuple[Path, str]] = field(default_factory=list)


def load_specs(settings: Settings, graph: PodGraph) -> dict[str, PodSpec]:
    repo = settings.repo
    return {
        pod: load_pod_spec(lockfile.yaml_path(repo, pod), pod, f"{BUILD_FILES}/{pod}/pod.yaml")
        for pod in graph.pods
    }


def check_names(graph: PodGraph, pods: list[str]) -> None:
    for pod in pods:
        if pod not in graph.pods:
            raise PodsError(f"pod {pod}", f"unknown pod: expected one of {', '.join(graph.pods)}")


def resolve_pod(
    request: ResolveRequest, resolvers: dict[str, Resolver]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(sections, resolver inputs) for one pod; pure apart from what the resolvers ask upstream."""
    sections: dict[str, Any] = {}
    inputs: dict[str, Any] = {}
    for component, resolver in resolvers.items():
        resolution = resolver(request)
        if resolution is not None:
            sections[component] = resolution.section
            if resolution.inputs:
                inputs[component] = resolution.inputs
    if request.spec.env:
        sections["env"] = dict(request.spec.env)
    return sections, inputs


def lock_pods(
    settings: Settings,
    graph: PodGraph,
    pods: list[str],
    upgrade: bool,
    resolvers: dict[str, Resolver] | None = None,
    say: Callable[[str], None] = lambda line: None,
) -> LockRun:
    """Resolve every named pod (all when `pods` is empty) that is stale, or every one with `upgrade`."""
    resolvers = all_resolvers() if resolvers is None else resolvers
    repo = settings.repo
    check_names(graph, pods)
    targets = set(pods or graph.pods)
    specs = load_specs(settings, graph)
    # The lock text of every pod as this run leaves it: on disk, or newly resolved.
    texts: dict[str, bytes | None] = {
        pod: lockfile.read_bytes(lockfile.lock_path(repo, pod)) for pod in graph.pods
    }
    changed: set[str] = set()
    blocked: set[str] = set()
    run = LockRun()
    stale: set[str] = set()
    for pod in graph.topological():
        parent = graph.parent_of(pod)
        pod_yaml = lockfile.yaml_path(repo, pod).read_bytes()
        reason = lockfile.why_stale(
            pod, parent, pod_yaml, texts[pod], None if parent is None else texts[parent], parent in stale
        ) or derived_files_stale(settings, graph, pod, texts)
        if reason:
            stale.add(pod)
        if pod not in targets:
            continue
        if parent in blocked:
            blocked.add(pod)
            run.deferred.append((pod, f"its parent {parent} could not be locked in this run"))
            continue
        if not reason and not upgrade:
            run.unchanged.append(pod)
            continue
        if parent in stale:
            raise PodsError(
                f"pod {pod}", f"its parent {parent} is stale; lock both: `pods lock {parent} {pod}`"
            )
        if parent is not None and texts[parent] is None:
            raise PodsError(
                f"pod {pod}",
                f"parent {parent} has no {lockfile.LOCK_NAME}; lock it first: `pods lock {parent}`",
            )
        say(f"resolving {pod}" + (f" ({reason})" if reason else " (upgrade)"))
        request = ResolveRequest(
            spec=specs[pod],
            parent=parent,
            ancestor_locks=tuple(
                lockfile.parse_lock(texts[a], f"{BUILD_FILES}/{a}/{lockfile.LOCK_NAME}")
                for a in graph.ancestors(pod)
            ),
            parent_lock_sha256=None if parent is None else lockfile.sha256_bytes(texts[parent]),
            previous=_previous(texts[pod], pod, parent),
            upgrade=upgrade,
            settings=settings,
        )
        try:
            sections, inputs = resolve_pod(request, resolvers)
        except ParentImageOutdated as e:
            if parent not in changed:
                raise
            blocked.add(pod)
            run.deferred.append((pod, str(e)))
            continue
        lock = lockfile.make_lock(
            pod, parent, pod_yaml, None if parent is None else texts[parent], inputs, sections
        )
        text = lockfile.dumps(lock)
        extra = pixi.files_for(settings, pod, lock, request.ancestor_locks)
        stale.discard(pod)
        if text.encode() != texts[pod]:
            changed.add(pod)
        texts[pod] = text.encode()
        run.locked.append(pod)
        run.files.append((lockfile.lock_path(repo, pod), text))
        run.files.extend((repo / BUILD_FILES / pod / name, content) for name, content in extra)
    return run


def derived_files_stale(
    settings: Settings, graph: PodGraph, pod: str, texts: dict[str, bytes | None]
) -> str | None:
    """Why the files derived from a pod's fresh lock (pixi) need writing again, if they do."""
    if not pixi.wanted(settings, pod) or texts[pod] is None:
        return None
    parse = lambda p: lockfile.parse_lock(texts[p], f"{BUILD_FILES}/{p}/{lockfile.LOCK_NAME}")  # noqa: E731
    try:
        ancestors = tuple(parse(a) for a in graph.ancestors(pod))
        return pixi.why_stale(settings, pod, settings.repo / BUILD_FILES / pod, parse(pod), ancestors)
    except (PodsError, KeyError, TypeError) as e:
        return f"its pixi files cannot be checked: {e}"


def _previous(text: bytes | None, pod: str, parent: str | None) -> dict[str, Any] | None:
    """The pod's previous lock, if it can serve as preferences (same pod, readable)."""
    if text is None:
        return None
    try:
        lock = lockfile.parse_lock(text, f"{BUILD_FILES}/{pod}/{lockfile.LOCK_NAME}")
    except PodsError:
        return None
    return lock if lock.get("pod") == pod else None
