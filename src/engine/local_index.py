"""What this machine knows of its local images without starting podman, and the record
stage that keeps it current.

Pants asks for every image on every run, one after another down each chain, and one
`podman image inspect` costs ~0.1 s of podman's own start: most of a no-op. Podman's
storage lists its images in a JSON file it replaces atomically (images.json); the engine
reads that against two records of its own, written whenever it built, pulled or found an
image (record_image):

- per checkout, Pants' content tag -> (image ID, key) (.pods/engine/seen/);
- per machine and storage, input key -> image ID (the key index, in a private temp folder).

Anything unexpected (another storage, a moved tag) makes the caller ask podman.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path

from engine_binary import ENGINE
from records import private_tmp, read_record, state_dir, write_atomic, write_record


def storage_record_key() -> str:
    conf = os.environ.get("CONTAINERS_STORAGE_CONF", "")
    try:
        stamp = os.stat(conf).st_mtime_ns if conf else 0
    except OSError:
        stamp = -1
    return hashlib.sha256(f"{os.getuid()}\0{conf}\0{stamp}".encode()).hexdigest()[:32]


def images_file(ask: bool) -> Path | None:
    """The image list of the storage podman uses here; asks podman (slow) only if `ask`."""
    record = state_dir("engine") / f"storage-{storage_record_key()}.json"
    known = read_record(record).get("images")
    if known or not ask:
        return Path(known) if known else None
    result = ENGINE.podman(
        "info", "--format", "{{.Store.GraphRoot}}\t{{.Store.GraphDriverName}}", check=False
    )
    if result.returncode != 0 or "\t" not in result.stdout:
        return None
    root, driver = result.stdout.strip().split("\t")
    path = Path(root) / f"{driver}-images" / "images.json"
    write_record(record, {"images": str(path)})
    return path


def storage_images() -> list[dict] | None:
    """Podman's image list for this storage (ID, names), or None when it cannot be read."""
    listed = images_file(ask=False)
    try:
        return json.loads(listed.read_text()) if listed else None
    except (OSError, ValueError):
        return None


def storage_entry(images: list[dict] | None, image: str) -> dict | None:
    return next((i for i in images or [] if i.get("id") == image), None)


def storage_has_name(ref: str) -> bool | None:
    """Whether some image is named `ref`; None when the list cannot be read (ask podman)."""
    first, _, rest = ref.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost") or ":" not in rest:
        return None  # a short name: podman's list holds it normalised; let podman resolve it
    images = storage_images()
    if images is None:
        return None
    return any(ref in (i.get("names") or []) for i in images)


def key_index() -> Path:
    """input key -> image ID, for every checkout on this machine that uses this storage."""
    return private_tmp(f"pods-keys-{storage_record_key()}")


def indexed_image(key: str) -> str | None:
    """The image ID the key index names for `key` ("" when there is none); None when there
    is no index to trust."""
    try:
        index = key_index()
    except OSError:
        return None
    try:
        return (index / key).read_text().strip()
    except OSError:
        return ""


def content_tag_record(tag: str) -> Path:
    return state_dir("engine") / "seen" / f"{hashlib.sha256(tag.encode()).hexdigest()[:32]}.json"


def recorded_content_tag(tag: str) -> dict:
    """{"id": image ID, "key": input key} this checkout last saw under Pants' content tag."""
    return read_record(content_tag_record(tag))


def record_image(tags: tuple[str, ...], image: str, key: str) -> None:
    """Record which image Pants' content tag and this key name, for the next runs' checks."""
    if not images_file(ask=True):
        return
    image = image.removeprefix("sha256:")
    with contextlib.suppress(OSError):
        write_atomic(key_index() / key, image)
    if tags:
        write_record(content_tag_record(tags[0]), {"id": image, "key": key})
