"""The in-image installer's vendor downloads against a loopback server: what a build that
can reach an upstream does with the digests the lock quotes (sha256, or sha512 only)."""

import hashlib
import io
import os
import shutil
import subprocess
import tarfile

import pytest

from unit.pods.helpers import Route, installer_module


@pytest.fixture
def installer(tmp_path, monkeypatch):
    module = installer_module()
    monkeypatch.setattr(module, "VENDOR_ROOT", str(tmp_path / "vendor"))
    monkeypatch.setattr(module, "BIN", str(tmp_path / "bin"))
    (tmp_path / "bin").mkdir()
    return module


def tarball(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    return out.getvalue()


def item(server, name, body, **digests):
    server.routes[f"/{name}.tar.gz"] = Route(200, body)
    return {"name": name, "version": "1.0", "url": f"{server.url}/{name}.tar.gz", **digests}


def test_sha512_only_archive_installs_and_links_its_command(installer, server, tmp_path):
    body = tarball({"./dotnet": b"#!/bin/sh\necho 8.0.425\n", "./sdk/8.0.425/x.dll": b"x"})
    entry = item(server, "dotnet-sdk", body, sha512=hashlib.sha512(body).hexdigest())
    entry["install"] = {"kind": "tar", "bin": ["dotnet"]}
    assert installer.install_vendor("base", [entry], excluded=set()) == []
    assert (tmp_path / "vendor/dotnet-sdk/sdk/8.0.425/x.dll").read_bytes() == b"x"
    link = tmp_path / "bin/dotnet"
    assert os.readlink(link) == str(tmp_path / "vendor/dotnet-sdk/dotnet")
    assert subprocess.run([link], capture_output=True, text=True).stdout == "8.0.425\n"


def test_digest_mismatch_is_refused(installer, server):
    body = tarball({"helm": b"helm"})
    entry = item(server, "helm", body, sha512="0" * 128)
    entry["install"] = {"kind": "tar", "bin": ["helm"]}
    with pytest.raises(installer.InstallError) as info:
        installer.install_vendor("base", [entry], excluded=set())
    assert str(info.value).startswith(
        f"pod base: vendor helm 1.0: sha512 mismatch for {entry['url']}: "
        f"expected {'0' * 128} (build_files/base/pod.lock.json), found {hashlib.sha512(body).hexdigest()}; "
    )


def test_entry_without_a_digest_is_refused(installer, server):
    entry = item(server, "helm", tarball({"helm": b"helm"}))
    entry["install"] = {"kind": "tar"}
    with pytest.raises(
        installer.InstallError, match="build_files/base/pod.lock.json holds no sha256 or sha512"
    ):
        installer.install_vendor("base", [entry], excluded=set())


def test_excluded_component_is_not_downloaded(installer, server):
    entry = item(server, "k6", b"", sha256="0" * 64)
    assert installer.install_vendor("devops", [entry], excluded={"k6"}) == ["k6"]
    assert server.requests == []


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd command, as the images have it")
def test_zstd_tarball_unpacks_only_the_wanted_paths_owned_as_asked(installer, server, tmp_path):
    raw = tarball({"T-1/lib/libnvinfer.so.11": b"lib", "T-1/bin/trtexec": b"x", "T-1/data/big": b"d"}, "w")
    body = subprocess.run(["zstd", "-q", "-c"], input=raw, capture_output=True, check=True).stdout
    server.routes["/T-1.tar.zst"] = Route(200, body)
    entry = {
        "name": "tensorrt",
        "version": "1",
        "url": f"{server.url}/T-1.tar.zst",
        "sha256": hashlib.sha256(body).hexdigest(),
        "install": {
            "kind": "tar",
            "paths": ["T-1/lib", "T-1/bin"],
            "bin": ["T-1/bin/trtexec"],
            "owner": f"{os.getuid()}:{os.getgid()}",
        },
    }
    installer.install_vendor("nvidia", [entry], excluded=set())
    root = tmp_path / "vendor/tensorrt/T-1"
    assert (root / "lib/libnvinfer.so.11").read_bytes() == b"lib"
    assert (root / "bin/trtexec").exists() and not (root / "data").exists()
    assert (tmp_path / "bin/trtexec").is_symlink()
