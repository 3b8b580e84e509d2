"""The layout stage's promises (src/engine/rechunk.py), on every pod: its own files are laid out
as layers by owner, within the family's layer budget, and the filesystem a container sees is
the very one the plain build made.

The plain build is kept in the storage, tagged `pods-plain-<key>`. Both images are mounted the
way the container runtime mounts them (overlay), and every path either image's own layers
touch is compared: type, mode, owner, size, sha256 of a file's bytes, a link's target, a
folder's listing (so a removal or an opaque folder shows too). Every other path comes from
the parent's layers, which both images share by diff ID (checked first).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from engine_binary import split_ref
from layer_store import image_layers
from pods_contract import KEY_LABEL, MAX_LAYERS, layer_budget
from rechunk import HISTORY_COMMENT, plain_tag

from images.harness import Pod, engine


def own_layer_count(info: dict) -> int:
    """The pod's own layers: the steps the layout stage added last (a parent's laid-out layers
    come before the pod's own Containerfile steps)."""
    count = 0
    for step in reversed(info.get("History") or []):
        if step.get("comment") != HISTORY_COMMENT:
            break
        count += 1
    return count


def test_layers_are_laid_out_by_owner_within_the_budget(pod: Pod) -> None:
    info = pod.inspect()
    layers = info["RootFS"]["Layers"]
    own = own_layer_count(info)
    labels = [step["created_by"].split(": ", 2)[2] for step in info["History"][len(info["History"]) - own :]]
    assert 1 <= own <= layer_budget(pod.name), labels
    assert len(layers) <= MAX_LAYERS
    assert len(labels) == len(set(labels)), f"two layers hold the same group: {labels}"
    # Database files and leftovers come last, so an install's rewrites move only those.
    tail = [label for label in labels if label == "databases" or label.startswith("leftovers")]
    assert labels[-len(tail) :] == tail, labels


@contextlib.contextmanager
def mounted(image: str) -> Iterator[Path]:
    path = Path(engine("image", "mount", image).stdout.strip())
    try:
        yield path
    finally:
        engine("image", "unmount", image, check=False)


def own_paths(image: str, shared: int) -> set[str]:
    """Every path the image's own layers (those above the first `shared`) add, change or remove."""
    paths = set()
    for layer in image_layers(image)[shared:]:
        for member in layer.members():
            folder, base = os.path.split(os.path.normpath("/" + member.name))
            if base == ".wh..wh..opq":
                paths.add(folder)
            else:
                paths.add(os.path.join(folder, base.removeprefix(".wh.")))
    return paths


def describe(root: Path, path: str) -> tuple | None:
    """What a user can tell of one path: type, mode, owner, size, and its content."""
    full = root / path.lstrip("/")
    try:
        st = os.lstat(full)
    except FileNotFoundError:
        return None
    kind = stat.S_IFMT(st.st_mode)
    if stat.S_ISREG(st.st_mode):
        digest = hashlib.sha256()
        with open(full, "rb") as f:
            while block := f.read(1 << 20):
                digest.update(block)
        content: object = digest.hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        content = os.readlink(full)
    elif stat.S_ISDIR(st.st_mode):
        content = tuple(sorted(os.listdir(full)))
    else:
        content = (os.major(st.st_rdev), os.minor(st.st_rdev)) if stat.S_ISCHR(st.st_mode) else None
    size = st.st_size if stat.S_ISREG(st.st_mode) else 0
    return kind, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, size, content


def test_the_filesystem_is_the_plain_builds(pod: Pod) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting an image (podman image mount) needs root; run as root to compare filesystems")
    info = pod.inspect()
    repository = split_ref(pod.tags[0])[0]
    plain = plain_tag(repository, info["Labels"][KEY_LABEL])
    found = engine("image", "inspect", "--format", "{{.Id}}", plain, check=False)
    if found.returncode != 0:
        pytest.skip(
            f"{plain} is not in this storage (the image came from a cache registry, not a build here)"
        )
    plain_id = found.stdout.strip()
    chunked_layers = info["RootFS"]["Layers"]
    plain_layers = pod_layers(plain_id)
    shared = len(chunked_layers) - own_layer_count(info)
    # The parent's layers are the same layers in both; only the pod's own differ.
    assert plain_layers[:shared] == chunked_layers[:shared]
    assert plain_layers != chunked_layers
    paths = own_paths(pod.image_id, shared) | own_paths(plain_id, shared)
    with mounted(plain_id) as before, mounted(pod.image_id) as after:
        differ = [p for p in sorted(paths) if describe(before, p) != describe(after, p)]
    assert not differ, f"{len(differ)} of {len(paths)} paths differ, first: " + ", ".join(differ[:5])


def pod_layers(image: str) -> list[str]:
    return json.loads(engine("image", "inspect", "--format", "{{json .RootFS.Layers}}", image).stdout)
