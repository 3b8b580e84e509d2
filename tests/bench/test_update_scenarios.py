"""The update-cost bench's edits and targets (tests/bench/update_scenarios.py), and which pods
a change reaches (update_sides.py), on files the tests make."""

from pathlib import Path

import pytest
from bench.sides import StepFailed
from bench.update_report import MB, Blob, Release
from bench.update_scenarios import SCENARIOS, add_debian_package, edit_script, limit_for
from bench.update_sides import affected, depth_of

TREE = {
    "rootfs": None,
    "base": "rootfs",
    "nvidia": "base",
    "nvidia-python": "nvidia",
    "jupyter": "nvidia-python",
}


def test_the_debian_edit_adds_one_package_first_under_debian_packages(tmp_path: Path) -> None:
    pod = tmp_path / "build_files/base/pod.yaml"
    pod.parent.mkdir(parents=True)
    pod.write_text(
        "description: d\ndebian:\n  packages:\n    # tools\n    - curl\npypi:\n  packages:\n    - six\n"
    )
    add_debian_package(tmp_path)
    lines = pod.read_text().splitlines()
    assert lines[:5] == ["description: d", "debian:", "  packages:", "    - tree", "    # tools"]
    assert lines.count("    - tree") == 1
    pod.write_text("description: d\n")
    with pytest.raises(StepFailed, match="no `debian:`"):
        add_debian_package(tmp_path)


def test_the_script_edit_appends_one_line(tmp_path: Path) -> None:
    script = tmp_path / "build_files/jupyter/start-jupyter.sh"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    edit_script(tmp_path)
    assert script.read_text().splitlines()[1:] == ["# update-cost bench: one line more"]


def test_targets_per_scenario_and_pod() -> None:
    new = Release((Blob("a", 1000 * MB),))
    debian, wheel, script = SCENARIOS
    assert limit_for(debian, "jupyter", new, None) == (50 * MB, "5% of the pod's download")
    assert limit_for(wheel, "jupyter", new, 2 * MB)[0] == 52 * MB
    assert limit_for(script, "jupyter", new, None)[0] == 5 * MB
    assert limit_for(script, "nvidia", new, None) == (None, "")


def test_a_change_reaches_the_pod_and_its_descendants_a_generation_at_a_time() -> None:
    assert affected(TREE, "nvidia", list(TREE)) == ["nvidia", "nvidia-python", "jupyter"]
    assert affected(TREE, "nvidia", ["rootfs", "base"]) == []
    assert [depth_of(TREE, p) for p in TREE] == [0, 1, 2, 3, 4]
