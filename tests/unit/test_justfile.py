"""The justfile's `just pod ...` aliases expand to the intended ./pants commands.

The real `just` runs them (PyPI's rust-just wheel, pinned in 3rdparty/python, the way the
README's users install it), in a copy of the justfile next to a stand-in ./pants that
prints its arguments.
"""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from unit.commands import problems

JUSTFILE = Path("justfile").read_text()
PODS = sorted(p.parent.name for p in Path("build_files").glob("*/pod.yaml"))


def just_binary() -> Path:
    """The `just` the rust-just wheel installs as a script (it has no module to import)."""
    try:
        dist = importlib.metadata.distribution("rust-just")
    except importlib.metadata.PackageNotFoundError:
        raise AssertionError(
            "rust-just is not installed: tests/unit/BUILD must depend on 3rdparty/python:reqs#rust-just"
        ) from None
    [path] = [dist.locate_file(f) for f in dist.files or () if f.name == "just"]
    return Path(path).resolve()


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
    (tmp_path / "justfile").write_text(JUSTFILE)
    just = str(just_binary())

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([just, "pod", *args], cwd=tmp_path, capture_output=True, text=True, timeout=30)

    return run


def test_just_lists_the_pod_recipe(tmp_path: Path):
    (tmp_path / "justfile").write_text(JUSTFILE)
    result = subprocess.run(
        [str(just_binary()), "--list"], cwd=tmp_path, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\s+pod action variant=\"\"\s+# build, push or test a pod", result.stdout, re.M)
    assert recipe_body("pod").startswith("#!/usr/bin/env bash\n")


def test_just_is_the_wheels_own_release():
    result = subprocess.run([str(just_binary()), "--version"], capture_output=True, text=True, timeout=30)
    assert result.stdout.strip() == f"just {importlib.metadata.version('rust-just')}"


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
