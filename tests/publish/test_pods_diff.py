"""`pods diff`: two real images of one pod, compared in local storage and in a registry.

Each image is rootfs plus a `demo` lock; the second upgrades one Debian package, drops
another and adds a PyPI distribution, in one new layer. A holder of the first downloads
that layer only: uncompressed from local storage, compressed as the registry serves it.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pods_contract
import pytest
from pods.cli import main

from images.harness import engine
from publish.registry import Registry

VENDOR = {"name": "helm", "version": "3.19.0", "url": "https://example.invalid/helm.tgz", "sha256": "12"}


def demo_lock(debian: dict[str, str], pypi: dict[str, str]) -> dict:
    return {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": "demo",
        "parent": "rootfs",
        "debian": {"packages": [{"name": n, "version": v} for n, v in debian.items()]},
        "pypi": {"packages": [{"name": n, "version": v, "hashes": []} for n, v in pypi.items()]},
        "vendor": [VENDOR],
    }


def build(lock: dict) -> str:
    rootfs = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "demo.lock.json").write_text(json.dumps(lock))
    (ctx / "Containerfile").write_text(
        f"FROM {rootfs}\nCOPY demo.lock.json {pods_contract.image_lock_path('demo')}\n"
    )
    iid = (ctx / "iid").resolve()
    tag = f"localhost/pods-test-diff:{uuid.uuid4().hex[:12]}"
    engine("build", "--iidfile", str(iid), "--tag", tag, "--file", str(ctx / "Containerfile"), str(ctx))
    return iid.read_text().strip().removeprefix("sha256:")


@pytest.fixture(scope="module")
def images() -> tuple[str, str]:
    old = build(demo_lock({"curl": "8.14.1-2", "jq": "1.7.1-6"}, {}))
    new = build(demo_lock({"curl": "8.14.1-2+deb13u1"}, {"idna": "3.10"}))
    yield old, new
    engine("rmi", "--force", old, new, check=False)


def diff(capsys: pytest.CaptureFixture, *args: str) -> list[str]:
    code = main(["diff", *args, "--repo", "."])
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out.splitlines()


def test_diff_of_local_images_names_each_change_and_the_new_layer(images, capsys) -> None:
    old, new = images
    lines = diff(capsys, "demo", old, new)
    assert lines[0] == f"pods diff demo: {old} -> {new}"
    assert lines[1:8] == [
        "  added: 1",
        "    pypi idna 3.10",
        "  removed: 1",
        "    debian jq 1.7.1-6",
        "  upgraded: 1",
        "    debian curl 8.14.1-2 -> 8.14.1-2+deb13u1",
        lines[7],
    ]
    # rootfs's own lock is in both images and unchanged: it is not listed at all.
    layers = len(json.loads(engine("image", "inspect", new).stdout)[0]["RootFS"]["Layers"])
    assert re.fullmatch(
        rf"  download: 1 of {layers} layers, [0-9.]+ kB of [0-9.]+ MB \(uncompressed: .*\)", lines[7]
    )


def test_diff_of_registry_images_counts_compressed_blobs(images, capsys, registry: Registry) -> None:
    refs = []
    for image, tag in zip(images, ("1", "2"), strict=True):
        ref = registry.ref("pods/demo", tag)
        engine("push", "--tls-verify=false", "--compression-format", "gzip", image, ref)
        refs.append(f"docker://{ref}")
    lines = diff(capsys, "demo", *refs)
    download = re.fullmatch(
        r"  download: 1 of \d+ layers, ([0-9.]+) (B|kB) of ([0-9.]+) MB \((.*)\)", lines[-1]
    )
    assert download, lines[-1]
    assert download.group(4) == "compressed, as the registry serves them"
    # The new layer is one small JSON file: well under a kilobyte or two once gzipped.
    assert download.group(2) == "B" or float(download.group(1)) < 2


def test_diff_names_a_missing_image_and_what_to_give(capsys) -> None:
    code = main(
        ["diff", "demo", "localhost/pods-test-diff:nope", "localhost/pods-test-diff:nope", "--repo", "."]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("pods: error: localhost/pods-test-diff:nope: no such image in local storage"), err
