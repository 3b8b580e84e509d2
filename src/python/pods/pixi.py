"""pixi.toml and pixi.lock for the pods whose Python environment pixi should describe."""

from __future__ import annotations

from typing import Any

from pods.settings import Settings


def files_for(settings: Settings, pod: str, lock: dict[str, Any], ancestor_locks: tuple[dict[str, Any], ...]) -> list[tuple[str, str]]:
    return []
