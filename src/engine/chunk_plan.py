"""What goes in which layer when a pod's own changes are laid out again by owner.

A plain build leaves one huge `RUN pods-install` layer: one changed Debian package and a user
downloads all of it again. Here the pod's own layers are merged into one change set (the
files it added or changed, and what it removed from its parent), every file is given to its
owner (a Debian package, a Python distribution, an npm package, a vendor component), and the
owners are laid out as layers by a rule that depends on each owner alone:

    removals | big owners, one layer each | small owners in K hash buckets | databases | leftovers

so a changed package moves one layer, and the files every install rewrites (dpkg's status,
ld.so.cache, npm's lock) move only the small database layer. Deletions go first: a whiteout
hides the parent's file, never a file of the pod's own.

Pure: members in, layout out (rechunk.py reads and writes the tars).
"""

from __future__ import annotations

import csv
import hashlib
import io
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
# An owner this big (bytes, uncompressed) may have a layer of its own.
SOLO_MIN = 8 * 1024 * 1024
# Leftover files split by top folders into this many layers (the start script an edit moves
# stays in a small one).
LEFTOVER_LAYERS = 2
# Debian 13 is merged-/usr: a package may list /bin/x, which the layer stores as usr/bin/x.
MERGED_USR = {"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"}
# Files every install of any package rewrites: they move one small layer, not every bucket.
DATABASE = re.compile(
    r"(var/lib/dpkg/(status|status-old|available|diversions|statoverride|triggers/.*|lock.*)"
    r"|var/lib/apt/extended_states|var/cache/debconf/.*|var/cache/ldconfig/.*|etc/ld\.so\.cache"
    r"|opt/pods/npm/[^/]+/(package-lock\.json|package\.json|node_modules/\.package-lock\.json))"
)
DPKG_INFO = re.compile(r"var/lib/dpkg/info/(?P<pkg>[^/:]+)(:[^/.]+)?\.(?P<ext>[^/]+)")
DIST_INFO = re.compile(r"(?P<site>.+/(site|dist)-packages)/(?P<dist>[^/]+)\.(dist|egg)-info/RECORD")
NPM_PACKAGE = re.compile(r"(opt/pods/npm/[^/]+/node_modules/(@[^/]+/)?[^/@.][^/]*)(/|$)")
VENDOR = re.compile(r"opt/pods/vendor/([^/]+)")
# Bytecode compiled after the install (Debian's py3compile) belongs to its source's owner.
PYC = re.compile(r"(?P<folder>.*)/__pycache__/(?P<module>[^/.]+)\.[^/]*\.pyc")


@dataclass
class Entry:
    info: tarfile.TarInfo
    data: Path | None = None  # where a regular file's bytes are
    link_data: Path | None = None  # a hardlink's target's bytes, when it was linked


@dataclass
class Delta:
    """A pod's own layers merged: what each path ends up as, what it removed, what it
    replaced whole (opaque folders)."""

    entries: dict[str, Entry] = field(default_factory=dict)
    whiteouts: dict[str, tarfile.TarInfo] = field(default_factory=dict)
    opaque: dict[str, tarfile.TarInfo] = field(default_factory=dict)

    def add_layer(self, members: Iterable[tuple[tarfile.TarInfo, Path | None]]) -> None:
        for info, data in members:
            path = normal(info.name)
            folder, base = posixpath.split(path)
            if base == OPAQUE:
                self._drop_below(folder)
                self.opaque[folder] = info
                continue
            if base.startswith(WHITEOUT):
                gone = posixpath.join(folder, base[len(WHITEOUT) :])
                self.entries.pop(gone, None)
                self._drop_below(gone)
                self.whiteouts[gone] = info
                continue
            info.name = path
            old = self.entries.get(path)
            if old is not None and old.info.isdir() and not info.isdir():
                self._drop_below(path)
            if path in self.whiteouts:
                # Removed by an earlier step, made again by a later one: as a folder it
                # must still hide the parent's content.
                del self.whiteouts[path]
                if info.isdir():
                    self.opaque[path] = _marker(info, path)
            entry = Entry(info, data if info.isreg() else None)
            if info.islnk():
                target = self.entries.get(normal(info.linkname))
                entry.link_data = target.data if target else None
            self.entries[path] = entry

    def _drop_below(self, folder: str) -> None:
        prefix = folder + "/" if folder else ""
        for path in [p for p in self.entries if p.startswith(prefix)]:
            del self.entries[path]
        for path in [p for p in self.whiteouts if p.startswith(prefix)]:
            del self.whiteouts[path]


def normal(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def _marker(folder: tarfile.TarInfo, path: str) -> tarfile.TarInfo:
    marker = tarfile.TarInfo(posixpath.join(path, OPAQUE))
    marker.mtime, marker.uid, marker.gid, marker.mode = folder.mtime, 0, 0, 0o644
    return marker


# --- owners ---------------------------------------------------------------------------------


def owners(delta: Delta, read: Callable[[Entry], bytes]) -> dict[str, str]:
    """Owner of each non-folder path of the delta (unowned paths are absent)."""
    owned: dict[str, str] = {}
    # Python first: pip's RECORD names the pyc files it compiled, dpkg's lists do not.
    site_tops: dict[str, str] = {}
    for path, entry in sorted(delta.entries.items()):
        found = DIST_INFO.fullmatch(path)
        if not found or not entry.info.isreg():
            continue
        owner = "py:" + found["dist"].split("-")[0].lower().replace("_", "-")
        site = found["site"]
        for row in csv.reader(io.StringIO(read(entry).decode("utf-8", "replace"))):
            if row and row[0]:
                file = normal(posixpath.join(site, row[0]))
                owned.setdefault(file, owner)
                if file.startswith(site + "/"):
                    top = file[len(site) + 1 :].split("/", 1)[0]
                    if "/" in file[len(site) + 1 :] and not top.endswith((".dist-info", ".egg-info")):
                        site_tops.setdefault(f"{site}/{top}/", owner)
    for path, entry in sorted(delta.entries.items()):
        info = DPKG_INFO.fullmatch(path)
        if not info:
            continue
        owner = "deb:" + info["pkg"]
        owned.setdefault(path, owner)
        if info["ext"] == "list" and entry.info.isreg():
            for line in read(entry).decode("utf-8", "replace").splitlines():
                owned.setdefault(merged_usr(normal(line)), owner)
    for path, entry in delta.entries.items():
        if path in owned or entry.info.isdir():
            continue
        npm = NPM_PACKAGE.match(path)
        vendor = VENDOR.match(path)
        if npm:
            owned[path] = "npm:" + npm[1].split("/node_modules/", 1)[1]
        elif vendor:
            owned[path] = "vendor:" + vendor[1]
        else:
            pyc = PYC.fullmatch(path)
            source = owned.get(f"{pyc['folder']}/{pyc['module']}.py") if pyc else None
            top = source or next((o for prefix, o in site_tops.items() if path.startswith(prefix)), None)
            if top:
                owned[path] = top
    return {p: o for p, o in owned.items() if p in delta.entries and not delta.entries[p].info.isdir()}


def merged_usr(path: str) -> str:
    head, _, rest = path.partition("/")
    return f"{MERGED_USR[head]}/{rest}" if head in MERGED_USR and rest else path


# --- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Group:
    label: str  # what the layer holds, for the image's history
    paths: tuple[str, ...]  # delta paths, folders (ancestors) included, in tar order
    markers: tuple[tuple[str, tarfile.TarInfo], ...] = ()  # whiteouts: (tar name, header)


def stable_bucket(name: str, count: int) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count


def layout(delta: Delta, owned: dict[str, str], budget: int) -> list[Group]:
    """The delta's layers, at most `budget` of them, each path in exactly one (folders, as
    ancestors, in every layer that holds something below them)."""
    buckets_n = max(1, (budget - 2 - LEFTOVER_LAYERS) // 2)
    solo_n = max(0, budget - 2 - LEFTOVER_LAYERS - buckets_n)
    sizes: dict[str, int] = {}
    for path, owner in owned.items():
        sizes[owner] = sizes.get(owner, 0) + delta.entries[path].info.size
    big = sorted((o for o, s in sizes.items() if s >= SOLO_MIN), key=lambda o: (-sizes[o], o))[:solo_n]
    solo = set(big)

    slot: dict[str, str] = {}
    for path, entry in delta.entries.items():
        if entry.info.isdir() or entry.info.islnk():
            continue
        owner = owned.get(path)
        if DATABASE.fullmatch(path):
            slot[path] = "3 databases"
        elif owner in solo:
            slot[path] = f"1 {owner}"
        elif owner:
            slot[path] = f"2 bucket {stable_bucket(owner, buckets_n):02d}"
        else:
            top = "/".join(path.split("/")[:3])
            slot[path] = f"4 leftovers {stable_bucket(top, LEFTOVER_LAYERS)}"
    # A hardlink goes where its target goes (a tar can link only within itself); one whose
    # target a later step replaced is written as a copy of what it linked.
    for path, entry in delta.entries.items():
        if entry.info.islnk():
            target = normal(entry.info.linkname)
            same = target in delta.entries and delta.entries[target].data == entry.link_data
            slot[path] = slot.get(target, "4 leftovers 0") if same else slot.get(path, "4 leftovers 0")
            if not same:
                entry.info.type, entry.info.linkname = tarfile.REGTYPE, ""
                entry.data = entry.link_data
                entry.info.size = entry.link_data.stat().st_size if entry.link_data else 0
    # Folders with nothing below them in any layer go with their owner, else leftovers.
    covered = {a for p in slot for a in ancestors(p)}
    for path, entry in delta.entries.items():
        if entry.info.isdir() and path not in covered:
            owner = owned.get(path)
            slot[path] = f"2 bucket {stable_bucket(owner, buckets_n):02d}" if owner else "4 leftovers 0"

    members: dict[str, set[str]] = {}
    for path, name in slot.items():
        members.setdefault(name, set()).add(path)
    groups = []
    markers = [(whiteout_name(p), info) for p, info in delta.whiteouts.items()]
    markers += [(posixpath.join(p, OPAQUE), info) for p, info in delta.opaque.items()]
    if markers:
        # Removals first: an opaque folder's own entry, and the folders above every marker.
        folders = {a for name, _ in markers for a in ancestors(name) if a in delta.entries}
        folders |= {p for p in delta.opaque if p in delta.entries}
        groups.append(
            Group(
                "removals",
                tuple(sorted(folders, key=_tar_order)),
                tuple(sorted(markers, key=lambda m: _tar_order(m[0]))),
            )
        )
    for name in sorted(members):
        paths = members[name]
        folders = {a for p in paths for a in ancestors(p) if a in delta.entries}
        ordered = sorted(folders | {p for p in paths if not delta.entries[p].info.islnk()}, key=_tar_order)
        ordered += sorted((p for p in paths if delta.entries[p].info.islnk()), key=_tar_order)
        groups.append(Group(name.split(" ", 1)[1], tuple(ordered)))
    return groups


def whiteout_name(path: str) -> str:
    folder, base = posixpath.split(path)
    return posixpath.join(folder, WHITEOUT + base)


def ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def _tar_order(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))
