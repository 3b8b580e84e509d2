"""The engine's modules, imported the way the wrapper imports them: from src/engine, with
the checkout's src/python (the contract) put on the path by the engine itself."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import engine, private_storage

sys.path.insert(0, str(Path("src/engine").resolve()))


@pytest.fixture
def temp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shared temp dir, as the engine sees it (machine-wide records live there)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any podman or skopeo process: what is tested must be decided from files."""
    import engine_binary

    def refuse(*args, **kwargs):
        raise AssertionError(f"the engine was asked: {args}")

    monkeypatch.setattr(engine_binary.EngineBinary, "podman", refuse)
    monkeypatch.setattr(engine_binary.EngineBinary, "manifest", refuse)


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A storage of our own holding only rootfs (the image Pants built for this test); the
    engine uses it for the whole module. Builds, gc's prune and `rmi --all` there cannot
    touch what other tests run at the same time in the shared storage."""
    root = tmp_path_factory.mktemp("storage")
    rootfs = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    archive = root / "rootfs.tar"
    engine("save", "--format", "docker-archive", "--output", str(archive), rootfs)
    env = private_storage(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_STORAGE_CONF", env["CONTAINERS_STORAGE_CONF"])
        engine("load", "--input", str(archive))
        # Tagged: saved by ID it loads untagged, a dangling image that gc's prune removes.
        engine("tag", rootfs, "localhost/pods-test-storage/rootfs:fixture")
        env["TEST_ROOTFS"] = rootfs
        yield env
        engine("rmi", "--all", "--force", check=False)
