"""Pants run on a copy of this repo the way a fresh machine would run it: empty caches, no pantsd."""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pods.verify_rebuild import copy_tree

PROFILE = ["--pants-config-files=pants.toml", "--pants-config-files=pants.ci.toml"]
# The test sandbox's own variables would leak into the nested Pants and its launcher.
SANDBOX_PREFIXES = ("PEX_", "PANTS_", "PYTHON", "VIRTUAL_ENV")

_GOAL_EVENT = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) \[DEBUG\] (Starting|Completed): `\w[\w-]*` goal$", re.M)
_COUNTER = re.compile(r"^  (\w+): (\d+)$", re.M)


def source_repo() -> Path:
    """The working tree this test came from (./pants exports it; pants.toml passes it on)."""
    buildroot = os.environ.get("PODS_BUILDROOT")
    if not buildroot:
        raise RuntimeError("PODS_BUILDROOT is unset: run this test through ./pants")
    return Path(buildroot)


def copy_worktree(source: Path, dest: Path) -> Path:
    """Tracked and untracked-but-not-ignored files, as they are on disk (uncommitted edits too):
    the copy `pods verify` rebuilds from."""
    copy_tree(source, dest)
    return dest


@dataclass(frozen=True)
class PantsRun:
    returncode: int
    # Wall time of the whole invocation, Pants' own start-up (imports, rule graph) included.
    seconds: float
    # From the first goal's start to the last goal's end, by Pants' log: the part a cache can
    # shorten. Start-up is the same with or without a cache.
    goal_seconds: float
    counters: dict[str, int]
    log: Path

    def tail(self, lines: int = 60) -> str:
        """The log's warnings (a cache's refusals say why there), then its last lines."""
        text = self.log.read_text().splitlines()
        warnings = [line for line in text if "[WARN]" in line or "[ERROR]" in line]
        return "\n".join([*warnings[:20], "...", *text[-lines:]])

    def lines_with(self, text: str) -> list[str]:
        return [line for line in self.log.read_text().splitlines() if text in line]


def run_pants(
    repo: Path, machine: Path, cache_address: str, args: list[str], settings: dict[str, str] | None = None
) -> PantsRun:
    """`./pants` in `repo` with the remote-cache profile and every local cache under `machine`.

    `settings`: more of the profile's variables (PODS_REMOTE_CACHE_CA, _TOKEN, ...).
    """
    machine.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(SANDBOX_PREFIXES)}
    env.update(settings or {}, PODS_REMOTE_CACHE=cache_address)
    command = [
        "./pants",
        *PROFILE,
        "--no-pantsd",
        "--no-local-cache",
        f"--local-store-dir={machine / 'lmdb_store'}",
        f"--named-caches-dir={machine / 'named_caches'}",
        "--stats-log",
        # Debug level logs each goal's start and end, which goal_seconds is measured from.
        "--level=debug",
        *args,
    ]
    log = machine / "pants.log"
    started = time.monotonic()
    with open(log, "w") as out:
        returncode = subprocess.run(
            command, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    seconds = time.monotonic() - started
    text = log.read_text()
    return PantsRun(
        returncode=returncode,
        seconds=seconds,
        goal_seconds=_goal_seconds(text),
        counters={name: int(count) for name, count in _COUNTER.findall(text)},
        log=log,
    )


def _goal_seconds(text: str) -> float:
    events = [
        timedelta(hours=int(h), minutes=int(m), seconds=float(s)) for h, m, s, _ in _GOAL_EVENT.findall(text)
    ]
    if len(events) < 2:
        return float("nan")
    elapsed = events[-1] - events[0]
    if elapsed < timedelta(0):  # the run crossed midnight
        elapsed += timedelta(days=1)
    return elapsed.total_seconds()
