"""The layout stage: a pod's own layers written again as layers by owner (chunk_plan).

Input: the settled plain image (the build's layers). Output: an image over the parent's very
layers (same diff IDs) plus the new ones, its config the plain one's with the new diff IDs and
one history step per new layer (the Containerfile's steps stay, as empty steps). The new
layers are written as plain tars in a `dir:` image that names the parent's layers without
holding them, as the settle stage does: skopeo takes those from the storage by diff ID and
stores only the new ones.

The tars are deterministic: members in path order, headers copied from the build's own
(owner, mode, mtime, xattrs such as file capabilities), so the same build gives the same
layers, and a layer whose owner did not change keeps its digest from one release to the next.
The plain image stays, tagged `pods-plain-<key>`: podman's layer cache for the next build, and
what the filesystem-identity test compares against.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tarfile
import tempfile
import time
from pathlib import Path

import chunk_plan
from engine_binary import ENGINE, EngineError, say
from image_config import DIR_TRANSPORT_VERSION, config_bytes
from layer_store import image_layers
from pods_contract import PLAIN_TAG_PREFIX, layer_budget

# Header records the writer derives from the member itself; a copied one could disagree.
DERIVED_PAX = ("path", "linkpath", "size")
HISTORY_COMMENT = "pods: laid out by owner"


def plain_tag(repository: str, key: str) -> str:
    return f"{repository}:{PLAIN_TAG_PREFIX}{key[:12]}"


def rechunk(plain: str, parent: str | None, pod: str, tags: tuple[str, ...], scratch: str) -> str:
    """The ID of the re-chunked image, tagged with `tags`."""
    started = time.monotonic()
    plain = plain.removeprefix("sha256:")
    source = f"containers-storage:{plain}"
    manifest = json.loads(ENGINE.skopeo("inspect", "--raw", source).stdout)
    config = json.loads(ENGINE.skopeo("inspect", "--raw", "--config", source).stdout)
    parent_ids, parent_steps = _parent(parent)
    diff_ids = config["rootfs"]["diff_ids"]
    if diff_ids[: len(parent_ids)] != parent_ids:
        raise EngineError(f"{pod}: the built image does not start with its parent's layers; rebuild it")
    layers = image_layers(plain)[len(parent_ids) :]
    if not layers:
        # Nothing of its own to lay out (only config steps): the plain image is the image.
        if tags:
            ENGINE.podman("tag", plain, *tags)
        return plain
    delta = chunk_plan.Delta()
    for layer in layers:
        delta.add_layer((m, layer.data_path(m) if m.isreg() else None) for m in layer.members())
    owned = chunk_plan.owners(delta, lambda e: e.data.read_bytes() if e.data else b"")
    groups = chunk_plan.layout(delta, owned, layer_budget(pod))

    with tempfile.TemporaryDirectory(prefix="pods-chunks-", dir=os.environ.get("TMPDIR", "/var/tmp")) as tmp:
        written = [_write_layer(delta, group, Path(tmp)) for group in groups]
        history = list(config.get("history") or [])
        own = [dict(step, empty_layer=True) for step in history[parent_steps:]]
        stamp = (history[-1] if history else config).get("created")
        chunks = [
            {
                "created": stamp,
                "created_by": f"pods: layer {i}/{len(groups)}: {group.label}",
                "comment": HISTORY_COMMENT,
            }
            for i, group in enumerate(groups, 1)
        ]
        config = {
            **config,
            "rootfs": {"type": "layers", "diff_ids": parent_ids + [d for d, _ in written]},
            "history": history[:parent_steps] + own + chunks,
        }
        raw = config_bytes(config)
        digest = hashlib.sha256(raw).hexdigest()
        media = (
            manifest["layers"][0]["mediaType"]
            if manifest["layers"]
            else "application/vnd.docker.image.rootfs.diff.tar.gzip"
        )
        manifest["layers"] = manifest["layers"][: len(parent_ids)] + [
            {"mediaType": media, "size": size, "digest": d} for d, size in written
        ]
        manifest["config"] = {**manifest["config"], "digest": f"sha256:{digest}", "size": len(raw)}
        Path(tmp, "version").write_text(DIR_TRANSPORT_VERSION)
        Path(tmp, "manifest.json").write_text(json.dumps(manifest))
        Path(tmp, digest).write_bytes(raw)
        name = tags[0] if tags else scratch
        ENGINE.skopeo("copy", "--quiet", f"dir:{tmp}", f"containers-storage:{name}")
    if len(tags) > 1:
        ENGINE.podman("tag", digest, *tags[1:])
    if not tags:
        ENGINE.podman("untag", digest, name)
    found = ENGINE.local_image(digest)
    if found is None or found.id != digest:
        raise EngineError(f"{pod}: the re-chunked image {digest[:12]} is not in storage")
    say(
        f"{pod}: laid out {len(delta.entries)} paths of {len(layers)} built layers as {len(groups)} layers "
        f"by owner in {time.monotonic() - started:.0f} s"
    )
    return digest


def _parent(parent: str | None) -> tuple[list[str], int]:
    """The parent's diff IDs, and how many history steps it has."""
    if not parent:
        return [], 0
    info = ENGINE.inspect(parent)
    return list(info["RootFS"]["Layers"]), len(info.get("History") or [])


class _Hashing:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, out) -> None:  # type: ignore[no-untyped-def]
        self.out, self.sha, self.size = out, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        self.size += len(data)
        return self.out.write(data)

    def tell(self) -> int:
        return self.size


def _write_layer(delta: chunk_plan.Delta, group: chunk_plan.Group, folder: Path) -> tuple[str, int]:
    """Write one layer's tar into `folder`, named by its digest; (digest, size)."""
    part = folder / "layer.tmp"
    with open(part, "wb") as raw:
        out = _Hashing(raw)
        with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[arg-type]
            for path in group.paths:
                entry = delta.entries[path]
                info = _header(entry.info, path)
                if info.isreg() and entry.data is not None:
                    with open(entry.data, "rb") as data:
                        tar.addfile(info, data)
                else:
                    tar.addfile(info)
            for name, marker in group.markers:
                tar.addfile(_header(marker, name))
    digest = f"sha256:{out.sha.hexdigest()}"
    part.rename(folder / out.sha.hexdigest())
    return digest, out.size


def _header(source: tarfile.TarInfo, name: str) -> tarfile.TarInfo:
    info = copy.copy(source)
    info.name = name
    info.pax_headers = {k: v for k, v in source.pax_headers.items() if k not in DERIVED_PAX}
    if not info.isreg():
        info.size = 0
    return info
