"""One module per upstream, each behind the same small interface:

    resolve(request: ResolveRequest) -> Resolution | None

`None` means the pod's pod.yaml does not use that upstream, so the lock omits the section.
A resolver reads the pod's spec, its ancestors' locks (to add only what they lack) and
its own previous section (to keep pins unless `upgrade`), asks its upstream, and returns
the section plus the inputs it used. It writes nothing: the CLI writes all files at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pods.errors import PodsError
from pods.podspec import PodSpec
from pods.settings import Settings


@dataclass(frozen=True)
class ResolveRequest:
    spec: PodSpec
    parent: str | None
    ancestor_locks: tuple[dict[str, Any], ...]  # parent's first, root's last
    parent_lock_sha256: str | None  # of the parent's pod.lock.json as it will be written
    previous: dict[str, Any] | None  # this pod's previous lock, if any
    upgrade: bool  # move pins forward instead of keeping the previous ones
    settings: Settings

    def previous_section(self, component: str) -> dict[str, Any] | None:
        return None if self.previous is None else self.previous.get(component)


class ParentImageOutdated(PodsError):
    """The parent image is missing or does not hold the parent lock: build it, then lock again."""

    def __init__(self, pod: str, component: str, message: str) -> None:
        super().__init__(f"pod {pod}: {component}", message)


@dataclass(frozen=True)
class Resolution:
    section: Any  # what the lock holds under the component's key
    inputs: dict[str, Any] = field(default_factory=dict)  # recorded as inputs.resolvers.<component>


Resolver = Callable[[ResolveRequest], "Resolution | None"]


def all_resolvers() -> dict[str, Resolver]:
    """Component name -> resolver, in the order a lock is resolved.

    Debian comes last: it runs apt in the parent image (minutes, and the image must be
    built), so a misspelled PyPI or npm name is reported before that, not after.
    """
    from pods.resolvers import debian, npm, pypi, vendor

    return {"pypi": pypi.resolve, "npm": npm.resolve, "vendor": vendor.resolve, "debian": debian.resolve}
