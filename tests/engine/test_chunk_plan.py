"""The layout rule (src/engine/chunk_plan.py) and the tar writer (rechunk.py), on members the
tests make: what is merged, who owns what, which layer each path lands in, and that a layer's
bytes depend on its content alone."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import chunk_plan
from chunk_plan import Delta, layout, owners
from rechunk import _write_layer


def member(name: str, kind: bytes = tarfile.REGTYPE, size: int = 0, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mtime = kind, size, linkname, 1764460800
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


class Files:
    """Members of a layer, with their bytes in a folder (as a storage's layer folder holds them)."""

    def __init__(self, root: Path) -> None:
        self.root, self.members = root, []

    def dir(self, name: str) -> Files:
        self.members.append((member(name, tarfile.DIRTYPE), None))
        return self

    def file(self, name: str, data: bytes = b"x") -> Files:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.members.append((member(name, size=len(data)), path))
        return self

    def link(self, name: str, target: str) -> Files:
        self.members.append((member(name, tarfile.LNKTYPE, linkname=target), None))
        return self

    def whiteout(self, name: str) -> Files:
        folder, base = name.rsplit("/", 1)
        self.members.append((member(f"{folder}/.wh.{base}"), None))
        return self


def read(entry: chunk_plan.Entry) -> bytes:
    return entry.data.read_bytes() if entry.data else b""


def test_later_steps_win_and_a_folder_made_again_still_hides_the_parents(tmp_path):
    delta = Delta()
    delta.add_layer(
        Files(tmp_path / "1").dir("etc").file("etc/a").dir("opt").dir("opt/d").file("opt/d/x").members
    )
    delta.add_layer(Files(tmp_path / "2").dir("etc").whiteout("etc/a").dir("opt").whiteout("opt/d").members)
    delta.add_layer(Files(tmp_path / "3").dir("opt").dir("opt/d").file("opt/d/y").members)
    assert "etc/a" not in delta.entries and "etc/a" in delta.whiteouts
    assert "opt/d/x" not in delta.entries and "opt/d/y" in delta.entries
    # opt/d was removed (the parent's copy with it) and made again: an opaque folder.
    assert "opt/d" in delta.opaque and "opt/d" not in delta.whiteouts


def test_owners_from_dpkg_lists_pip_records_npm_vendor_and_bytecode(tmp_path):
    site = "opt/pods/venv/lib/python3.13/site-packages"
    files = (
        Files(tmp_path)
        .file("var/lib/dpkg/info/curl:amd64.list", b"/.\n/bin\n/bin/curl\n/usr/share/doc/curl/copyright\n")
        .file("var/lib/dpkg/info/curl:amd64.md5sums")
        .file("usr/bin/curl")
        .file("usr/share/doc/curl/copyright")
        .file("var/lib/dpkg/info/python3.13.list", b"/usr/lib/python3.13/json/decoder.py\n")
        .file("usr/lib/python3.13/json/decoder.py")
        .file("usr/lib/python3.13/json/__pycache__/decoder.cpython-313.pyc")
        .file(f"{site}/six-1.17.0.dist-info/RECORD", b"six.py,sha256=x,1\nsix-1.17.0.dist-info/RECORD,,\n")
        .file(f"{site}/six.py")
        .file(f"{site}/torch-2.9.dist-info/RECORD", b"torch/__init__.py,,\n")
        .file(f"{site}/torch/lib/libtorch.so")
        .file("opt/pods/npm/base/node_modules/@anthropic-ai/claude-code/cli.js")
        .file("opt/pods/vendor/helm/helm")
        .file("etc/motd")
    )
    delta = Delta()
    delta.add_layer(files.members)
    owned = owners(delta, read)
    assert owned["usr/bin/curl"] == "deb:curl"  # listed as /bin/curl: merged /usr
    assert owned["var/lib/dpkg/info/curl:amd64.md5sums"] == "deb:curl"
    assert owned["usr/lib/python3.13/json/__pycache__/decoder.cpython-313.pyc"] == "deb:python3.13"
    assert owned[f"{site}/six.py"] == owned[f"{site}/six-1.17.0.dist-info/RECORD"] == "py:six"
    assert owned[f"{site}/torch/lib/libtorch.so"] == "py:torch"  # under a folder its RECORD names
    assert (
        owned["opt/pods/npm/base/node_modules/@anthropic-ai/claude-code/cli.js"]
        == "npm:@anthropic-ai/claude-code"
    )
    assert owned["opt/pods/vendor/helm/helm"] == "vendor:helm"
    assert "etc/motd" not in owned


def many_packages(root: Path, names: list[str], big: str | None = None) -> Delta:
    files = Files(root).dir("usr").dir("usr/share").dir("var").dir("var/lib").dir("var/lib/dpkg")
    files.file("var/lib/dpkg/status", b"".join(n.encode() for n in names))
    files.file("etc/hostname.pods")
    for name in names:
        files.file(f"var/lib/dpkg/info/{name}.list", f"/usr/share/{name}/data\n".encode())
        size = chunk_plan.SOLO_MIN + 1 if name == big else 10
        files.file(f"usr/share/{name}/data", name.encode().ljust(size, b"."))
    delta = Delta()
    delta.add_layer(files.members)
    return delta


def placement(groups: list[chunk_plan.Group]) -> dict[str, str]:
    return {p: g.label for g in groups for p in g.paths}


def test_layout_big_owners_alone_small_ones_in_stable_buckets_databases_and_leftovers_last(tmp_path):
    names = [f"pkg{i:02d}" for i in range(30)]
    delta = many_packages(tmp_path / "a", names, big="pkg07")
    groups = layout(delta, owners(delta, read), budget=12)
    labels = [g.label for g in groups]
    assert len(groups) <= 12
    assert labels[0] == "deb:pkg07"
    assert labels[-2:] == ["databases", "leftovers 0"] or labels[-1].startswith("leftovers")
    where = placement(groups)
    assert where["var/lib/dpkg/status"] == "databases"
    assert where["etc/hostname.pods"].startswith("leftovers")
    # Every layer carries the folders above what it holds.
    for group in groups:
        for path in group.paths:
            assert all(a in group.paths for a in chunk_plan.ancestors(path) if a in delta.entries)
    # One more small package moves only its own bucket: every other package stays put.
    more = many_packages(tmp_path / "b", [*names, "newpkg"], big="pkg07")
    moved = placement(layout(more, owners(more, read), budget=12))
    changed = {where[p] for p in where if p.startswith("usr/share/pkg") and moved[p] != where[p]}
    assert not changed


def test_a_hardlink_lands_with_its_target_after_it(tmp_path):
    files = (
        Files(tmp_path)
        .dir("usr")
        .dir("usr/bin")
        .file("usr/bin/zz-real", b"data")
        .link("usr/bin/aa-alias", "usr/bin/zz-real")
    )
    files.file("var/lib/dpkg/info/tool.list", b"/usr/bin/zz-real\n")
    delta = Delta()
    delta.add_layer(files.members)
    groups = layout(delta, owners(delta, read), budget=8)
    group = next(g for g in groups if "usr/bin/zz-real" in g.paths)
    assert group.paths.index("usr/bin/aa-alias") > group.paths.index("usr/bin/zz-real")


def test_a_layer_written_twice_is_the_same_bytes_and_reads_back(tmp_path):
    delta = many_packages(tmp_path / "src", ["a", "b"])
    delta.add_layer(Files(tmp_path / "src2").dir("etc").whiteout("etc/old").members)
    groups = layout(delta, owners(delta, read), budget=8)
    assert groups[0].label == "removals"
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir(), second.mkdir()
    written = [_write_layer(delta, g, first) for g in groups]
    assert written == [_write_layer(delta, g, second) for g in groups]
    digest, _ = written[-1]
    with tarfile.open(first / digest.split(":")[1]) as tar:
        names = tar.getnames()
    assert names == sorted(names, key=lambda n: n.split("/"))
    with tarfile.open(first / written[0][0].split(":")[1]) as tar:
        assert "etc/.wh.old" in tar.getnames()
    data = {}
    for d, _ in written:
        with tarfile.open(first / d.split(":")[1]) as tar:
            for m in tar:
                if m.isreg():
                    data[m.name] = tar.extractfile(m).read()
    assert data["usr/share/a/data"] == b"a".ljust(10, b".")
    assert io.BytesIO(data["var/lib/dpkg/status"]).read() == b"ab"
