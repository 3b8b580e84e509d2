"""The rootfs image Pants built for a test, alone in an engine storage of the test's own.

Builds, gc's prune and `rmi --all` there cannot touch what other tests run at the same time
in the shared storage.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import engine, private_storage


@contextlib.contextmanager
def rootfs_in_private_storage(root: Path) -> Iterator[dict[str, str]]:
    """The storage's environment (TEST_ROOTFS: the image's ID), in effect for the engine
    while the context lasts; everything in the storage is removed at its end."""
    rootfs = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    archive = root / "rootfs.tar"
    engine("save", "--format", "docker-archive", "--output", str(archive), rootfs)
    env = private_storage(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_STORAGE_CONF", env["CONTAINERS_STORAGE_CONF"])
        engine("load", "--input", str(archive))
        archive.unlink()
        # Tagged: saved by ID it loads untagged, a dangling image that gc's prune removes.
        engine("tag", rootfs, "localhost/pods-test-storage/rootfs:fixture")
        env["TEST_ROOTFS"] = rootfs
        try:
            yield env
        finally:
            engine("rmi", "--all", "--force", check=False)
