"""The images `pods verify` compares, read the same way whether they sit in an engine storage
(the user's, or the private one the rebuild filled) or are served by a registry: the IDs and
config to compare at once, and the layers' file manifests only when a difference must be
explained, since reading a layer means streaming the whole image (pods.layers).
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pods_contract import KEY_LABEL

from pods import layers
from pods.container import _skopeo, registry_manifest, tls_args
from pods.errors import PodsError

REGISTRY = "docker://"

Manifest = dict[str, layers.Entry]
# Manifests of the asked layers (by index), read in one pass over the image.
LayerReader = Callable[[Sequence[int]], dict[int, Manifest]]


@dataclass(frozen=True)
class Image:
    """What is compared of one image, and a way to read its layers."""

    ref: str
    image_id: str  # the config digest, hex
    key: str | None  # the input-key label
    diff_ids: tuple[str, ...]
    steps: tuple[str, ...]  # the history's created_by of each layer (empty-layer steps left out)
    config: dict[str, Any]  # what else the config digest covers, named for a report
    read_layers: LayerReader = field(compare=False, repr=False)

    def manifests(self, indexes: Sequence[int]) -> dict[int, Manifest]:
        """An index the image does not have reads as an empty layer."""
        present = [i for i in indexes if i < len(self.diff_ids)]
        found = self.read_layers(present) if present else {}
        return {i: found.get(i, {}) for i in indexes}


def digest_hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _image(ref: str, image_id: str, config: dict[str, Any], reader: LayerReader) -> Image:
    """From an OCI image config (or podman's inspect, which has the same parts under other names)."""
    inner = config.get("config") or config.get("Config") or {}
    labels = inner.get("Labels") or config.get("Labels") or {}
    history = config.get("history") or config.get("History") or []
    diff_ids = (config.get("rootfs") or config.get("RootFS") or {}).get("diff_ids") or (
        config.get("RootFS") or {}
    ).get("Layers", [])
    steps = tuple(h.get("created_by", "") for h in history if not h.get("empty_layer"))
    compared = {
        "created": config.get("created") or config.get("Created"),
        "history": [(h.get("created"), h.get("created_by"), h.get("comment")) for h in history],
        "labels": labels,
        "config": {k: v for k, v in inner.items() if k != "Labels"},
    }
    return Image(ref, digest_hex(image_id), labels.get(KEY_LABEL), tuple(diff_ids), steps, compared, reader)


# --- local images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    """An engine storage: the user's (env None) or a private one (its environment)."""

    wrapper: str
    env: Mapping[str, str] | None = None

    def run(self, args: Sequence[str], timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.wrapper, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(self.env) if self.env is not None else None,
        )

    def image(self, ref: str) -> Image:
        found = self.run(["image", "inspect", ref], timeout=120)
        if found.returncode != 0:
            raise PodsError(
                ref, "no such image in this engine storage; name a local image or a docker:// reference"
            )
        info = json.loads(found.stdout)[0]
        diff_ids = info["RootFS"]["Layers"]
        return _image(ref, info["Id"], info, lambda indexes: self.saved_layers(info["Id"], diff_ids, indexes))

    def saved_layers(
        self, image_id: str, diff_ids: Sequence[str], indexes: Sequence[int]
    ) -> dict[int, Manifest]:
        """The asked layers' manifests, read out of one `save --format docker-archive` (which
        names each layer <diff ID>.tar, bottom first), no file of it extracted.

        podman writes the whole archive to a file in $TMPDIR before it streams it, and does
        not remove that file when it is stopped early (as here, once the layers are read): a
        temp folder of ours holds it and goes with it. Left in /var/tmp, a few runs filled
        the disk with 3.4 GB copies of base."""
        wanted: dict[str, list[int]] = {}
        for i in indexes:
            wanted.setdefault(f"{digest_hex(diff_ids[i])}.tar", []).append(i)
        with tempfile.TemporaryFile() as errors, tempfile.TemporaryDirectory(
            prefix="pods-verify-save-", dir="/var/tmp"
        ) as spool:
            proc = subprocess.Popen(
                [self.wrapper, "save", "--format", "docker-archive", image_id],
                stdout=subprocess.PIPE,
                stderr=errors,
                env={**(self.env if self.env is not None else os.environ), "TMPDIR": spool},
            )
            assert proc.stdout is not None
            try:
                found = _read_wanted(proc.stdout, wanted)
                if not wanted:
                    return found
            finally:
                proc.terminate()
                proc.wait()
            errors.seek(0)
            why = errors.read().decode(errors="replace").strip().splitlines()
            raise PodsError(
                image_id[:12], f"`save` gave no layer {', '.join(wanted)}: {why[-1] if why else 'no output'}"
            )

    def remove_all(self) -> None:
        self.run(["rmi", "--all", "--force"], timeout=900)


def _read_wanted(stream: Any, wanted: dict[str, list[int]]) -> dict[int, Manifest]:
    """The manifests of the `wanted` members of an archive stream, by layer index; each one
    found is taken out of `wanted`, and reading stops once none is left."""
    found: dict[int, Manifest] = {}
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if member.name in wanted and member.isreg():
                read = layers.manifest(archive.extractfile(member))  # type: ignore[arg-type]
                found.update((i, read) for i in wanted.pop(member.name))
                if not wanted:
                    break
    return found


# --- registry images ------------------------------------------------------------------------


def registry_image(ref: str, scratch: Path) -> Image:
    """A `docker://REGISTRY/REPO:TAG` image: its config digest and config from the registry;
    its layers copied (uncompressed) into `scratch` only if a layer must be read."""
    name = ref.removeprefix(REGISTRY)
    manifest = registry_manifest(name)
    if manifest.returncode != 0:
        raise PodsError(ref, f"cannot read its manifest: {manifest.last_error_line('no output')}")
    document = json.loads(manifest.stdout)
    if "config" not in document:
        raise PodsError(ref, "is a multi-platform index, not an image; name the linux/amd64 image's digest")
    config = _skopeo_json(["inspect", "--config", *tls_args(name), ref], ref)
    copied = scratch / "registry-image"

    def read_layers(indexes: Sequence[int]) -> dict[int, Manifest]:
        if not copied.exists():
            argv = [_skopeo(), "copy", "--quiet", "--dest-decompress", *tls_args(name), ref, f"dir:{copied}"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise PodsError(ref, f"`skopeo copy` failed: {done.stderr.strip().splitlines()[-1:]}")
        blobs = json.loads((copied / "manifest.json").read_text())["layers"]
        out = {}
        for i in indexes:
            with open(copied / digest_hex(blobs[i]["digest"]), "rb") as blob:
                out[i] = layers.manifest(blob)
        return out

    return _image(ref, document["config"]["digest"], config, read_layers)


def _skopeo_json(args: list[str], ref: str) -> dict[str, Any]:
    done = subprocess.run([_skopeo(), *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()
        raise PodsError(ref, f"`skopeo {args[0]}` failed: {last[-1] if last else 'no output'}")
    return json.loads(done.stdout)
