"""`pods gc`: remove local pod images that no current input key names.

Every build with new inputs leaves its predecessor behind (a few GB for the bigger pods),
so a laptop or CI runner fills its disk within days. What is current is what the last
`./pants package` wrote to dist/pods/*.docker-info.json: in the repositories those files
name, those images are kept and every other image labelled with a pods key goes. Images
a container still uses are kept too; dangling layers go with `image prune`, unless a
build is running (its intermediate layers are dangling until it tags its result). So do
the working containers that interrupted builds leave behind (a killed `podman build`
keeps its whole upper layer), once no build is running and they are an hour old.
"""

from __future__ import annotations

import fcntl
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

# Images from before input keys were hashed from inputs alone carry the legacy label;
# they are superseded by definition.
from pods_contract import KEY_LABEL, LEGACY_KEY_LABEL, PLAIN_TAG_PREFIX, builds_lock_path

from pods.container import Engine
from pods.errors import PodsError


# A working container younger than this may belong to a plain `podman build` (one not run
# through the engine, which holds no builds lock) that is still running.
LEFT_BEHIND_AFTER_S = 3600


@dataclass
class GcResult:
    kept: list[str] = field(default_factory=list)  # "<pod>:<key12>" of current images
    removed: list[str] = field(default_factory=list)
    in_use: list[str] = field(default_factory=list)
    freed_bytes: int = 0


def current_images(info_dir: Path) -> tuple[set[str], set[str]]:
    """(image IDs, repositories) named by the docker-info files of the last package run.

    Only those repositories are swept: other images on the machine are not ours to judge.
    """
    ids, repositories = set(), set()
    for path in sorted(info_dir.glob("*.docker-info.json")):
        try:
            info = json.loads(path.read_text())
            ids.add(info["image_id"].removeprefix("sha256:"))
            for registry in info["registries"]:
                repositories.add(f"{registry['address']}/{registry['repository']}")
        except (ValueError, KeyError, TypeError) as e:
            raise PodsError(
                str(path), f"not a Pants docker-info file ({e}); delete it or re-run `./pants package`"
            ) from e
    return ids, repositories


def collect_garbage(
    engine: Engine | str | PathLike,
    info_dir: Path,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
    left_behind_after: float = LEFT_BEHIND_AFTER_S,
) -> GcResult:
    engine = Engine.of(engine)
    current, repositories = current_images(info_dir)
    if not current:
        raise PodsError(
            str(info_dir),
            "no docker-info files, so no current keys are known; run `./pants package build_files::` first",
        )
    result = GcResult()
    # Children go before their parents, or a parent's removal fails on the child. Images
    # carry the family's fixed epoch, so their `created` cannot order them: the removals
    # that fail are tried again while another pass still removes something.
    pending = list(keyed_images(engine, repositories))
    current |= plain_builds(pending, current)
    while pending:
        retry = []
        for image, label in pending:
            if not sweep(engine, image, label, current, dry_run, say, result, last_try=False):
                retry.append((image, label))
        if len(retry) == len(pending):
            for image, label in retry:
                sweep(engine, image, label, current, dry_run, say, result, last_try=True)
            break
        pending = retry
    if not dry_run:
        prune_unless_building(engine, say, left_behind_after)
    return result


def plain_builds(images: list[tuple[dict[str, Any], str]], current: set[str]) -> set[str]:
    """IDs of the plain builds the engine keeps beside current images (same key, tagged
    pods-plain-<key12>): podman's layer cache for the next build, kept as long as the image is."""
    keys = {_key(image) for image, _ in images if image["Id"].removeprefix("sha256:") in current}
    return {
        image["Id"].removeprefix("sha256:")
        for image, _ in images
        if _key(image) in keys
        and any(name.rsplit(":", 1)[-1].startswith(PLAIN_TAG_PREFIX) for name in image.get("Names") or [])
    }


def _key(image: dict[str, Any]) -> str:
    labels = image.get("Labels") or {}
    return labels.get(KEY_LABEL) or labels.get(LEGACY_KEY_LABEL, "")


def prune_unless_building(
    engine: Engine, say: Callable[[str], None], left_behind_after: float = LEFT_BEHIND_AFTER_S
) -> None:
    """Dangling layers and left-behind working containers go, unless a build holds the
    builds lock: a running build's intermediate layers are dangling until it tags its
    result, and pruning them breaks it ("layer not known")."""
    lock = builds_lock_path()
    try:
        handle = open(lock, "a")
    except OSError:
        # No lock folder: no build of this user has run since the machine started.
        _prune(engine, say, left_behind_after)
        return
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("dangling layers kept: a build is running (the next gc removes them)")
            return
        _prune(engine, say, left_behind_after)


def _prune(engine: Engine, say: Callable[[str], None], left_behind_after: float) -> None:
    # Containers first: the layers under a working container are not dangling until it goes.
    cutoff = time.time() - left_behind_after
    left = [cid for cid, created in engine.working_containers().items() if created <= cutoff]
    removed = [cid[:12] for cid in left if engine.remove_container(cid).returncode == 0]
    if removed:
        say(f"removed {len(removed)} working container(s) interrupted builds left: {', '.join(removed)}")
    engine.prune_images()


def keyed_images(engine: Engine, repositories: set[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """Each image with a pods key in one of `repositories`, once, newest first, with its
    `<repository name>:<key12>` label (a superseded child goes before the superseded parent
    it was built on)."""
    listing = [image for label in (KEY_LABEL, LEGACY_KEY_LABEL) for image in engine.images_labelled(label)]
    seen: set[str] = set()  # the engine lists an image once per tag
    for image in sorted(listing, key=lambda i: i.get("Created", 0), reverse=True):
        image_id = image["Id"].removeprefix("sha256:")
        names = image.get("Names") or []
        if image_id in seen or not any(name.rsplit(":", 1)[0] in repositories for name in names):
            continue
        seen.add(image_id)
        labels = image.get("Labels") or {}
        key = labels.get(KEY_LABEL) or labels.get(LEGACY_KEY_LABEL, "")
        yield image, f"{names[0].rsplit(':', 1)[0].rsplit('/', 1)[-1]}:{key[:12]}"


def sweep(
    engine: Engine,
    image: dict[str, Any],
    label: str,
    current: set[str],
    dry_run: bool,
    say: Callable[[str], None],
    result: GcResult,
    last_try: bool = True,
) -> bool:
    """Keep the image (current, or in use) or remove it, and record which in `result`.
    False: its removal failed and `last_try` is False, so nothing was recorded yet."""
    image_id = image["Id"].removeprefix("sha256:")
    if image_id in current:
        result.kept.append(label)
    elif image.get("Containers"):
        result.in_use.append(label)
    elif dry_run:
        say(f"would remove {label} ({image_id[:12]}, {image.get('Size', 0) / 1e9:.2f} GB)")
        result.removed.append(label)
    else:
        return _remove(engine, image, label, say, result, last_try)
    return True


def _remove(
    engine: Engine,
    image: dict[str, Any],
    label: str,
    say: Callable[[str], None],
    result: GcResult,
    last_try: bool,
) -> bool:
    image_id = image["Id"].removeprefix("sha256:")
    removed = engine.remove_image(image_id)
    if removed.returncode == 0:
        result.removed.append(label)
        result.freed_bytes += int(image.get("Size", 0))
        say(f"removed {label} ({image_id[:12]})")
        return True
    if not last_try:
        return False
    result.in_use.append(label)
    say(f"kept {label}: {removed.last_error_line('in use')}")
    return True
