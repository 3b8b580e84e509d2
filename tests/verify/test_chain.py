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
    # --every-layer: on a difference, every differing layer is named with its files, so a
    # failure here is the list of what is non-deterministic again.
    code = verify.verify_chain(
        repo, ENGINE, "githubrunner", None, Path("pods"), out=lines.append, every_layer=True
    )
    report = "\n".join(lines)
    print(report)
    # One verdict per pod, root first; then the closing line.
    verdicts = [line.split(":", 1)[0] for line in lines if not line.startswith((" ", "pods verify"))]
    assert verdicts == list(CHAIN), report
    assert lines[-1].startswith("pods verify githubrunner: "), report
    # Same image ID, so the same config and every layer, for each pod of the chain.
    assert code == 0, f"not bit-for-bit:\n{report}"
