"""The justfile's `just pod ...` aliases expand to the intended ./pants commands.

`just` itself need not be installed: the recipe is plain bash reading $1 and $2 (the
justfile sets positional-arguments), so the test runs its body as just would, with a
stand-in ./pants that prints its arguments.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from unit.commands import problems

JUSTFILE = Path("justfile").read_text()
PODS = sorted(p.parent.name for p in Path("build_files").glob("*/pod.yaml"))


def recipe_body(name: str) -> str:
    header = re.search(rf"^{name} [^\n]*:\n", JUSTFILE, re.M)
    assert header, f"justfile: no recipe {name!r}"
    lines = []
    for line in JUSTFILE[header.end() :].splitlines():
        if line and not line.startswith("    "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines)) + "\n"


@pytest.fixture
def run_pod(tmp_path: Path):
    """`just pod ARGS` in a copy of build_files/ whose ./pants only echoes."""
    for pod in PODS:
        (tmp_path / "build_files" / pod).mkdir(parents=True)
        shutil.copy(Path("build_files") / pod / "pod.yaml", tmp_path / "build_files" / pod)
    (tmp_path / "pants").write_text('#!/bin/sh\necho ./pants "$@"\n')
    (tmp_path / "pants").chmod(0o755)
    script = tmp_path / "pod-recipe"
    script.write_text(recipe_body("pod"))

    def run(action: str, variant: str = "") -> subprocess.CompletedProcess:
        # just passes every parameter, defaults included, as a positional argument.
        return subprocess.run(
            ["bash", str(script), action, variant], cwd=tmp_path, capture_output=True, text=True, timeout=30
        )

    return run


def test_the_recipe_reads_its_arguments_positionally():
    assert re.search(r"^set positional-arguments := true$", JUSTFILE, re.M)
    assert re.search(r'^pod action variant="":$', JUSTFILE, re.M)
    assert "{{" not in recipe_body("pod")
    assert recipe_body("pod").startswith("#!/usr/bin/env bash\n")


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (("build", "jupyter"), "./pants package build_files/jupyter:jupyter"),
        (("build", "all"), "./pants package build_files::"),
        (("push", "nvidia-python"), "./pants publish build_files/nvidia-python:nvidia-python"),
        (("push", "all"), "./pants publish build_files::"),
        (
            ("test", "jupyter"),
            "./pants --filter-address-regex=^tests/images/[^:]+:jupyter$ test tests/images::",
        ),
        (("test", "all"), "./pants test tests/images::"),
        (("graph",), "./pants run src/python/pods:pods -- graph"),
    ],
)
def test_each_alias_is_one_pants_command(run_pod, args, command):
    result = run_pod(*args)
    assert (result.returncode, result.stdout, result.stderr) == (0, command + "\n", "")
    assert problems(command, f"just pod {' '.join(args)}") == []


def test_every_pod_can_be_built_by_name(run_pod):
    for pod in PODS:
        assert run_pod("build", pod).stdout == f"./pants package build_files/{pod}:{pod}\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("build", "ghost"), "just pod build: 'ghost' is not a pod; expected one of: {pods} or all"),
        (("push",), "just pod push: '' is not a pod; expected one of: {pods} or all"),
        (("frob", "base"), "just pod: unknown action 'frob'; expected build, push, test or graph"),
    ],
)
def test_bad_input_is_one_line_and_runs_nothing(run_pod, args, message):
    result = run_pod(*args)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == message.format(pods=" ".join(PODS)) + "\n"
