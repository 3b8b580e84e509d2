"""A second machine with empty caches gets this repo's lint and unit-test results from a
remote cache (BuildGrid on loopback) instead of running them."""

from __future__ import annotations

import os
import subprocess

import pytest

from scaling import buildgrid
from scaling.nested_pants import PROFILE, PantsRun, copy_worktree, run_pants, source_repo

# Fast and deterministic: no network tests, no image builds.
UNIT_TESTS = [
    "tests/unit/test_lineage.py",
    "tests/unit/pods/test_graph.py",
    "tests/unit/pods/test_lockfile.py",
    "tests/unit/pods/test_podspec.py",
    "tests/unit/pods/test_versions.py",
]
GOALS = ["lint", "test"]
CACHE_COUNTERS = [
    "remote_cache_requests",
    "remote_cache_requests_cached",
    "remote_cache_requests_uncached",
    "remote_cache_read_errors",
    "remote_cache_write_successes",
    "remote_cache_write_errors",
    "remote_cache_total_time_saved_ms",
    "local_execution_requests",
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    return copy_worktree(source_repo(), tmp_path_factory.mktemp("checkout") / "repo")


@pytest.fixture(scope="module")
def remote_cache(tmp_path_factory):
    with buildgrid.serving(buildgrid.installed(), tmp_path_factory.mktemp("buildgrid")) as address:
        yield address


def summary(name: str, run: PantsRun) -> str:
    counters = ", ".join(f"{c}={run.counters.get(c, '?')}" for c in CACHE_COUNTERS)
    return f"{name}: {run.seconds:.1f}s wall, {run.goal_seconds:.1f}s in goals; {counters}"


def test_the_profile_without_a_cache_address_stops_before_pants_starts(repo):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PODS_REMOTE_CACHE", "PANTS_"))}
    ran = subprocess.run(
        ["./pants", *PROFILE, "--version"], cwd=repo, env=env, capture_output=True, text=True, timeout=120
    )
    assert ran.returncode == 1
    assert "pants.ci.toml needs PODS_REMOTE_CACHE" in ran.stderr


def test_a_second_machine_reads_lint_and_unit_tests_from_the_remote_cache(
    repo, tmp_path, remote_cache, capsys
):
    # Both runs use one copy of the repo, so only the caches differ between the two "machines".
    first = run_pants(repo, tmp_path / "machine-1", remote_cache, [*GOALS, *UNIT_TESTS])
    second = run_pants(repo, tmp_path / "machine-2", remote_cache, [*GOALS, *UNIT_TESTS])
    with capsys.disabled():
        print(
            f"\n{summary('first run (writes the cache)', first)}\n{summary('second run (reads it)', second)}"
        )

    assert first.returncode == 0, first.tail()
    assert first.counters["remote_cache_write_successes"] > 0, first.tail()
    assert first.counters["remote_cache_write_errors"] == 0, first.tail()

    assert second.returncode == 0, second.tail()
    for path in UNIT_TESTS:
        assert any("(cached remotely)" in line for line in second.lines_with(f"✓ {path}:")), second.tail()
    assert second.counters["remote_cache_requests"] > 0, second.tail()
    assert (
        second.counters["remote_cache_requests_cached"] == second.counters["remote_cache_requests"]
    ), second.tail()
    assert (
        second.goal_seconds < first.goal_seconds / 2
    ), f"{summary('first', first)}\n{summary('second', second)}"


def test_the_profile_reaches_a_cache_that_wants_tls_and_a_token(repo, tmp_path):
    venv = buildgrid.installed()
    credentials = buildgrid.make_credentials(venv, tmp_path / "credentials")
    settings = {"PODS_REMOTE_CACHE_CA": str(credentials.ca), "PODS_REMOTE_CACHE_TOKEN": credentials.token}
    with buildgrid.serving(venv, tmp_path / "buildgrid", credentials) as address:
        run = run_pants(repo, tmp_path / "machine", address, ["lint", "tests/unit/test_lineage.py"], settings)

    assert run.returncode == 0, run.tail()
    assert run.counters["remote_cache_write_successes"] > 0, run.tail()
    assert (
        run.counters["remote_cache_write_errors"] == run.counters["remote_cache_read_errors"] == 0
    ), run.tail()
