"""Which components an image is built without: PODS_EXCLUSIONS names a list in
build_files/exclusions.toml; the installer gets its names, and the image is labelled with
the list and with what it (and its ancestors) lack, as bare component names."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import EngineError, image_labels
from pod_lock import context_lock
from pods_contract import EXCLUDED_LABEL, LIST_LABEL, parse_excluded, render_excluded
from request import NO_EXCLUSIONS, BuildRequest

LISTS = "build_files/exclusions.toml"


@dataclass(frozen=True)
class Exclusions:
    list_name: str = ""
    names: tuple[str, ...] = ()  # the list's component names
    lacks: tuple[str, ...] = ()  # what this image and its ancestors are built without

    def build_args(self) -> list[str]:
        """What `podman build` gets: the installer's list and the image's labels."""
        if not self.list_name:
            return []
        return [
            "--build-arg",
            f"PODS_EXCLUDE={','.join(self.names)}",
            "--label",
            f"{LIST_LABEL}={self.list_name}",
            "--label",
            f"{EXCLUDED_LABEL}={render_excluded(self.lacks)}",
        ]


def exclusions(request: BuildRequest) -> Exclusions:
    name = request.build_args.get("PODS_EXCLUSIONS", "")
    if name in NO_EXCLUSIONS:
        return Exclusions()
    names = sorted(read_list(Path(request.context, LISTS), name))
    lacks: set[str] = set()
    parent = request.build_args.get("BASE_IMAGE")
    if parent:
        lacks.update(parse_excluded((image_labels(parent) or {}).get(EXCLUDED_LABEL, "")))
    lock = context_lock(request)
    if lock:
        lacks.update({item["name"] for item in lock.get("vendor", [])} & set(names))
    return Exclusions(name, tuple(names), tuple(sorted(lacks)))


def read_list(path: Path, name: str) -> dict:
    try:
        import tomllib
    except ImportError as e:  # python < 3.11
        raise EngineError("PODS_EXCLUSIONS needs python3 >= 3.11 (tomllib) on the host") from e
    try:
        lists = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise EngineError(f"{path}: missing from the build context; add build_files:exclusions") from e
    except tomllib.TOMLDecodeError as e:
        raise EngineError(f"{LISTS}: not valid TOML ({e}); fix the file") from e
    if not isinstance(lists.get(name), dict):
        known = ", ".join(sorted(k for k, v in lists.items() if isinstance(v, dict))) or "none"
        raise EngineError(
            f"{LISTS}: no list [{name}] (PODS_EXCLUSIONS={name}); lists: {known}. "
            "Set PODS_EXCLUSIONS to one of them, or to none (or empty) to build everything"
        )
    return lists[name]
