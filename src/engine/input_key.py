"""The input key: a hash of what an image is made from, the same on every machine."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import EngineError, image_labels
from pods_contract import KEY_LABEL, file_digest
from request import BuildRequest


def input_key(request: BuildRequest, key_args: dict[str, str] | None = None) -> str:
    """Hash of every file of the build context (the Containerfile, the lock, scripts,
    exclusion lists), the build args, the exclusions stage's result (`key_args`: what a
    probe left out, hashed like a build arg), and the parent's own input key in place of
    the parent's tag.

    Pants' {pants.hash} would do on one machine, but it also covers the parent's
    docker-info.json (its image ID, which a rebuild elsewhere changes, and every
    configured registry address); this key depends on inputs only, so two runners, or one
    runner before and after adding a registry, agree on it.
    """
    # The version names how the engine builds, not only what from: v3 builds with the
    # family's fixed epoch (build_image), v4 settles the config (image_config); no image
    # built the older way is reused, from this machine's storage or a cache registry. v5
    # lays the layers out by owner (rechunk).
    h = hashlib.sha256(b"pods-input-key-v5\0")
    root = Path(request.context)
    for path in context_files(root):
        rel = path.relative_to(root).as_posix()
        mode = "x" if os.access(path, os.X_OK) else "-"
        h.update(f"file\0{rel}\0{mode}\0{file_digest(str(path))}\0".encode())
    for name, value in sorted({**request.build_args, **(key_args or {})}.items()):
        if name == "BASE_IMAGE":
            value = f"key:{parent_key(request, value)}"
        h.update(f"arg\0{name}\0{value}\0".encode())
    return h.hexdigest()


def parent_key(request: BuildRequest, parent: str) -> str:
    labels = image_labels(parent)
    if labels is None:
        raise EngineError(f"{request.containerfile}: parent image {parent} is not here; build it first")
    key = labels.get(KEY_LABEL)
    if not key:
        raise EngineError(
            f"{request.containerfile}: parent image {parent} has no {KEY_LABEL} label; "
            "rebuild it through ./pants so it gets one"
        )
    return key


def context_files(root: Path) -> list[Path]:
    # A parent's docker-info.json stands for the parent; its key replaces it (above).
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".docker-info.json"))
