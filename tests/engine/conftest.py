"""The engine's modules, imported the way the wrapper imports them: from src/engine, with
the checkout's src/python (the contract) put on the path by the engine itself."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.private_rootfs import rootfs_in_private_storage

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
    engine uses it for the whole module."""
    with rootfs_in_private_storage(tmp_path_factory.mktemp("storage")) as env:
        yield env


@pytest.fixture
def plain_podman(storage: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(podman, environment) for a build that does not go through the engine (a user's own
    `podman build`), in the test's storage with the engine's containers.conf."""
    podman = shutil.which("podman", path=os.environ.get("PATH", "") + ":/usr/bin:/bin") or "podman"
    conf = str(Path("src/engine/containers.conf").resolve())
    return podman, {**os.environ, **storage, "CONTAINERS_CONF": conf}
