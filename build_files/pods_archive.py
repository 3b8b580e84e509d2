"""pods-install's archive unpacking: the members a lock's `install.paths` select, streamed.

Shipped beside pods-install (/usr/local/lib/pods in every image); standard library only,
plus the image's zstd for .zst archives (Python's tarfile reads no zstd before 3.14).
"""

from __future__ import annotations

import os
import subprocess
import tarfile
import zipfile


class ArchiveError(Exception):
    """An archive that cannot be unpacked as the lock says; the message is one line."""


def selected(name: str, wanted: list[str]) -> bool:
    """Whether an archive member is under one of the install's `paths` (all are, without)."""
    name = name.removeprefix("./").rstrip("/")
    return not wanted or any(name == p.rstrip("/") or name.startswith(p.rstrip("/") + "/") for p in wanted)


def unpack_tar(archive: str, dest: str, wanted: list[str]) -> None:
    # Streamed: a multi-GB archive is never unpacked twice; zstd decompresses into the stream.
    zstd = None
    if archive.endswith((".zst", ".tzst")):
        zstd = subprocess.Popen(["zstd", "-q", "-d", "-c", archive], stdout=subprocess.PIPE)
        tf = tarfile.open(fileobj=zstd.stdout, mode="r|")
    else:
        tf = tarfile.open(archive, mode="r|*")
    with tf:
        for member in tf:
            if selected(member.name, wanted):
                tf.extract(member, dest, filter="data")
    if zstd is not None and zstd.wait() != 0:
        raise ArchiveError(f"zstd could not decompress {os.path.basename(archive)}")


def unpack_zip(archive: str, dest: str, wanted: list[str]) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(dest, members=[n for n in zf.namelist() if selected(n, wanted)])
        # zipfile drops permission bits; keep the executable ones the archive records.
        for info in zf.infolist():
            mode = info.external_attr >> 16
            if mode and os.path.exists(os.path.join(dest, info.filename)):
                os.chmod(os.path.join(dest, info.filename), mode & 0o7777)


def unpack(kind: str, archive: str, dest: str, wanted: list[str]) -> None:
    if kind == "tar":
        unpack_tar(archive, dest, wanted)
    elif kind == "zip":
        unpack_zip(archive, dest, wanted)
    else:
        raise ArchiveError(f"unknown install kind {kind!r}")
