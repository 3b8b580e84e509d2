"""`pods verify`'s wiring: bad input fails in one line, before anything is copied or built."""

from __future__ import annotations

import tempfile
from pathlib import Path

from pods.cli import main
from unit.pods.helpers import ENGINE, write_pod


def family(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    write_pod(repo, "rootfs", "")
    write_pod(repo, "base", "", parent="rootfs")
    return repo


def test_an_unknown_pod_is_named_with_the_pods_there_are(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("PODS_ENGINE_WRAPPER", str(ENGINE))
    assert main(["verify", "nope", "--repo", str(family(tmp_path))]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["pods: error: pod nope: no such pod; expected one of rootfs, base, or all"]


def test_a_missing_reference_fails_before_the_rebuild_and_leaves_nothing(
    tmp_path, capsys, monkeypatch
) -> None:
    monkeypatch.setenv("PODS_ENGINE_WRAPPER", str(ENGINE))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    info = tmp_path / "info"
    assert main(["verify", "base", "--repo", str(family(tmp_path)), "--info-dir", str(info)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    # The chain's root is looked up first; nothing was copied, and the temp folder is gone.
    assert err[-1] == (
        f"pods: error: {info}/rootfs.docker-info.json: no image_id of rootfs; expected the "
        "docker-info.json of a package run: run `./pants package build_files/rootfs:rootfs`"
    )
    assert not any("copied" in line for line in err)
    assert list(scratch.iterdir()) == []
