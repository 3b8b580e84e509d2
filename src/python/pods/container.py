"""Containers through the repo's engine wrapper (src/engine/docker: podman + repo config)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from pods.errors import PodsError


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def engine(wrapper: str, args: Sequence[str], timeout: float, input: str | None = None) -> Result:
    try:
        proc = subprocess.run([wrapper, *args], input=input, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError:
        raise PodsError(wrapper, "the container engine wrapper is missing") from None
    except subprocess.TimeoutExpired:
        raise PodsError(wrapper, f"`{' '.join(args[:2])}` did not finish within {timeout:.0f} s") from None
    return Result(proc.returncode, proc.stdout, proc.stderr)


def image_exists(wrapper: str, image: str) -> bool:
    return engine(wrapper, ["image", "exists", image], timeout=60).returncode == 0


def run_script(wrapper: str, image: str, script: str, timeout: float) -> Result:
    """Run a shell script as root in a throwaway container of `image` (--rm: nothing is left)."""
    return engine(
        wrapper,
        ["run", "--rm", "-i", "--user", "root", "--network", "host", image, "sh", "-s"],
        timeout=timeout,
        input=script,
    )
