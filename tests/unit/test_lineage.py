"""The pod family's edges: the Containerfiles declare the product's tree, and every pod's
BUILD macro ships what its build needs. (The prelude's table is written from the
Containerfiles; tests/unit/pods/test_graph.py checks it for drift.)"""

from __future__ import annotations

import fnmatch
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


def test_containerfiles_declare_exactly_the_family_tree() -> None:
    assert containerfile_edges() == EXPECTED_EDGES


def test_every_pod_uses_the_pod_macro_and_has_a_lock_source() -> None:
    pods = {p.parent.name for p in BUILD_FILES.glob("*/Containerfile")}
    assert pods == {pod for edge in EXPECTED_EDGES for pod in edge}
    for pod in pods:
        assert (BUILD_FILES / pod / "pod.yaml").is_file(), f"build_files/{pod}/pod.yaml missing"


def declared_targets(pod: str) -> dict[str, dict]:
    """The targets prelude's `pod` macro makes for `pod`, by name, with their fields."""
    made: dict[str, dict] = {}

    def target(**fields) -> None:
        made[fields["name"]] = fields

    namespace: dict = {"docker_image": target, "file": target, "files": target}
    exec(compile((BUILD_FILES / "prelude.py").read_text(), "prelude.py", "exec"), namespace)
    namespace["pod"](name=pod, description="x")
    return made


def glob_matches(folder: Path, sources: list[str]) -> set[str]:
    """What a Pants `sources` list of one folder's globs (with `!` excludes) selects."""
    names = {p.name for p in folder.iterdir() if p.is_file()}
    wanted = {n for n in names if any(fnmatch.fnmatch(n, g) for g in sources if not g.startswith("!"))}
    return {n for n in wanted if not any(fnmatch.fnmatch(n, g[1:]) for g in sources if g.startswith("!"))}


# The pods whose pixi.toml `pods lock` writes (build_files:declarations ships them here).
PIXI_PODS = {"nvidia-python", "jupyter"}


def test_every_pods_build_context_holds_its_pod_yaml_and_pixi_toml() -> None:
    # The engine compares the lock with them before it builds: a stale lock is refused.
    for folder in sorted(p.parent for p in BUILD_FILES.glob("*/Containerfile")):
        made = declared_targets(folder.name)
        assert (
            ":declaration" in made[folder.name]["dependencies"]
        ), f"{folder.name}: pod.yaml not in its context"
        declared = glob_matches(folder, made["declaration"]["sources"])
        assert declared == {"pod.yaml"} | ({"pixi.toml"} if folder.name in PIXI_PODS else set()), folder
