"""The compare step of `pods verify` (the function the command runs) on images built here:
a planted build-time stamp is found and named, and a deterministic build compares equal.

Builds go to podman itself, not through the engine wrapper: the wrapper would adopt the
first image for the second build (same inputs, same key), and two real builds are the point.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import ENGINE, engine, private_storage
from pods import verify

CONTAINERS_CONF = str(Path("src/engine/containers.conf").resolve())


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rootfs image Pants built for this test, alone in a storage of our own (builds and
    `rmi --all` there cannot touch the shared storage); the module's engine uses it."""
    root = tmp_path_factory.mktemp("storage")
    image = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    archive = root / "rootfs.tar"
    engine("save", "--format", "docker-archive", "--output", str(archive), image)
    env = private_storage(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_STORAGE_CONF", env["CONTAINERS_STORAGE_CONF"])
        engine("load", "--input", str(archive))
        archive.unlink()
        yield image
        engine("rmi", "--all", "--force", check=False)


def build(context: Path, parent: str, step: str) -> str:
    """`podman build --timestamp 0 --no-cache` of FROM parent + one RUN; the image ID."""
    context.mkdir()
    # rootfs runs as the pod's user; the step writes to /etc.
    (context / "Containerfile").write_text(f"FROM {parent}\nUSER root\nRUN {step}\n")
    iid = context / "iid"
    argv = ["podman", "build", "--timestamp", "0", "--no-cache", "--iidfile", str(iid), str(context)]
    done = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF},
    )
    assert done.returncode == 0, f"podman build failed:\n{done.stdout}\n{done.stderr}"
    return verify.digest_hex(iid.read_text().strip())


def compare_twice(tmp_path: Path, parent: str, step: str) -> tuple[verify.Verdict, verify.Image]:
    """Two builds of one step, compared as `pods verify` compares; and the second image."""
    storage = verify.Storage(ENGINE)
    first, second = (storage.image(build(tmp_path / name, parent, step)) for name in ("one", "two"))
    inherited = len(storage.image(parent).diff_ids)
    return verify.compare("planted", first, second, inherited), second


def test_a_file_stamped_with_the_build_time_is_named(rootfs: str, tmp_path: Path) -> None:
    verdict, _ = compare_twice(tmp_path, rootfs, "date +%s%N > /etc/pods-stamp")
    report = "\n".join(verdict.lines)
    print(report)  # what `pods verify` prints for it (`-- -s` shows it)
    layer = len(verify.Storage(ENGINE).image(rootfs).diff_ids)  # the one layer the RUN made
    assert not verdict.ok, report
    assert verdict.first == f"planted layer {layer}", report
    assert verdict.lines[0].startswith("planted: DIFFERS: image "), report
    assert f"layers differ: {layer} (of {layer + 1} / {layer + 1})" in verdict.lines[0], report
    assert verdict.lines[1].startswith(f"  first differing layer {layer}: sha256:"), report
    assert "date +%s%N > /etc/pods-stamp" in verdict.lines[2], report
    # Only the stamp differs: --timestamp 0 pins every mtime, so /etc itself matches.
    assert verdict.lines[3] == "  paths that differ in it: 1", report
    assert verdict.lines[4].startswith("    etc/pods-stamp: content sha256 "), report
    assert len(verdict.lines) == 5, report


def test_the_same_step_without_a_stamp_compares_identical(rootfs: str, tmp_path: Path) -> None:
    verdict, second = compare_twice(tmp_path, rootfs, "echo same > /etc/x")
    layers = len(verify.Storage(ENGINE).image(rootfs).diff_ids) + 1
    assert verdict.ok, "\n".join(verdict.lines)
    assert verdict.lines == (f"planted: reproducible (image {second.image_id[:12]}, {layers} layers)",)
