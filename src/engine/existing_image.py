"""Find an image that stands in for a build: one ladder, cheapest rung first.

1. Pants' content tag ({pants.hash}) as this checkout recorded it, against podman's own
   image list (no podman process). Pants asks for every image on every run, so this is
   the no-op path.
2. The image under the content tag, asked of podman: that tag hashes the whole context,
   the build args and the parent's image ID, so an image under it that carries an input
   key was made from exactly these inputs.
3. With the input key: the machine-wide key index (an image another worktree or checkout
   built, under another tag), against podman's image list.
4. With the input key: podman, asked for the label (~1 s on a full storage).

Rungs 1-2 need no key, so they run before anything is hashed; rungs 3-4 run once the key
is known, under its build lock. A hit is then adopted: the missing tags are added, it is
recorded, and Pants is told.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import ENGINE, say
from local_index import (
    indexed_image,
    record_image,
    recorded_content_tag,
    storage_entry,
    storage_has_name,
    storage_images,
)
from pods_contract import KEY_LABEL, PLAIN_TAG_PREFIX
from request import BuildRequest

STARTED = time.monotonic()


@dataclass(frozen=True)
class Existing:
    image: str
    key: str
    how: str = "exists locally"
    tags: tuple[str, ...] | None = None  # the tags it already has; None: not known
    recorded: bool = False  # the records already say so


def by_recorded_content_tag(request: BuildRequest, key: str | None) -> Existing | None:
    if not request.tags:
        return None
    seen = recorded_content_tag(request.tags[0])
    entry = storage_entry(storage_images(), seen.get("id"))
    if not entry or not seen.get("key") or not set(request.tags) <= set(entry.get("names") or []):
        return None
    if key and seen["key"] != key:
        return None
    return Existing(seen["id"], seen["key"], tags=request.tags, recorded=True)


def by_content_tag(request: BuildRequest, key: str | None) -> Existing | None:
    if not request.tags or storage_has_name(request.tags[0]) is False:
        return None
    image = ENGINE.local_image(request.tags[0])
    found_key = image.labels.get(KEY_LABEL) if image else None
    if not image or not found_key or (key and found_key != key):
        return None
    return Existing(image.id, found_key, tags=image.tags)


def by_key_index(request: BuildRequest, key: str | None) -> Existing | None:
    images = storage_images() if key else None
    image = indexed_image(key) if images is not None else None
    if image is None:
        return None  # no list or no index to trust: the next rung asks podman
    entry = storage_entry(images, image)
    # The index is trusted both ways: an entry missing from it means no such image here.
    return Existing(image, key, tags=tuple(entry.get("names") or ())) if entry else NOT_HERE


def by_key_label(request: BuildRequest, key: str | None) -> Existing | None:
    if not key:
        return None
    # One row per tag. Only a named image is one the engine finished: the build's own image
    # (untagged, podman's layer cache) and the plain build (rechunk) carry the same key.
    result = ENGINE.podman(
        "images",
        "--no-trunc",
        "--filter",
        f"label={KEY_LABEL}={key}",
        "--format",
        "{{.ID}} {{.Tag}}",
        check=False,
    )
    rows = [line.split() for line in result.stdout.splitlines()] if result.returncode == 0 else []
    plain = {row[0] for row in rows if len(row) > 1 and row[1].startswith(PLAIN_TAG_PREFIX)}
    named = [row[0] for row in rows if len(row) > 1 and row[1] not in ("<none>", "") and row[0] not in plain]
    return Existing(named[0].removeprefix("sha256:"), key) if named else None


NOT_HERE = Existing("", "")  # a rung that knows for sure: stop climbing
LADDER: tuple[Callable[[BuildRequest, str | None], Existing | None], ...] = (
    by_recorded_content_tag,
    by_content_tag,
    by_key_index,
    by_key_label,
)


def find_existing(request: BuildRequest, key: str | None = None) -> Existing | None:
    """An image made from the request's inputs; without `key`, only what needs no hashing."""
    for rung in LADDER:
        existing = rung(request, key)
        if existing is NOT_HERE:
            return None
        if existing:
            return existing
    return None


def adopt(request: BuildRequest, existing: Existing, iidfile: str | None = None) -> int:
    """Tag, record and report an image that stands in for a build."""
    missing = [t for t in request.tags if existing.tags is None or t not in existing.tags]
    if missing:
        ENGINE.podman("tag", existing.image, *missing)
    if not existing.recorded:
        record_image(request.tags, existing.image, existing.key)
    return report_skipped(request, existing.key, existing.image, existing.how, iidfile)


def timing_note() -> str:
    # Pants logs a build's output only when it differs from the previous run's, so an
    # unchanged "skipped" line would go unsaid on the second run; when and how long the
    # check took makes each line new, and is worth knowing anyway.
    return f" (checked at {time.strftime('%H:%M:%S')} in {(time.monotonic() - STARTED) * 1000:.0f} ms)"


def report_skipped(request: BuildRequest, key: str, image: str, how: str, iidfile: str | None = None) -> int:
    """Tell the user, and Pants (which parses the image ID from this line), what stood in for a build."""
    say(f"{request.pod}: key {key[:12]} {how}; build skipped{timing_note()}")
    return report_built(image, iidfile)


def report_built(image_id: str, iidfile: str | None) -> int:
    """Pants' contract line (it parses the image ID from it), and the caller's --iidfile
    written as podman writes it."""
    image_id = image_id.removeprefix("sha256:")
    if iidfile:
        Path(iidfile).write_text(f"sha256:{image_id}")
    print(f"Successfully built {image_id}")
    return 0
