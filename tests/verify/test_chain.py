"""`pods verify githubrunner`, for real: rootfs, base and githubrunner rebuilt from a copy of
the working tree with empty caches into an empty storage, compared with the images Pants
built for this test. CI runs it: the chain that fits CI's time."""

from __future__ import annotations

import os
from pathlib import Path

from images.harness import ENGINE
from pods import verify

CHAIN = ("rootfs", "base", "githubrunner")


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
    assert code == 0, f"the rebuild is not bit-for-bit the reference:\n{report}"
