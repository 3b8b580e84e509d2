"""Image sizes as a user sees them, and the checked-in record of them (docs/pod-sizes.json).

Two numbers per pod: what a user downloads (the gzip-compressed layers a registry serves)
and what it takes on disk (the engine's uncompressed size). Both in GB (1e9 bytes, as
podman prints them), rounded to two places. The record is written only by
`pods graph --measure`, so `pods graph` prints the same chart on every machine.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pods.container import Engine, copy_compressed
from pods.errors import PodsError

SIZES_FILE = "docs/pod-sizes.json"


@dataclass(frozen=True)
class Size:
    compressed_gb: float | None  # None: not measured yet
    uncompressed_gb: float | None


def compressed_size(image_id: str) -> int:
    """Bytes a user downloads for `image_id`: its layers gzip-compressed, as a push would make them.

    skopeo writes the image to a directory with compression forced on, which is what a push
    to a registry does; summing the layer blobs gives what `podman pull` fetches.
    """
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as out:
        copy_compressed(image_id, out)
        manifest = json.loads(Path(out, "manifest.json").read_text())
        return sum(layer["size"] for layer in manifest["layers"])


def gb(size: int) -> float:
    return round(size / 1e9, 2)


def measure(engine: Engine, image: str, compressed: Callable[[str], int] = compressed_size) -> Size:
    return Size(compressed_gb=gb(compressed(image)), uncompressed_gb=gb(engine.image_size(image)))


def local_image(repo: Path, engine: Engine, pod: str, fallback: str) -> str | None:
    """The image to measure: the one this checkout's last `./pants package` built, else `fallback`.

    None when the engine has neither.
    """
    info = repo / "dist" / "pods" / f"{pod}.docker-info.json"
    candidates = []
    if info.is_file():
        candidates.append(json.loads(info.read_text())["image_id"])
    candidates.append(fallback)
    return next((image for image in candidates if engine.image_exists(image)), None)


def _number(value: object, where: str) -> float | None:
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value >= 0):
        return value  # type: ignore[return-value]
    raise PodsError(
        where, f"expected a size in GB (a number >= 0) or null, found {value!r}; fix it or re-measure"
    )


def read_sizes(repo: Path) -> dict[str, Size]:
    path = repo / SIZES_FILE
    if not path.is_file():
        return {}
    try:
        doc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise PodsError(
            SIZES_FILE, f"not valid JSON ({e}); restore it from git or run `pods graph --measure`"
        ) from None
    if not isinstance(doc, dict):
        raise PodsError(SIZES_FILE, "expected an object of pod name -> sizes; restore it from git")
    out = {}
    for pod, entry in doc.items():
        if not isinstance(entry, dict) or set(entry) != {"compressed_gb", "uncompressed_gb"}:
            raise PodsError(
                f"{SIZES_FILE}: {pod}", "expected exactly the fields compressed_gb and uncompressed_gb"
            )
        out[pod] = Size(
            compressed_gb=_number(entry["compressed_gb"], f"{SIZES_FILE}: {pod}.compressed_gb"),
            uncompressed_gb=_number(entry["uncompressed_gb"], f"{SIZES_FILE}: {pod}.uncompressed_gb"),
        )
    return out


def sizes_text(sizes: dict[str, Size]) -> str:
    doc = {
        pod: {"compressed_gb": size.compressed_gb, "uncompressed_gb": size.uncompressed_gb}
        for pod, size in sorted(sizes.items())
    }
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
