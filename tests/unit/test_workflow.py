""".github/workflows/pods.yml: it parses, its waves follow the family tree, its commands exist."""

from __future__ import annotations

import re
from pathlib import Path

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
