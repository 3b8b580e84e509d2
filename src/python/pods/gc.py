"""`pods gc`: remove local pod images that no current input key names.

Every build with new inputs leaves its predecessor behind (a few GB for the bigger pods),
so a laptop or CI runner fills its disk within days. What is current is what the last
`./pants package` wrote to dist/pods/*.docker-info.json: in the repositories those files
name, those images are kept and every other image labelled with a pods key goes. Images
a container still uses are kept too; dangling layers go with `image prune`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pods.errors import PodsError

KEY_LABEL = "io.github.bazzite-ai.pods.input-key"
# Images from before input keys were hashed from inputs alone carry this one; they are
# superseded by definition.
LEGACY_KEY_LABEL = "io.github.bazzite-ai.pods.key"


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


def _engine(engine: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([engine, *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise PodsError(engine, f"`{' '.join(args[:2])}` failed: {result.stderr.strip()}")
    return result


def collect_garbage(
    engine: str, info_dir: Path, dry_run: bool = False, say: Callable[[str], None] = print
) -> GcResult:
    current, repositories = current_images(info_dir)
    if not current:
        raise PodsError(
            str(info_dir),
            "no docker-info files, so no current keys are known; run `./pants package build_files::` first",
        )
    listing = [
        image
        for label in (KEY_LABEL, LEGACY_KEY_LABEL)
        for image in json.loads(
            _engine(engine, "images", "--filter", f"label={label}", "--format", "json").stdout or "[]"
        )
    ]
    result = GcResult()
    seen: set[str] = set()  # the engine lists an image once per tag
    # Newest first: a superseded child goes before the superseded parent it was built on.
    for image in sorted(listing, key=lambda i: i.get("Created", 0), reverse=True):
        image_id = image["Id"].removeprefix("sha256:")
        if image_id in seen:
            continue
        seen.add(image_id)
        labels = image.get("Labels") or {}
        key = labels.get(KEY_LABEL) or labels.get(LEGACY_KEY_LABEL, "")
        names = image.get("Names") or []
        if not any(name.rsplit(":", 1)[0] in repositories for name in names):
            continue
        label = f"{names[0].rsplit(':', 1)[0].rsplit('/', 1)[-1]}:{key[:12]}"
        if image_id in current:
            result.kept.append(label)
            continue
        if image.get("Containers"):
            result.in_use.append(label)
            continue
        if dry_run:
            say(f"would remove {label} ({image_id[:12]}, {image.get('Size', 0) / 1e9:.2f} GB)")
            result.removed.append(label)
            continue
        removed = _engine(engine, "rmi", "--force", image_id, check=False)
        if removed.returncode == 0:
            result.removed.append(label)
            result.freed_bytes += int(image.get("Size", 0))
            say(f"removed {label} ({image_id[:12]})")
        else:
            result.in_use.append(label)
            why = removed.stderr.strip().splitlines()[-1] if removed.stderr.strip() else "in use"
            say(f"kept {label}: {why}")
    if not dry_run:
        _engine(engine, "image", "prune", "--force", check=False)
    return result
