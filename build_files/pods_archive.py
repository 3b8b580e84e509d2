"""pods-install's vendor downloads: fetched, unpacked (the members a lock's `install.paths`
select, streamed), owned and linked onto PATH.

Shipped beside pods-install (/usr/local/lib/pods in every image); standard library only,
plus the image's zstd for .zst archives (Python's tarfile reads no zstd before 3.14).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import tarfile
import urllib.request
import zipfile


class ArchiveError(Exception):
    """A download or an archive that cannot be used as the lock says; the message is one line."""


def download(url: str, dest: str, cafile: str | None) -> None:
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=120) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as e:
        raise ArchiveError(f"could not download {url}: {e}") from e


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


def chown_tree(dest: str, owner: str) -> None:
    uid, _, gid = str(owner).partition(":")
    for root, dirs, files in os.walk(dest):
        for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(entry, int(uid), int(gid or uid))


def link_bins(dest: str, bins: list[str], bin_dir: str) -> None:
    for rel in bins:
        src = os.path.join(dest, rel)
        os.chmod(src, 0o755)
        link = os.path.join(bin_dir, os.path.basename(rel))
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(src, link)
