"""The push stage: one tag of one image to a registry, safely.

The key and version tags go first; `latest` and `stable` move only when every other tag of
the image already points at this image in that registry, and never for an image that lacks
any component it or its ancestors declare (its EXCLUDED_LABEL names one, whether a probe
or a named list left it out); an image that lacks nothing moves them, rootfs included. A
tag already pointing at the image is not pushed again, so re-publishing uploads nothing.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import (
    PUSH_COMPRESSION,
    ENGINE,
    EngineError,
    last_line,
    registry_host,
    say,
    split_ref,
    tls_args,
)
from existing_image import timing_note
from local_index import storage_has_name, storage_images
from pods_contract import EXCLUDED_LABEL, KEY_LABEL, LIST_LABEL, MOVING_TAGS, parse_excluded
from records import read_record, state_dir, write_record
from registry_state import note_pushed, recently_pushed, remote_tags


@dataclass(frozen=True)
class Pushed:
    image_id: str  # the local image ID (= the config digest in the registry)
    manifest_digest: str  # what the tag points at in the registry


@functools.cache
def local_image_of(ref: str) -> tuple[str, tuple[str, ...]]:
    """(image ID, every name) of the local image `ref` names; podman's list first."""
    if storage_has_name(ref):
        entry = next((i for i in storage_images() or [] if ref in (i.get("names") or [])), None)
        if entry:  # else removed between the two reads: ask podman
            return entry["id"], tuple(entry.get("names") or ())
    image = ENGINE.local_image(ref)
    if not image:
        raise EngineError(f"{ref}: no such local image; run `./pants package` first")
    store_labels(image.id, image.labels)
    return image.id, image.tags


def labels_record(image: str) -> Path:
    return state_dir("engine") / "labels" / f"{image}.json"


def store_labels(image: str, labels: dict[str, str]) -> None:
    write_record(
        labels_record(image),
        {k: v for k, v in labels.items() if k in (KEY_LABEL, LIST_LABEL, EXCLUDED_LABEL)},
    )


def push_labels(image: str) -> dict[str, str]:
    """The labels a push decides by (key, exclusions); an image ID's labels never change."""
    recorded = read_record(labels_record(image))
    if recorded:
        return recorded
    found = ENGINE.local_image(image)
    if not found:
        raise EngineError(f"{image[:12]}: no such local image; run `./pants package` first")
    store_labels(image, found.labels)
    return found.labels


def check_moving_tag(ref: str, local: str, siblings: list[str], remote: dict[str, list | None]) -> None:
    """`latest`/`stable` move only to a complete image whose fixed tags are in place here."""
    tag = split_ref(ref)[1]
    labels = push_labels(local)
    lacks = parse_excluded(labels.get(EXCLUDED_LABEL, ""))
    if lacks:
        raise EngineError(
            f"{ref}: refusing to move `{tag}`: built without {', '.join(lacks)} "
            f"(exclusion list {labels.get(LIST_LABEL, '?')}); rebuild with PODS_EXCLUSIONS= "
            "where those upstreams are reachable"
        )
    want = f"sha256:{local}"
    fixed = [t for t in siblings if split_ref(t)[1] not in MOVING_TAGS]
    missing = [t for t in fixed if not recently_pushed(t, want) and (remote[t] or [None, None])[1] != want]
    if not fixed or missing:
        raise EngineError(
            f"{ref}: refusing to move `{tag}`: {', '.join(missing) or 'no key tag'} "
            "not pushed yet; re-run `./pants publish`"
        )


def push(ref: str) -> Pushed:
    local, names = local_image_of(ref)
    want = f"sha256:{local}"
    repository, tag = split_ref(ref)
    siblings = [n for n in names if split_ref(n)[0] == repository]
    remote = remote_tags(sorted(set(siblings) | {ref}))
    if tag in MOVING_TAGS:
        check_moving_tag(ref, local, siblings, remote)
    if remote[ref] and remote[ref][1] == want:
        note_pushed(ref, want)
        say(f"{ref}: already points at {local[:12]}; nothing to upload{timing_note()}")
        return Pushed(local, remote[ref][0])
    digest = upload(ref)
    note_pushed(ref, want, digest)
    say(f"{ref}: pushed {local[:12]} as {digest}")
    return Pushed(local, digest)


def upload(ref: str) -> str:
    """`podman push` with retries; the manifest digest it pushed."""
    attempts = int(os.environ.get("PODS_PUSH_ATTEMPTS", "3") or 3)
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory() as tmp:
            digest_file = Path(tmp, "digest")
            args = [
                "push",
                "--quiet",
                *PUSH_COMPRESSION,
                "--digestfile",
                str(digest_file),
                *tls_args(ref),
                ref,
            ]
            result = ENGINE.podman(*args, check=False)
            if result.returncode == 0:
                return digest_file.read_text().strip()
        reason = last_line(result)
        if "unauthorized" in reason.lower() or "authentication required" in reason.lower():
            raise EngineError(
                f"{ref}: the registry refused our credentials ({reason}); log in with "
                f"`podman login {registry_host(ref)}` or set REGISTRY_AUTH_FILE"
            )
        if attempt < attempts:
            say(f"{ref}: push attempt {attempt}/{attempts} failed ({reason}); retrying")
            time.sleep(min(2**attempt, 10))
    raise EngineError(
        f"{ref}: push failed after {attempts} attempts ({reason}); tags that moved still point at a "
        "complete image; re-run `./pants publish`"
    )
