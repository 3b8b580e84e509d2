"""The one interface of the lock flow (plan -> resolve -> derive -> write): a Deriver.

A deriver makes one part of a pod's locked state and says, offline, when that part no
longer matches what it was made from:
- a resolver (resolvers/debian, pypi, npm, vendor) derives a section of pod.lock.json
  from pod.yaml and its upstream;
- `env` copies pod.yaml's env: into the lock;
- a file deriver (pixi.toml, pixi.lock in pixi.py) derives a file beside the lock from
  the sections derived before it.

`pods lock`, `pods check` and `lockfile.stale_locks` all take the same list, so a new
upstream or a new derived file is one more entry, never a special case.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pods.podspec import PodSpec, field_error
from pods.settings import Settings


@dataclass(frozen=True)
class ResolveRequest:
    """What derive() reads for one pod."""

    spec: PodSpec
    parent: str | None
    ancestor_locks: tuple[dict[str, Any], ...]  # parent's first, root's last
    parent_lock_sha256: str | None  # of the parent's pod.lock.json as it will be written
    previous: dict[str, Any] | None  # this pod's previous lock, if any
    upgrade: bool  # move pins forward instead of keeping the previous ones
    settings: Settings
    sections: Mapping[str, Any] = field(default_factory=dict)  # derived earlier in this run

    def previous_section(self, component: str) -> dict[str, Any] | None:
        return None if self.previous is None else self.previous.get(component)


@dataclass(frozen=True)
class LockedPod:
    """What stale() reads for one pod: its spec and its lock, already fresh by their hashes."""

    spec: PodSpec
    folder: Path  # build_files/<pod>/
    lock: dict[str, Any]
    ancestor_locks: tuple[dict[str, Any], ...]  # parent's first, root's last
    settings: Settings


@dataclass(frozen=True)
class Derived:
    section: Any = None  # the lock's `<name>` section (None: none)
    inputs: dict[str, Any] = field(default_factory=dict)  # recorded as inputs.resolvers.<name>
    files: tuple[tuple[str, str], ...] = ()  # (file name beside the lock, text)


class Deriver(Protocol):
    name: str

    def derive(self, request: ResolveRequest) -> Derived | None:
        """This part for the request; None when the pod has no such part."""

    def stale(self, pod: LockedPod) -> str | None:
        """Offline: why this part no longer matches its lock, or None when it does."""


class EnvSection:
    """pod.yaml's env:, copied into the lock as its `env` section."""

    name = "env"

    def derive(self, request: ResolveRequest) -> Derived | None:
        return Derived(section=dict(request.spec.env)) if request.spec.env else None

    def stale(self, pod: LockedPod) -> str | None:
        if pod.lock.get("env", {}) == dict(pod.spec.env):
            return None
        return str(field_error(pod.spec.name, "env", "differs from the lock's env section"))
