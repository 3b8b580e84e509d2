"""A layer of the engine's storage, read as the very tar it was committed from, without
exporting the image.

`podman save` or `skopeo copy` would write the whole image (every ancestor's layers too, 10 GB
for jupyter) to read one pod's own layers. containers-storage keeps, per layer, a tar-split
file (the tar's headers and padding, byte for byte, with a name and size where each file's
data goes) beside the layer's directory. Joined, the two give back the original tar stream:
its diff ID is the layer's. tarfile reads the headers from it and seeks over the data, so
listing a 3 GB layer reads only its headers.

Overlay storage only (the driver of every engine storage here, root and rootless); any other
driver is named in one line.
"""

from __future__ import annotations

import base64
import bisect
import gzip
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from engine_binary import ENGINE, EngineError


@dataclass(frozen=True)
class StoredLayer:
    layer_id: str
    diff_dir: Path  # the layer's files (overlay's upper directory)
    tar_split: Path

    def open_tar(self) -> tarfile.TarFile:
        return tarfile.open(fileobj=_ReassembledTar(self), mode="r:")

    def members(self) -> Iterator[tarfile.TarInfo]:
        with self.open_tar() as archive:
            yield from archive

    def data_path(self, member: tarfile.TarInfo) -> Path:
        """Where a regular file member's bytes are stored."""
        return self.diff_dir / member.name.lstrip("/").removeprefix("./")


def image_layers(image: str) -> list[StoredLayer]:
    """The layers of a local image, bottom first."""
    info = ENGINE.inspect(image)
    driver = info.get("GraphDriver") or {}
    if driver.get("Name") != "overlay":
        raise EngineError(
            f"{image[:12]}: re-chunking reads layers from an overlay storage, and this storage's driver is "
            f"{driver.get('Name') or 'unknown'}; use the overlay driver (storage.conf: driver = \"overlay\")"
        )
    data = driver.get("Data") or {}
    dirs = [d for d in str(data.get("LowerDir") or "").split(":") if d]
    dirs = [data["UpperDir"], *dirs] if data.get("UpperDir") else dirs
    layers = []
    for d in reversed(dirs):
        diff = Path(d)
        root = diff.parent.parent.parent  # <graphroot>/overlay/<layer id>/diff
        layer_id = diff.parent.name
        layers.append(StoredLayer(layer_id, diff, root / "overlay-layers" / f"{layer_id}.tar-split.gz"))
    diff_ids = info["RootFS"]["Layers"]
    if len(layers) != len(diff_ids):
        raise EngineError(
            f"{image[:12]}: the storage lists {len(layers)} layer folders for {len(diff_ids)} layers"
        )
    return layers


class _ReassembledTar(io.RawIOBase):
    """The layer's tar as a seekable file: the tar-split's raw segments, and each file's
    data read from the layer's directory only when asked for."""

    def __init__(self, layer: StoredLayer) -> None:
        self._layer = layer
        self._starts: list[int] = []
        self._parts: list[bytes | tuple[str, int]] = []
        size = 0
        try:
            lines = gzip.open(layer.tar_split, "rt").read().splitlines()
        except OSError as e:
            raise EngineError(f"layer {layer.layer_id[:12]}: cannot read its tar-split ({e})") from e
        for line in lines:
            entry = json.loads(line)
            if entry["type"] == 2:
                part: bytes | tuple[str, int] = base64.b64decode(entry.get("payload") or "")
                length = len(part)
            else:
                length = int(entry.get("size") or 0)
                part = (entry["name"], length)
            if length:
                self._starts.append(size)
                self._parts.append(part)
                size += length
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        view = memoryview(buffer).cast("B")
        done = 0
        while done < len(view) and self._pos < self._size:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            part, offset = self._parts[i], self._pos - self._starts[i]
            if isinstance(part, bytes):
                chunk = part[offset : offset + len(view) - done]
            else:
                name, length = part
                with open(self._layer.diff_dir / name.lstrip("/"), "rb") as f:
                    f.seek(offset)
                    chunk = f.read(min(length - offset, len(view) - done))
                if not chunk:
                    raise EngineError(
                        f"layer {self._layer.layer_id[:12]}: {name} is shorter than its tar entry"
                    )
            view[done : done + len(chunk)] = chunk
            done += len(chunk)
            self._pos += len(chunk)
        return done
