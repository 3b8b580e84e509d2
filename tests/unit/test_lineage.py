"""The pod family's edges: Containerfiles, the prelude's table and the issue's tree agree."""

from __future__ import annotations

import re
from pathlib import Path

BUILD_FILES = Path("build_files")
EXPECTED_EDGES = {
    ("rootfs", "base"),
    ("base", "nvidia"),
    ("base", "devops"),
    ("base", "githubrunner"),
    ("nvidia", "nvidia-python"),
    ("nvidia", "playwright"),
    ("nvidia-python", "jupyter"),
}


def containerfile_edges() -> set[tuple[str, str]]:
    edges = set()
    for containerfile in sorted(BUILD_FILES.glob("*/Containerfile")):
        pod = containerfile.parent.name
        match = re.search(r"^ARG BASE_IMAGE=build_files/([\w-]+):([\w-]+)$", containerfile.read_text(), re.M)
        if match:
            assert match.group(1) == match.group(2), f"{containerfile}: parent target must be <pod>:<pod>"
            edges.add((match.group(1), pod))
        else:
            assert "FROM scratch" in containerfile.read_text(), f"{containerfile}: no ARG BASE_IMAGE"
    return edges


def prelude_edges() -> set[tuple[str, str]]:
    namespace: dict = {}
    exec(compile((BUILD_FILES / "prelude.py").read_text(), "prelude.py", "exec"), namespace)
    return {(parent, child) for child, parent in namespace["POD_PARENTS"] if parent}


def test_containerfiles_declare_exactly_the_family_tree() -> None:
    assert containerfile_edges() == EXPECTED_EDGES


def test_prelude_lineage_matches_containerfiles() -> None:
    assert prelude_edges() == containerfile_edges()


def test_every_pod_uses_the_pod_macro_and_has_a_lock_source() -> None:
    pods = {p.parent.name for p in BUILD_FILES.glob("*/Containerfile")}
    assert pods == {
        "rootfs",
        "base",
        "nvidia",
        "devops",
        "githubrunner",
        "nvidia-python",
        "jupyter",
        "playwright",
    }
    for pod in pods:
        assert (BUILD_FILES / pod / "pod.yaml").is_file(), f"build_files/{pod}/pod.yaml missing"
