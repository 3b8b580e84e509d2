"""The repo's own locks: every pod.yaml is valid and every lock is fresh (`pods lock --check`).

Needs build_files/*/{pod.yaml,Containerfile,pod.lock.json,pixi.*} where the test runs;
see docs/NOTES-locks.md for the targets that put them in a Pants sandbox.
"""

from pathlib import Path

from pods.cli import main


def test_every_lock_in_the_repo_is_fresh(capsys):
    assert sorted(
        Path("build_files").glob("*/pod.yaml")
    ), "expected build_files/*/pod.yaml where the test runs"
    code = main(["lock", "--check", "--repo", "."])
    out = capsys.readouterr().out
    assert code == 0, out
