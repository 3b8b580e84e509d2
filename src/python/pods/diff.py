"""`pods diff POD OLD NEW`: what changed between two images of one pod, and what it costs.

What changed is read from the locks each image carries (/usr/share/pods/*.lock.json, the
pod's own and its ancestors'): components added, removed and upgraded, by kind (Debian
package, PyPI distribution, npm package, vendor component). What it costs is the layers a
holder of OLD downloads to get NEW: for a registry reference (`docker://...`) the
compressed blobs of NEW's manifest that OLD's lacks, as a registry serves them; for an image
in local storage only the uncompressed size of each new layer is known, and it says so.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pods_contract import IMAGE_LOCK_DIR, ContractError, read_image_locks

from pods.container import Engine, registry_manifest, tls_args
from pods.errors import PodsError
from pods.settings import load_settings

REGISTRY = "docker://"


@dataclass(frozen=True)
class Layer:
    digest: str  # the blob digest (registry) or the diff ID (local storage)
    size: int


@dataclass(frozen=True)
class Image:
    ref: str
    locks: dict[str, dict[str, Any]]
    layers: tuple[Layer, ...]
    compressed: bool  # sizes are the registry's compressed blobs, not local uncompressed layers


def components(locks: dict[str, dict[str, Any]]) -> dict[tuple[str, str], str]:
    """{(kind, name): version} over every lock an image carries."""
    found: dict[tuple[str, str], str] = {}
    for lock in locks.values():
        for package in lock.get("debian", {}).get("packages", []):
            found[("debian", package["name"])] = package["version"]
        for package in lock.get("pypi", {}).get("packages", []):
            found[("pypi", package["name"])] = package["version"]
        for path, entry in lock.get("npm", {}).get("package_lock", {}).get("packages", {}).items():
            if path and "version" in entry:
                found[("npm", path.rsplit("node_modules/", 1)[-1])] = entry["version"]
        for item in lock.get("vendor", []):
            found[("vendor", item["name"])] = item["version"]
    return found


@dataclass(frozen=True)
class Change:
    kind: str
    name: str
    old: str | None
    new: str | None

    @property
    def what(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "upgraded"


def changes(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> list[Change]:
    before, after = components(old), components(new)
    return [
        Change(kind, name, before.get((kind, name)), after.get((kind, name)))
        for kind, name in sorted(before.keys() | after.keys())
        if before.get((kind, name)) != after.get((kind, name))
    ]


def download(old: Image, new: Image) -> list[Layer]:
    """NEW's layers that a holder of OLD lacks (a layer held once is never fetched twice)."""
    held = {layer.digest for layer in old.layers}
    return [layer for layer in new.layers if layer.digest not in held]


# --- reading an image -------------------------------------------------------------------


def read_image(engine: Engine, ref: str) -> Image:
    if ref.startswith(REGISTRY):
        layers = registry_layers(ref)
        local = ref.removeprefix(REGISTRY)
        engine.run(["pull", "--quiet", *tls_args(local), local], timeout=3600, check=True)
        return Image(ref, read_locks(engine, local), layers, compressed=True)
    if not engine.image_exists(ref):
        raise PodsError(
            ref, f"no such image in local storage; name a local image or {REGISTRY}<registry>/<repo>:<tag>"
        )
    return Image(ref, read_locks(engine, ref), local_layers(engine, ref), compressed=False)


def read_locks(engine: Engine, image: str) -> dict[str, dict[str, Any]]:
    # A created (never started) container: a run would start the pod's entrypoint.
    container = engine.run(["create", "--quiet", image], timeout=300, check=True).stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="pods-diff-") as tmp:
            engine.run(["cp", f"{container}:{IMAGE_LOCK_DIR}", tmp], timeout=300, check=True)
            try:
                locks, _ = read_image_locks(Path(tmp, Path(IMAGE_LOCK_DIR).name), image)
            except ContractError as e:
                raise PodsError(image, str(e)) from None
    finally:
        engine.run(["rm", "--force", container], timeout=120)
    if not locks:
        raise PodsError(image, f"no {IMAGE_LOCK_DIR}/*.lock.json in the image; is it a pod image?")
    return locks


def local_layers(engine: Engine, image: str) -> tuple[Layer, ...]:
    """Each layer's diff ID and uncompressed size: `podman history` lists the layers' sizes
    newest first, one entry per step of the config's history, whose `empty_layer` says which
    steps made no layer (the Containerfile's steps, once the engine lays the layers out by
    owner, are such steps)."""
    info = json.loads(engine.run(["image", "inspect", image], timeout=120, check=True).stdout)[0]
    diff_ids = info["RootFS"]["Layers"]
    config_steps = info.get("History") or []
    history = list(
        reversed(
            json.loads(engine.run(["history", "--format", "json", image], timeout=120, check=True).stdout)
        )
    )
    if len(config_steps) == len(history):
        steps = [h for h, c in zip(history, config_steps, strict=True) if not c.get("empty_layer")]
    else:
        steps = [h for h in history if not _empty_layer(h)]
    if len(steps) != len(diff_ids):
        # Sizes cannot be paired with layers; say nothing rather than something wrong.
        return tuple(Layer(d, 0) for d in diff_ids)
    return tuple(Layer(d, int(h.get("size", 0))) for d, h in zip(diff_ids, steps, strict=True))


def _empty_layer(step: dict[str, Any]) -> bool:
    created_by = step.get("CreatedBy") or step.get("createdBy") or ""
    return bool(step.get("empty_layer")) or (
        int(step.get("size", 0)) == 0 and "#(nop)" in created_by and "ADD" not in created_by
    )


def registry_layers(ref: str) -> tuple[Layer, ...]:
    manifest = registry_manifest(ref.removeprefix(REGISTRY))
    if manifest.returncode != 0:
        raise PodsError(ref, f"cannot read its manifest: {manifest.last_error_line('no output')}")
    document = json.loads(manifest.stdout)
    if "manifests" in document:  # an index: the linux/amd64 image
        raise PodsError(ref, "is a multi-platform index; name the linux/amd64 image's digest")
    return tuple(Layer(layer["digest"], int(layer["size"])) for layer in document["layers"])


# --- the report ---------------------------------------------------------------------------


def human(size: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def report(pod: str, old: Image, new: Image) -> list[str]:
    if pod not in new.locks:
        raise PodsError(new.ref, f"carries no lock of pod {pod!r} (it has {', '.join(sorted(new.locks))})")
    found = changes(old.locks, new.locks)
    lines = [f"pods diff {pod}: {old.ref} -> {new.ref}"]
    for what in ("added", "removed", "upgraded"):
        picked = [c for c in found if c.what == what]
        lines.append(f"  {what}: {len(picked)}")
        lines += [f"    {c.kind} {c.name} {_versions(c)}" for c in picked]
    fetched = download(old, new)
    total = sum(layer.size for layer in new.layers)
    if old.compressed and new.compressed:
        measure = "compressed, as the registry serves them"
    else:
        measure = "uncompressed: local images have no compressed size; name docker:// references for that"
    lines.append(
        f"  download: {len(fetched)} of {len(new.layers)} layers, {human(sum(x.size for x in fetched))}"
        f" of {human(total)} ({measure})"
    )
    return lines


def _versions(change: Change) -> str:
    if change.old is None:
        return str(change.new)
    if change.new is None:
        return str(change.old)
    return f"{change.old} -> {change.new}"


def add_parser(sub: argparse._SubParsersAction) -> None:
    diff = sub.add_parser(
        "diff",
        help="what changed between two images of a pod (from their locks) and the bytes to download",
    )
    diff.add_argument("pod", help="the pod whose images are compared (e.g. base)")
    diff.add_argument(
        "old", help=f"the image a user holds: a local image, or {REGISTRY}<registry>/<repo>:<tag>"
    )
    diff.add_argument("new", help="the image they update to (same forms)")
    diff.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")


def run(args: argparse.Namespace) -> int:
    engine = Engine(load_settings(args.repo).engine)
    old, new = read_image(engine, args.old), read_image(engine, args.new)
    print("\n".join(report(args.pod, old, new)))
    return 0
