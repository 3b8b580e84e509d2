"""Fixtures the publish tests share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from publish.registry import Registry, running_registry


@pytest.fixture
def registry() -> Iterator[Registry]:
    """Debian's docker-registry on a loopback port of its own, empty, for one test."""
    with running_registry() as r:
        yield r
