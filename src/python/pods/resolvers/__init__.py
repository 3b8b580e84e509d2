"""One module per upstream, each a Deriver (pods/deriver.py) of one lock section:

    resolve(request: ResolveRequest) -> Resolution | None
    wanted(spec, parent) -> bool

`wanted` says whether pod.yaml uses that upstream: `resolve` returns None when it does
not (the lock omits the section), and the offline staleness check is that the lock has
the section exactly when pod.yaml wants one. A resolver reads the pod's spec, its
ancestors' locks (to add only what they lack) and its own previous section (to keep pins
unless `upgrade`), asks its upstream, and returns the section plus the inputs it used.
It writes nothing: `pods lock` writes all files at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pods_contract import BUILD_FILES

from pods.deriver import Derived, LockedPod, ResolveRequest
from pods.errors import PodsError
from pods.podspec import PodSpec

__all__ = ["ParentImageOutdated", "Resolution", "ResolveRequest", "SectionResolver", "all_resolvers"]


class ParentImageOutdated(PodsError):
    """The parent image is missing or does not hold the parent lock: build it, then lock again."""

    def __init__(self, pod: str, component: str, message: str) -> None:
        super().__init__(f"pod {pod}: {component}", message)


@dataclass(frozen=True)
class Resolution:
    section: Any  # what the lock holds under the component's key
    inputs: dict[str, Any] = field(default_factory=dict)  # recorded as inputs.resolvers.<component>


@dataclass(frozen=True)
class SectionResolver:
    """A resolver module as a Deriver of its section."""

    name: str
    resolve: Callable[[ResolveRequest], Resolution | None]
    wanted: Callable[[PodSpec, str | None], bool]

    def derive(self, request: ResolveRequest) -> Derived | None:
        resolution = self.resolve(request)
        return None if resolution is None else Derived(resolution.section, resolution.inputs)

    def stale(self, pod: LockedPod) -> str | None:
        wanted, locked = self.wanted(pod.spec, pod.lock.get("parent")), self.name in pod.lock
        if wanted == locked:
            return None
        return (
            f"{BUILD_FILES}/{pod.spec.name}/pod.yaml {'asks for' if wanted else 'has no'} {self.name}, "
            f"but its lock {'lacks' if wanted else 'has'} a {self.name} section"
        )


def all_resolvers() -> list[SectionResolver]:
    """Every upstream, in the order a lock is resolved.

    Debian comes last: it runs apt in the parent image (minutes, and the image must be
    built), so a misspelled PyPI or npm name is reported before that, not after.
    """
    from pods.resolvers import debian, npm, pypi, vendor

    return [SectionResolver(m.COMPONENT, m.resolve, m.wanted) for m in (pypi, npm, vendor, debian)]
