"""What the in-image installer leaves out of an installed node_modules, and what it keeps."""

import json
from pathlib import Path

from unit.pods.helpers import installer_module


def package(path: Path, **manifest) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "package.json").write_text(json.dumps(manifest))
    return path


def test_prune_drops_other_libc_builds_source_maps_and_object_files(tmp_path):
    nm = tmp_path / "node_modules"
    musl = package(nm / "@vendor" / "tool-linux-x64-musl", name="@vendor/tool-linux-x64-musl", libc=["musl"])
    (musl / "tool").write_bytes(b"m" * 4000)
    glibc = package(nm / "@vendor" / "tool-linux-x64", name="@vendor/tool-linux-x64", libc=["glibc"])
    (glibc / "tool").write_bytes(b"g" * 10)
    anylibc = package(nm / "plain", name="plain")
    (anylibc / "index.js").write_text("module.exports = 1\n")
    (anylibc / "index.js.map").write_bytes(b"s" * 300)
    (anylibc / "world.map").write_text("a data file that only looks like a source map\n")
    native = package(nm / "plain" / "node_modules" / "native", name="native")
    (native / "build" / "Release" / "obj.target").mkdir(parents=True)
    (native / "build" / "Release" / "obj.target" / "binding.o").write_bytes(b"o" * 200)
    (native / "build" / "Release" / "binding.node").write_bytes(b"n" * 20)

    freed = installer_module().prune_npm(str(tmp_path))

    musl_manifest = len(json.dumps({"name": "@vendor/tool-linux-x64-musl", "libc": ["musl"]}))
    assert freed == 4000 + musl_manifest + 300 + 200
    assert not musl.exists()
    assert (glibc / "tool").read_bytes() == b"g" * 10
    assert (anylibc / "index.js").exists() and not (anylibc / "index.js.map").exists()
    assert (anylibc / "world.map").exists()
    assert not (native / "build" / "Release" / "obj.target").exists()
    assert (native / "build" / "Release" / "binding.node").exists()
