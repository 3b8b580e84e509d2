"""Which pods a change affects, from the files it touches.

A file in build_files/<pod>/ is an input of that pod only; anything else that reaches every
image (the top of build_files/, the engine wrapper, the build arguments in pants.toml and
the launcher that sets PODS_EXCLUSIONS) affects every pod. A pod's descendants build FROM
it, so they are affected too.

A change to tests/images/<pod>/ affects that pod and its descendants (each is tested as
everything it inherits) and the rest of tests/images/ (harness, fixtures) affects every
pod: their images are unchanged, so the build is a cache hit and the publish uploads
nothing, but their tests must run.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from pods.errors import PodsError
from pods.graph import BUILD_FILES, PodGraph

IMAGE_TESTS = "tests/images"
# Over-selecting costs little (an unchanged image's input key is already in the cache
# registry, so it is pulled, not built); under-selecting would publish a stale image.
SHARED_PREFIXES = ("src/engine/",)
# pods_contract ships into every image (beside pods-install) and the engine reads it.
SHARED_FILES = ("pants.toml", "pants", "src/python/pods_contract.py")


def pod_target(pod: str) -> str:
    return f"{BUILD_FILES}/{pod}:{pod}"


def touched_pods(graph: PodGraph, files: Iterable[str]) -> set[str]:
    """The pods whose own inputs changed, before descendants are added."""
    pods = set(graph.pods)
    touched: set[str] = set()
    for file in files:
        parts = file.split("/")
        if parts[0] == BUILD_FILES and len(parts) > 2 and parts[1] in pods:
            touched.add(parts[1])
        elif file.startswith(f"{IMAGE_TESTS}/") and len(parts) > 3 and parts[2] in pods:
            touched.add(parts[2])
        elif (
            parts[0] == BUILD_FILES
            or file.startswith(f"{IMAGE_TESTS}/")
            or file in SHARED_FILES
            or file.startswith(SHARED_PREFIXES)
        ):
            # Includes folders of build_files/ that are not pods (a new shared folder, or a
            # pod being removed): their reach is unknown, so assume all.
            return pods
    return touched


def affected_pods(graph: PodGraph, files: Iterable[str]) -> tuple[str, ...]:
    """Touched pods and all their descendants, parents before children."""
    touched = touched_pods(graph, files)
    return tuple(p for p in graph.topological() if p in touched or touched & set(graph.ancestors(p)))


def image_test_targets(graph: PodGraph, pod: str, repo: Path) -> tuple[str, ...]:
    """tests/images/<ancestor>:<pod> for the pod and each ancestor with image tests, root first.

    The names are those build_files/prelude.py's pod_image_tests makes: a child is tested
    as everything it inherits.
    """
    lineage = (*reversed(graph.ancestors(pod)), pod)
    return tuple(f"{IMAGE_TESTS}/{a}:{pod}" for a in lineage if (repo / IMAGE_TESTS / a / "BUILD").is_file())


def _git(repo: Path, *args: str, what: str) -> list[str]:
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=120)
    except FileNotFoundError:
        raise PodsError("git", "not found on PATH; `pods affected` needs git to list changed files") from None
    if result.returncode != 0:
        raise PodsError(what, f"git {' '.join(args)} failed: {result.stderr.strip() or result.returncode}")
    return [line for line in result.stdout.splitlines() if line]


def changed_files(repo: Path, since: str) -> tuple[str, ...]:
    """Files changed on this branch since it left `since`, plus uncommitted and untracked ones.

    Paths are relative to `repo` (which may sit below the git root). --no-renames lists
    both sides of a move, so a file moved out of a pod still counts against that pod.
    """
    where = f"--changed-since {since}"
    resolved = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"{since}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    if resolved.returncode != 0:
        raise PodsError(
            where,
            "expected a commit, branch or tag this clone has; fetch it first "
            "(in CI: actions/checkout with fetch-depth: 0)",
        )
    diff = ("diff", "--name-only", "--no-renames", "--relative")
    files = {
        *_git(repo, *diff, f"{since}...HEAD", what=where),
        *_git(repo, *diff, "HEAD", what="uncommitted changes"),
        *_git(repo, "ls-files", "--others", "--exclude-standard", what="untracked files"),
    }
    return tuple(sorted(files))
