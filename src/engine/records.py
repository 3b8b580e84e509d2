"""Every record the engine keeps between runs: where it lives, how it is read and written.

One rule for all of them: a record is a JSON object written atomically (a temp file
renamed over it), and a missing or broken record reads as {} (a record only ever saves
work; without it the engine asks podman or the registry). Registry facts are trusted for a
window of seconds (TrustWindow), stored as `{ref: [time, value]}`.

Machine-wide records (the key index, build locks) live in the shared temp dir, in folders
only this user can have written (private_tmp); the rest under the checkout's .pods/.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checkout import ROOT
from engine_binary import say


def state_dir(name: str) -> Path:
    """A folder under the checkout's .pods/ (or the temp dir when that is not writable)."""
    folder = ROOT / ".pods" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"pods-{name}"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def private_tmp(name: str) -> Path:
    """A folder in the shared temp dir that only this user can have written to.

    Machine-wide records live there (every checkout of this user shares them); a folder of
    that name made by someone else could point a key at another of our images, so it is
    refused (OSError), and callers fall back to asking podman or to the checkout.
    """
    folder = Path(tempfile.gettempdir(), name)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    st = folder.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise OSError(f"{folder} is not a private folder of this user")
    return folder


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data.encode() if isinstance(data, str) else data)
    tmp.replace(path)


def read_record(path: Path) -> dict:
    """The record at `path`, or {} when it is missing or broken."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_record(path: Path, data: dict) -> None:
    """Write atomically; a record that cannot be written is only work saved, so say nothing."""
    with contextlib.suppress(OSError):
        write_atomic(path, json.dumps(data))


class TrustWindow:
    """`ref -> value` facts trusted for `seconds` after they were noted, as `[time, value]`."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds

    def entries(self) -> dict[str, list]:
        """The facts still trusted, each as [time noted, value]."""
        now = time.time()
        return {
            ref: entry
            for ref, entry in read_record(self.path).items()
            # Anything not [time, value] (an older layout) is simply not trusted.
            if isinstance(entry, list)
            and len(entry) == 2
            and isinstance(entry[0], int | float)
            and 0 <= now - entry[0] < self.seconds
        }

    def fresh(self) -> dict[str, Any]:
        return {ref: entry[1] for ref, entry in self.entries().items()}

    def note(self, facts: dict[str, Any]) -> None:
        """Record `facts` as of now; stale entries are dropped on the way."""
        now = time.time()
        write_record(self.path, {**self.entries(), **{ref: [now, value] for ref, value in facts.items()}})


@contextlib.contextmanager
def key_lock(pod: str, key: str) -> Iterator[None]:
    """One build per input key on this machine at a time.

    Two `./pants package` runs (two worktrees, two terminals, a CI retry) may ask for the
    same image at once; the second waits for the first and then finds the image built.
    """
    try:
        folder = private_tmp(f"pods-locks-{os.getuid()}")
    except OSError:
        folder = state_dir("locks")  # still one build per key in this checkout
    with open(folder / f"{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{pod}: key {key[:12]} is being built by another run; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield
