"""`pods verify githubrunner`, for real: rootfs, base and githubrunner rebuilt from a copy of
the working tree with empty caches into an empty storage, compared with the images Pants
built for this test. CI runs it: the chain that fits CI's time."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from images.harness import ENGINE
from pods import verify

CHAIN = ("rootfs", "base", "githubrunner")
# What `pods verify all` still found on 2026-12-02 after the fixes in docs/reproducible.md
# (issue 14): dpkg's, apt's and update-alternatives' logs and ldconfig's aux cache, written
# with the clock inside pods-install's layer; /etc/gitconfig (git-lfs's postinst); the
# machine-id dbus writes; and, in the image config, the fields podman's docker format fills
# per build (working container ID, hostname, parent and each step's "FROM <intermediate>"
# comment). Anything else that differs fails this test.
KNOWN = re.compile(
    r"(var/log/(dpkg|alternatives)\.log|var/log/apt/(history|term)\.log|var/cache/ldconfig/aux-cache"
    r"|etc/gitconfig|etc/machine-id|var/lib/dbus/machine-id)"
)


def differing_paths(lines: list[str]) -> list[str]:
    """Each differing file (`    <path>: <what differs>`, under its layer's lines); a layer
    with more than the report shows counts as `... and N more`, which no pattern knows."""
    out = []
    for line in lines:
        if re.match(r"^ {4}\.\.\. and \d+ more", line):
            out.append(line.strip())
        elif re.match(r"^ {4}\S", line) and ": " in line:
            out.append(line.strip().split(": ", 1)[0])
    return out


def config_differences(lines: list[str]) -> list[str]:
    """What a pod whose layers all match differs in, from `... the image config differs in: A, B`."""
    return [
        part.strip()
        for line in lines
        if "the image config differs in: " in line
        for part in line.split("the image config differs in: ", 1)[1].split(",")
    ]


def test_pods_verify_rebuilds_the_githubrunner_chain_bit_for_bit() -> None:
    # The working tree Pants runs from (./pants exports it): the copy is made from there.
    repo = Path(os.environ["PODS_BUILDROOT"])
    lines: list[str] = []
    # Every differing layer explained: the failure output is the list of what is still
    # non-deterministic, and a passing run reads no layer at all.
    code = verify.verify_chain(
        repo, ENGINE, "githubrunner", None, Path("pods"), out=lines.append, every_layer=True
    )
    report = "\n".join(lines)
    print(report)
    # One verdict per pod, root first, whatever the outcome; then the closing line.
    verdicts = [line.split(":", 1)[0] for line in lines if not line.startswith((" ", "pods verify"))]
    assert verdicts == list(CHAIN), report
    assert lines[-1].startswith("pods verify githubrunner: "), report
    if code != 0:
        unknown = [path for path in differing_paths(lines) if not KNOWN.fullmatch(path)]
        unknown += [
            what for what in config_differences(lines) if not re.fullmatch(r"history\[\d+\] comment", what)
        ]
        assert unknown == [], f"new non-determinism (not among the known sources):\n{report}"
        pytest.xfail(
            "not yet bit-for-bit (issue 14): only the known sources differ: install logs, "
            "ldconfig's aux cache, /etc/gitconfig, machine-id, and the docker-format config's "
            "per-build fields; the report is printed above"
        )
