"""The engine's machine-wide records (input key -> image ID, build locks) live in the
shared temp dir; a folder there that another user made or can write is not trusted.

Were it trusted, anyone on the machine could point an input key at another image in our
storage (an old release, say), and the next build would tag that image as current.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from local_index import key_index, storage_record_key
from records import key_lock, state_dir


def test_the_key_index_is_made_private(temp_dir: Path) -> None:
    folder = key_index()
    assert folder.parent == temp_dir
    assert folder.stat().st_mode & 0o777 == 0o700


def test_a_key_index_others_can_write_is_refused(temp_dir: Path) -> None:
    folder = temp_dir / f"pods-keys-{storage_record_key()}"
    folder.mkdir()
    folder.chmod(0o777)
    with pytest.raises(OSError, match="not a private folder of this user"):
        key_index()


def test_a_key_index_that_is_a_link_is_refused(temp_dir: Path) -> None:
    elsewhere = temp_dir / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (temp_dir / f"pods-keys-{storage_record_key()}").symlink_to(elsewhere)
    with pytest.raises(OSError, match="not a private folder of this user"):
        key_index()


@pytest.mark.skipif(os.getuid() != 0, reason="making a folder owned by another user needs root")
def test_a_key_index_another_user_made_is_refused(temp_dir: Path) -> None:
    folder = temp_dir / f"pods-keys-{storage_record_key()}"
    folder.mkdir(mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(OSError, match="not a private folder of this user"):
        key_index()


def test_a_lock_folder_others_can_write_falls_back_to_the_checkout(temp_dir: Path) -> None:
    shared = temp_dir / f"pods-locks-{os.getuid()}"
    shared.mkdir()
    shared.chmod(0o777)
    with key_lock("rootfs", "0" * 64):
        assert not (shared / f"{'0' * 64}.lock").exists()
        assert (state_dir("locks") / f"{'0' * 64}.lock").exists()
