"""pods.layers on layer tars made here: what each kind of difference is reported as."""

from __future__ import annotations

import io
import tarfile

from pods import layers


def tar_bytes(*entries: tuple[str, dict], compression: str = "") -> bytes:
    """A tar of (name, fields) entries; `data` is a regular file's content."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=f"w:{compression}") as tar:
        for name, spec in entries:
            spec = dict(spec)
            data = spec.pop("data", None)
            info = tarfile.TarInfo(name)
            info.mtime = spec.pop("mtime", 0)
            for key, value in spec.items():
                setattr(info, key, value)
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


def manifest(*entries: tuple[str, dict], compression: str = "") -> dict[str, layers.Entry]:
    # A stream, as a layer arrives from `podman save` or a registry blob: no seeking.
    return layers.manifest(io.BufferedReader(io.BytesIO(tar_bytes(*entries, compression=compression))))


ETC = ("etc", {"type": tarfile.DIRTYPE, "mode": 0o755})
HOSTS = ("etc/hosts", {"data": b"127.0.0.1 localhost\n", "mode": 0o644})


def test_each_entry_records_what_a_filesystem_gets() -> None:
    found = manifest(
        ("./etc/", {"type": tarfile.DIRTYPE, "mode": 0o755}),
        ("./etc/hosts", {"data": b"abc", "mode": 0o600, "uid": 1000, "gid": 100, "mtime": 1700000000}),
        ("./etc/link", {"type": tarfile.SYMTYPE, "linkname": "hosts"}),
        ("./etc/hard", {"type": tarfile.LNKTYPE, "linkname": "./etc/hosts"}),
        ("./etc/.wh.gone", {"data": b""}),
    )
    assert sorted(found) == ["etc", "etc/.wh.gone", "etc/hard", "etc/hosts", "etc/link"]
    assert found["etc/hosts"] == layers.Entry(
        "file",
        0o600,
        1000,
        100,
        3,
        "",
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",  # sha256("abc")
        1700000000,
    )
    assert found["etc"].type == "dir" and found["etc"].size == 0
    assert (found["etc/link"].type, found["etc/link"].linkname) == ("symlink", "hosts")
    # A hardlink names its target as a path of the same tar, normalized like every name.
    assert (found["etc/hard"].type, found["etc/hard"].linkname, found["etc/hard"].sha256) == (
        "hardlink",
        "etc/hosts",
        "",
    )
    assert found["etc/.wh.gone"].type == "file"


def test_a_compressed_layer_reads_the_same_as_a_plain_one() -> None:
    assert manifest(ETC, HOSTS, compression="gz") == manifest(ETC, HOSTS)


def test_identical_layers_have_no_differences() -> None:
    assert layers.diff(manifest(ETC, HOSTS), manifest(ETC, HOSTS)) == []


def test_added_and_removed_paths() -> None:
    old = manifest(ETC, HOSTS)
    new = manifest(ETC, ("etc/motd", {"data": b"hi\n"}))
    changes = layers.diff(old, new)
    assert [(c.path, c.what) for c in changes] == [("etc/hosts", "removed"), ("etc/motd", "added")]
    assert [c.describe() for c in changes] == ["etc/hosts: removed", "etc/motd: added"]


def test_changed_content_names_digest_and_size() -> None:
    old = manifest(ETC, ("etc/pods-stamp", {"data": b"1700000000\n", "mtime": 5}))
    new = manifest(ETC, ("etc/pods-stamp", {"data": b"1700000123456\n", "mtime": 5}))
    [change] = layers.diff(old, new)
    assert change.path == "etc/pods-stamp" and change.what == "changed"
    assert [name for name, _, _ in change.fields] == ["sha256", "size"]
    assert change.describe().startswith("etc/pods-stamp: content sha256 ")
    assert "size 11 -> 14" in change.describe()


def test_same_content_other_mode_owner_and_mtime() -> None:
    old = manifest(("etc/hosts", {"data": b"x", "mode": 0o644, "mtime": 0}))
    new = manifest(("etc/hosts", {"data": b"x", "mode": 0o600, "uid": 1000, "mtime": 1764633600}))
    [change] = layers.diff(old, new)
    assert change.fields == (("mode", 0o644, 0o600), ("uid", 0, 1000), ("mtime", 0, 1764633600))
    assert change.describe() == "etc/hosts: mode 0o644 -> 0o600, owner uid 0 -> 1000, mtime 0 -> 1764633600"


def test_symlink_target_and_hardlink_target() -> None:
    old = manifest(
        HOSTS,
        ("etc/a", {"data": b"a"}),
        ("etc/link", {"type": tarfile.SYMTYPE, "linkname": "hosts"}),
        ("etc/hard", {"type": tarfile.LNKTYPE, "linkname": "etc/hosts"}),
    )
    new = manifest(
        HOSTS,
        ("etc/a", {"data": b"a"}),
        ("etc/link", {"type": tarfile.SYMTYPE, "linkname": "/etc/hosts"}),
        ("etc/hard", {"type": tarfile.LNKTYPE, "linkname": "etc/a"}),
    )
    changes = {c.path: c for c in layers.diff(old, new)}
    assert set(changes) == {"etc/hard", "etc/link"}
    assert changes["etc/link"].fields == (("linkname", "hosts", "/etc/hosts"),)
    assert changes["etc/hard"].fields == (("linkname", "etc/hosts", "etc/a"),)
    assert changes["etc/link"].describe() == "etc/link: link target 'hosts' -> '/etc/hosts'"


def test_a_file_that_became_a_hardlink_changes_type() -> None:
    old = manifest(HOSTS, ("etc/copy", {"data": b"127.0.0.1 localhost\n"}))
    new = manifest(HOSTS, ("etc/copy", {"type": tarfile.LNKTYPE, "linkname": "etc/hosts"}))
    [change] = layers.diff(old, new)
    assert change.fields[0] == ("type", "file", "hardlink")
    assert ("linkname", "", "etc/hosts") in change.fields


def test_a_path_stored_twice_is_its_last_entry() -> None:
    found = manifest(("etc/x", {"data": b"first"}), ("etc/x", {"data": b"second!"}))
    assert found["etc/x"].size == 7


def test_summary_stops_at_the_limit_and_counts_the_rest() -> None:
    old = manifest(*[(f"f{i:02}", {"data": b"a"}) for i in range(25)])
    new = manifest(*[(f"f{i:02}", {"data": b"b"}) for i in range(25)])
    lines = layers.summarize(layers.diff(old, new), 20)
    assert len(lines) == 21
    assert lines[0].startswith("f00: content sha256 ")
    assert lines[-1] == "... and 5 more"


def test_content_differences_come_before_mtime_only_ones() -> None:
    old = manifest(
        ("a", {"data": b"x", "mtime": 1}), ("b", {"data": b"x"}), ("c", {"data": b"x", "mtime": 1})
    )
    new = manifest(
        ("a", {"data": b"x", "mtime": 2}), ("b", {"data": b"y"}), ("c", {"data": b"x", "mtime": 2})
    )
    changes = layers.diff(old, new)
    assert [layers.mtime_only(c) for c in changes] == [True, False, True]
    assert [c.path for c in layers.content_first(changes)] == ["b", "a", "c"]
