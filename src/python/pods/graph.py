"""The pod family tree, read from the Containerfiles.

A pod's parent is the `ARG BASE_IMAGE=build_files/<parent>:<parent>` line of its
Containerfile: the same edge Pants infers, so the lock order can never disagree with the
build order. A pod without that line (rootfs) is a root.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pods_contract import BUILD_FILES

from pods.errors import PodsError

_BASE_IMAGE = re.compile(r"^\s*ARG\s+BASE_IMAGE=build_files/([^:\s]+):(\S+)\s*$")


@dataclass(frozen=True)
class PodGraph:
    """Every pod that has a pod.yaml, with its parent (None for a root)."""

    parents: tuple[tuple[str, str | None], ...]  # sorted by pod name

    def parent_of(self, pod: str) -> str | None:
        return dict(self.parents)[pod]

    @property
    def pods(self) -> tuple[str, ...]:
        return tuple(pod for pod, _ in self.parents)

    def ancestors(self, pod: str) -> tuple[str, ...]:
        """Parent first, root last."""
        out = []
        parent = self.parent_of(pod)
        while parent is not None:
            out.append(parent)
            parent = self.parent_of(parent)
        return tuple(out)

    def descendants(self, pod: str) -> tuple[str, ...]:
        return tuple(p for p in self.topological() if pod in self.ancestors(p))

    def topological(self) -> tuple[str, ...]:
        """Parents before children; siblings by name, so the order is stable."""
        return tuple(sorted(self.pods, key=lambda p: (len(self.ancestors(p)), p)))


def parent_from_containerfile(text: str, file: str) -> str | None:
    parents = []
    for line in text.splitlines():
        m = _BASE_IMAGE.match(line)
        if m:
            parent, target = m.groups()
            if parent != target:
                raise PodsError(
                    file,
                    f"ARG BASE_IMAGE: expected build_files/<pod>:<pod>, found build_files/{parent}:{target}",
                )
            parents.append(parent)
    if len(parents) > 1:
        raise PodsError(file, f"ARG BASE_IMAGE: expected one line, found {len(parents)}")
    return parents[0] if parents else None


def load_graph(repo: Path) -> PodGraph:
    """Read every build_files/<pod>/ that holds a pod.yaml, then check the tree is whole."""
    parents: dict[str, str | None] = {}
    for pod_yaml in sorted((repo / BUILD_FILES).glob("*/pod.yaml")):
        pod = pod_yaml.parent.name
        containerfile = pod_yaml.parent / "Containerfile"
        shown = f"{BUILD_FILES}/{pod}/Containerfile"
        if not containerfile.is_file():
            raise PodsError(
                shown,
                f"missing: expected one beside {BUILD_FILES}/{pod}/pod.yaml (its ARG BASE_IMAGE line "
                f"names the parent), found none; add it, or remove {BUILD_FILES}/{pod}/ if it is no pod",
            )
        parents[pod] = parent_from_containerfile(containerfile.read_text(), shown)
    for pod, parent in sorted(parents.items()):
        if parent is not None and parent not in parents:
            others = ", ".join(sorted(set(parents) - {pod}))
            raise PodsError(
                f"{BUILD_FILES}/{pod}/Containerfile",
                f"ARG BASE_IMAGE: expected a parent pod (one of {others}), "
                f"found {parent!r}, which has no {BUILD_FILES}/{parent}/pod.yaml; "
                "fix the ARG line or add that pod",
            )
    for pod in sorted(parents):
        chain = [pod]
        parent = parents[pod]
        while parent is not None:
            if parent in chain:
                cycle = " -> ".join(chain[chain.index(parent) :] + [parent])
                raise PodsError(
                    f"{BUILD_FILES}/{pod}/Containerfile",
                    f"ARG BASE_IMAGE: parent cycle {cycle}: expected a chain that ends at a root pod "
                    "(a Containerfile without ARG BASE_IMAGE); point one of them at a pod outside the cycle",
                )
            chain.append(parent)
            parent = parents[parent]
    return PodGraph(parents=tuple(sorted(parents.items())))
