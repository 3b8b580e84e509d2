"""The compare step of `pods verify` (the function the command runs) on images built here:
a planted build-time stamp is found and named, and a deterministic build compares equal.

Builds go to podman itself, not through the engine wrapper: the wrapper would adopt the
first image for the second build (same inputs, same key), and two real builds are the point.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import ENGINE
from images.private_rootfs import rootfs_in_private_storage
from pods import verify
from publish.registry import running_registry

CONTAINERS_CONF = str(Path("src/engine/containers.conf").resolve())


@pytest.fixture(scope="module")
def rootfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The rootfs image Pants built for this test, alone in a storage of our own; the
    module's engine uses it."""
    with rootfs_in_private_storage(tmp_path_factory.mktemp("storage")) as env:
        yield env["TEST_ROOTFS"]


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


@pytest.fixture(scope="module")
def stamped(rootfs: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """Two builds of a step that writes the build's clock into a file."""
    root = tmp_path_factory.mktemp("stamped")
    step = "date +%s%N > /etc/pods-stamp"
    return build(root / "one", rootfs, step), build(root / "two", rootfs, step)


def rootfs_layers(rootfs: str) -> int:
    return len(verify.Storage(ENGINE).image(rootfs).diff_ids)


def assert_names_the_stamp(verdict: verify.Verdict, layer: int) -> None:
    report = "\n".join(verdict.lines)
    print(report)  # what `pods verify` prints for it (`-- -s` shows it)
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


def test_a_file_stamped_with_the_build_time_is_named(rootfs: str, stamped: tuple[str, str]) -> None:
    storage = verify.Storage(ENGINE)
    one, two = (storage.image(image) for image in stamped)
    layer = rootfs_layers(rootfs)  # the one layer the RUN made
    assert_names_the_stamp(verify.compare("planted", one, two, inherited=layer), layer)


def test_the_same_step_without_a_stamp_compares_identical(rootfs: str, tmp_path: Path) -> None:
    storage = verify.Storage(ENGINE)
    one, two = (storage.image(build(tmp_path / n, rootfs, "echo same > /etc/x")) for n in ("one", "two"))
    layers = rootfs_layers(rootfs) + 1
    verdict = verify.compare("planted", one, two, inherited=layers - 1)
    assert verdict.ok, "\n".join(verdict.lines)
    assert verdict.lines == (f"planted: reproducible (image {two.image_id[:12]}, {layers} layers)",)


def test_a_registry_reference_is_compared_by_its_config_and_layer_blobs(
    rootfs: str, stamped: tuple[str, str], tmp_path: Path
) -> None:
    # `--against docker://...`: the reference's config digest and config come from the
    # registry, and its layer from a copy of the registry's (gzip) blob.
    storage = verify.Storage(ENGINE)
    with running_registry() as registry:
        ref = registry.ref("planted", "one")
        pushed = subprocess.run(
            ["podman", "push", "--tls-verify=false", stamped[0], f"docker://{ref}"],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF},
        )
        assert pushed.returncode == 0, pushed.stderr
        reference = verify.registry_image(f"docker://{ref}", tmp_path)
        same = verify.compare("planted", reference, storage.image(stamped[0]), rootfs_layers(rootfs))
        assert same.ok, "\n".join(same.lines)
        layer = rootfs_layers(rootfs)
        assert_names_the_stamp(verify.compare("planted", reference, storage.image(stamped[1]), layer), layer)
