"""`pods affected` and `pods ci-matrix` on a throwaway git copy of the real family."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from unit.pods.helpers import error_line

from pods.cli import main
from pods.graph import load_graph

# The family's declarations and locks, shipped into the sandbox by this test's dependencies.
REAL_BUILD_FILES = Path("build_files")
# Every expected list below comes from the family tree the Containerfiles declare.
FAMILY = load_graph(REAL_BUILD_FILES.parent)
# Pods with image tests of their own (githubrunner's are left out on purpose: a pod without
# its own tests still gets its ancestors').
POD_TESTED_DIRS = tuple(pod for pod in FAMILY.topological() if pod != "githubrunner")


def and_below(pod: str) -> list[str]:
    """The pod and its descendants, parents first: what an edit of the pod selects."""
    return [pod, *FAMILY.descendants(pod)]


def depth_waves(pods: list[str]) -> list[list[str]]:
    """The pods (a pod and its descendants) grouped by generation: the CI waves they need."""
    depth = {pod: len(FAMILY.ancestors(pod)) for pod in pods}
    top = min(depth.values())
    return [[p for p in pods if depth[p] == top + i] for i in range(max(depth.values()) - top + 1)]


def image_tests(pod: str) -> list[str]:
    """tests/images/<ancestor>:<pod> for the pod and each ancestor with image tests, root first."""
    lineage = [*reversed(FAMILY.ancestors(pod)), pod]
    return [f"tests/images/{a}:{pod}" for a in lineage if a in POD_TESTED_DIRS]


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=pods test", "-c", "user.email=pods@test.invalid", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The real build_files/ committed on `main`, with a branch `change` checked out."""
    shutil.copytree(REAL_BUILD_FILES, tmp_path / "build_files")
    (tmp_path / "pants.toml").write_text("")
    for pod in POD_TESTED_DIRS:
        # Image test folders, as tests/images/ has them.
        (tmp_path / "tests/images" / pod).mkdir(parents=True)
        (tmp_path / "tests/images" / pod / "BUILD").write_text(f'pod_image_tests("{pod}")\n')
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "the family")
    git(tmp_path, "checkout", "-q", "-b", "change")
    return tmp_path


def edit(repo: Path, path: str, commit: bool = True) -> None:
    file = repo / path
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a") as f:
        f.write("\n# an edit\n" if not path.endswith(".json") else "\n")
    if commit:
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"edit {path}")


def pods_cli(repo: Path, capsys, *args: str) -> str:
    code = main([*args, "--repo", str(repo)])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


def plan(repo: Path, capsys, since: str = "main") -> dict:
    return json.loads(pods_cli(repo, capsys, "ci-matrix", "--changed-since", since))


def wave_pods(doc: dict) -> list[list[str]]:
    return [[job["pod"] for job in wave["include"]] for wave in doc["waves"]]


def test_leaf_edit_selects_only_that_leaf(repo, capsys):
    edit(repo, "build_files/jupyter/Containerfile")
    doc = plan(repo, capsys)
    assert wave_pods(doc) == [["jupyter"]]
    assert doc["waves"][0]["include"] == [
        {
            "pod": "jupyter",
            "parent": FAMILY.parent_of("jupyter"),
            "target": "build_files/jupyter:jupyter",
            "tests": " ".join(image_tests("jupyter")),
            # Its parent is not rebuilt: the job pulls it by input key.
            "parent_built": False,
        }
    ]


def test_base_edit_selects_base_and_every_descendant_in_waves(repo, capsys):
    edit(repo, "build_files/base/Containerfile")
    doc = plan(repo, capsys)
    assert doc["pods"] == and_below("base")
    assert wave_pods(doc) == depth_waves(and_below("base"))
    first, *later = (job for wave in doc["waves"] for job in wave["include"])
    assert first["parent"] == FAMILY.parent_of("base") and first["parent_built"] is False
    assert all(job["parent_built"] for job in later)
    assert doc["wave_count"] == len(depth_waves(list(FAMILY.topological())))


def test_pin_edit_selects_only_that_pod(repo, capsys):
    edit(repo, "build_files/devops/pod.lock.json")
    doc = plan(repo, capsys)
    assert wave_pods(doc) == [["devops"]]
    assert doc["waves"][0]["include"][0]["tests"] == " ".join(image_tests("devops"))


def test_a_pod_without_image_tests_of_its_own_gets_its_ancestors(repo, capsys):
    edit(repo, "build_files/githubrunner/runner-entrypoint.sh")
    [job] = plan(repo, capsys)["waves"][0]["include"]
    assert job["tests"] == " ".join(image_tests("githubrunner"))
    assert "tests/images/githubrunner:githubrunner" not in job["tests"]


def test_shared_file_selects_every_pod_from_the_root(repo, capsys):
    edit(repo, "build_files/pods-install.py")
    assert wave_pods(plan(repo, capsys)) == depth_waves(list(FAMILY.topological()))


@pytest.mark.parametrize(
    "path", ["src/engine/docker", "pants.toml", "build_files/newdir/x.sh", "src/python/pods_contract.py"]
)
def test_what_reaches_every_image_selects_every_pod(repo, capsys, path):
    edit(repo, path)
    assert plan(repo, capsys)["pods"] == list(FAMILY.topological())


def test_files_outside_the_images_and_their_tests_select_nothing(repo, capsys):
    edit(repo, "README.md")
    edit(repo, "tests/unit/pods/test_graph.py")
    assert plan(repo, capsys) == {
        "pods": [],
        "wave_count": len(depth_waves(list(FAMILY.topological()))),
        "waves": [],
    }
    assert pods_cli(repo, capsys, "affected", "--changed-since", "main") == ""


def test_an_image_test_edit_selects_the_pods_it_tests(repo, capsys):
    # base's tests run against base and everything below it (each child is tested as
    # everything it inherits); their images are unchanged, so only the tests do work.
    edit(repo, "tests/images/base/test_base.py")
    assert plan(repo, capsys)["pods"] == and_below("base")
    assert pods_cli(repo, capsys, "affected", "--changed-since", "main", "--print", "tests").split() == [
        test for pod in and_below("base") for test in image_tests(pod)
    ]


def test_the_image_test_harness_selects_every_pod(repo, capsys):
    edit(repo, "tests/images/harness.py")
    assert plan(repo, capsys)["pods"] == list(FAMILY.topological())


def test_uncommitted_and_untracked_changes_count(repo, capsys):
    edit(repo, "build_files/playwright/start-vnc.sh", commit=False)
    (repo / "build_files/githubrunner/new-script.sh").write_text("#!/bin/sh\n")
    assert plan(repo, capsys)["pods"] == [
        p for p in FAMILY.topological() if p in {"githubrunner", "playwright"}
    ]


def test_a_file_moved_out_of_a_pod_counts_for_both_pods(repo, capsys):
    git(repo, "mv", "build_files/jupyter/start-jupyter.sh", "build_files/playwright/start-jupyter.sh")
    git(repo, "commit", "-q", "-m", "move")
    assert plan(repo, capsys)["pods"] == [p for p in FAMILY.topological() if p in {"playwright", "jupyter"}]


def test_only_the_branch_counts_not_what_its_base_gained_since(repo, capsys):
    git(repo, "checkout", "-q", "main")
    edit(repo, "build_files/nvidia/Containerfile")
    git(repo, "checkout", "-q", "change")
    edit(repo, "build_files/devops/pod.yaml")
    assert plan(repo, capsys)["pods"] == ["devops"]


def test_affected_prints_targets_tests_and_json(repo, capsys):
    edit(repo, "build_files/nvidia-python/pod.yaml")
    targets = [f"build_files/{pod}:{pod}" for pod in and_below("nvidia-python")]
    assert pods_cli(repo, capsys, "affected", "--changed-since", "main").splitlines() == targets
    assert (
        json.loads(pods_cli(repo, capsys, "affected", "--changed-since", "main", "--format", "json"))
        == targets
    )
    assert pods_cli(repo, capsys, "affected", "--changed-since", "main", "--print", "tests").split() == [
        test for pod in and_below("nvidia-python") for test in image_tests(pod)
    ]


def test_all_selects_every_pod_without_git(repo, capsys):
    shutil.rmtree(repo / ".git")
    assert pods_cli(repo, capsys, "affected", "--all", "--print", "pods").split() == list(
        FAMILY.topological()
    )


def test_unknown_ref_is_one_line_naming_the_option(repo, capsys):
    assert main(["ci-matrix", "--changed-since", "no-such-branch", "--repo", str(repo)]) == 1
    assert error_line(capsys.readouterr().err) == (
        "pods: error: --changed-since no-such-branch: expected a commit, branch or tag this clone has; "
        "fetch it first (in CI: actions/checkout with fetch-depth: 0)"
    )


def test_github_output_names_every_wave_and_leaves_unused_ones_empty(repo, capsys, tmp_path):
    edit(repo, "build_files/nvidia/pod.yaml")
    output = tmp_path / "github_output"
    output.write_text("earlier=1\n")
    pods_cli(repo, capsys, "ci-matrix", "--changed-since", "main", "--github-output", str(output))
    lines = dict(line.split("=", 1) for line in output.read_text().splitlines())
    every_wave = [f"wave{i + 1}" for i in range(len(depth_waves(list(FAMILY.topological()))))]
    assert list(lines) == ["earlier", "matrix", *every_wave]
    needed = depth_waves(and_below("nvidia"))
    assert [
        [job["pod"] for job in json.loads(lines[w])["include"]] for w in every_wave[: len(needed)]
    ] == needed
    assert all(lines[w] == "" for w in every_wave[len(needed) :])


def test_image_test_names_are_those_the_prelude_makes(repo):
    """pods' tests/images/<ancestor>:<pod> names and prelude.py's pod_image_tests agree."""
    from pods.affected import image_test_targets
    from pods.graph import load_graph

    made: set[str] = set()
    namespace: dict = {}
    exec(compile((REAL_BUILD_FILES / "prelude.py").read_text(), "prelude.py", "exec"), namespace)
    for tested in POD_TESTED_DIRS:

        def python_tests(name: str, _tested: str = tested, **_fields) -> None:
            made.add(f"tests/images/{_tested}:{name}")

        namespace["python_tests"] = python_tests
        namespace["pod_image_tests"](tested)
    graph = load_graph(repo)
    assert {t for pod in graph.pods for t in image_test_targets(graph, pod, repo)} == made
