"""The update-cost bench's changes (tests/bench/update_cost.py): what each one edits in a
clone, and the target its download is held to."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.sides import StepFailed
from bench.update_report import MB, Release

DEBIAN_PACKAGE = "tree"
WHEEL_POD = "nvidia-python"
WHEEL = "networkx"
SCRIPT = "build_files/jupyter/start-jupyter.sh"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    pod: str  # whose inputs change
    edit: Callable[[Path], tuple[str, int | None]]  # -> (what changed, wheel size or None)
    relock: bool


def add_debian_package(repo: Path) -> tuple[str, int | None]:
    path = repo / "build_files/base/pod.yaml"
    text = path.read_text()
    edited = re.sub(r"(?m)^(debian:\n  packages:\n)", rf"\1    - {DEBIAN_PACKAGE}\n", text, count=1)
    if edited == text:
        raise StepFailed(f"{path}: no `debian:` / `  packages:` lines to add {DEBIAN_PACKAGE} under")
    path.write_text(edited)
    return f"`{DEBIAN_PACKAGE}` added to base's Debian packages; base and its descendants re-locked.", None


def pin_wheel_back(repo: Path) -> tuple[str, int | None]:
    lock = json.loads((repo / f"build_files/{WHEEL_POD}/pod.lock.json").read_text())
    locked = next(p["version"] for p in lock["pypi"]["packages"] if p["name"] == WHEEL)
    # The versions for the pod's Python, not this script's.
    target = ["--python-version", str(lock["pypi"]["python"]), "--only-binary=:all:"]
    versions = pip(["index", "versions", WHEEL, *target]).split("Available versions:", 1)[-1].split("\n")[0]
    older = [v.strip() for v in versions.split(",") if re.fullmatch(r"[0-9.]+", v.strip())]
    key = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    below = sorted((v for v in older if key(v) < key(locked)), key=key)
    if not below:
        raise StepFailed(f"the package index lists no {WHEEL} release before {locked}")
    version = below[-1]
    path = repo / f"build_files/{WHEEL_POD}/pod.yaml"
    text = path.read_text()
    edited = re.sub(r"(?m)^(  packages:\n(    - .*\n)+)", rf"\g<1>    - {WHEEL}=={version}\n", text, count=1)
    path.write_text(edited)
    with tempfile.TemporaryDirectory() as tmp:
        pip(["download", "--quiet", "--no-deps", *target, "-d", tmp, f"{WHEEL}=={version}"])
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return (
        f"`{WHEEL}` pinned from {locked} to {version} in {WHEEL_POD} (wheel {size / MB:.1f} MB); re-locked.",
        size,
    )


def edit_script(repo: Path) -> tuple[str, int | None]:
    with open(repo / SCRIPT, "a") as f:
        f.write("# update-cost bench: one line more\n")
    return f"a comment line appended to `{SCRIPT}`.", None


SCENARIOS = (
    Scenario("debian", "One Debian package in base", "base", add_debian_package, relock=True),
    Scenario("wheel", "One wheel pin in nvidia-python", WHEEL_POD, pin_wheel_back, relock=True),
    Scenario("script", "jupyter's start script", "jupyter", edit_script, relock=False),
)


def pip(args: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise StepFailed(f"`pip {' '.join(args[:2])}` failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def limit_for(scenario: Scenario, pod: str, new: Release, wheel: int | None) -> tuple[int | None, str]:
    if scenario.name == "debian":
        return int(0.05 * new.size), "5% of the pod's download"
    if scenario.name == "wheel" and wheel is not None:
        return wheel + 50 * MB, f"the wheel's {wheel / MB:.1f} MB + 50 MB"
    if scenario.name == "script" and pod == "jupyter":
        return 5 * MB, "5 MB"
    return None, ""
