"""What a layer tar holds, file by file, and how two of them differ.

A manifest maps each path in a layer tar to what a filesystem would get from it: type,
mode, owner, size, link target, content digest and mtime. It is read from a stream (a pipe
from `podman save`, a blob from a registry) and nothing is ever extracted, so a layer of
many GB costs one pass and no disk. Entries are taken as the tar states them: a hardlink
records its target and no content, and an overlay whiteout (`.wh.NAME`) is a file like any
other, so two layers that delete differently also differ here.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import IO

_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Entry:
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str  # a symlink's or hardlink's target ("" otherwise)
    sha256: str  # a regular file's content digest ("" otherwise)
    mtime: int


# How each field is named when two entries differ, in the order a reader cares about.
FIELD_NAMES = {
    "type": "type",
    "sha256": "content sha256",
    "size": "size",
    "mode": "mode",
    "uid": "owner uid",
    "gid": "owner gid",
    "linkname": "link target",
    "mtime": "mtime",
}


def normalize(name: str) -> str:
    """`./usr/bin/` and `usr/bin` are one path; the root itself is `.`."""
    while name.startswith("./"):
        name = name[2:]
    return name.strip("/") or "."


def _digest(data: IO[bytes] | None) -> str:
    h = hashlib.sha256()
    if data is not None:
        while chunk := data.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def entry_of(member: tarfile.TarInfo, data: IO[bytes] | None) -> Entry:
    kind = _TYPES.get(member.type, f"tar type {member.type!r}")
    is_file = kind == "file"
    return Entry(
        type=kind,
        mode=member.mode,
        uid=member.uid,
        gid=member.gid,
        size=member.size if is_file else 0,
        # A hardlink names a path in the same tar, spelled as tar spells paths.
        linkname=normalize(member.linkname)
        if kind == "hardlink"
        else member.linkname
        if kind == "symlink"
        else "",
        sha256=_digest(data) if is_file else "",
        mtime=int(member.mtime),
    )


def manifest_of(tar: tarfile.TarFile) -> dict[str, Entry]:
    """Every path of an open tar; a path stored twice is what its last entry says, as on
    extraction. Works on stream mode ("r|*") tars: each member is read as it passes."""
    out: dict[str, Entry] = {}
    for member in tar:
        data = tar.extractfile(member) if member.isreg() else None
        out[normalize(member.name)] = entry_of(member, data)
    return out


def manifest(stream: IO[bytes]) -> dict[str, Entry]:
    """The manifest of a tar read from `stream` (plain, gzip, bzip2 or xz), front to back."""
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        return manifest_of(tar)


@dataclass(frozen=True)
class Change:
    path: str
    what: str  # added, removed, changed
    fields: tuple[tuple[str, object, object], ...] = ()  # (field, old, new) when changed

    def describe(self) -> str:
        if self.what != "changed":
            return f"{self.path}: {self.what}"
        parts = [f"{FIELD_NAMES[name]} {_show(name, a)} -> {_show(name, b)}" for name, a, b in self.fields]
        return f"{self.path}: " + ", ".join(parts)


def _show(field: str, value: object) -> str:
    if field == "mode":
        return oct(int(value))  # type: ignore[call-overload]
    if field == "sha256":
        return str(value)[:12] or "-"
    if field == "linkname":
        return repr(value)
    return str(value)


def entry_changes(old: Entry, new: Entry) -> tuple[tuple[str, object, object], ...]:
    differing = {f.name for f in fields(Entry) if getattr(old, f.name) != getattr(new, f.name)}
    return tuple((name, getattr(old, name), getattr(new, name)) for name in FIELD_NAMES if name in differing)


def diff(old: dict[str, Entry], new: dict[str, Entry]) -> list[Change]:
    """Every path whose entry differs, by path; a layer of identical entries gives []."""
    out = []
    for path in sorted(old.keys() | new.keys()):
        if path not in new:
            out.append(Change(path, "removed"))
        elif path not in old:
            out.append(Change(path, "added"))
        elif old[path] != new[path]:
            out.append(Change(path, "changed", entry_changes(old[path], new[path])))
    return out


def mtime_only(change: Change) -> bool:
    """Differs in nothing but its mtime: a clock's mark, not a content difference."""
    return change.what == "changed" and all(name == "mtime" for name, _, _ in change.fields)


def content_first(changes: Iterable[Change]) -> list[Change]:
    """Changes of content or metadata before mtime-only ones, each group by path: a build
    whose every mtime moved still shows its real differences first."""
    return sorted(changes, key=mtime_only)


def summarize(changes: Iterable[Change], limit: int) -> list[str]:
    """At most `limit` lines naming changes, and one more saying how many were left out."""
    changes = list(changes)
    lines = [c.describe() for c in changes[:limit]]
    if len(changes) > limit:
        lines.append(f"... and {len(changes) - limit} more")
    return lines
