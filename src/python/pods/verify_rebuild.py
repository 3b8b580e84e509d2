"""The rebuild `pods verify` checks against: what a stranger would do. A copy of the working
tree in a temp folder (the files git tracks or would track, uncommitted edits included), Pants
with no daemon and empty caches, an empty private engine storage and no cache registry, so
nothing built before can stand in for a build; all of it removed afterwards, also on failure
or Ctrl-C, so a verify leaves no images or mounts behind in the user's machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from pods.errors import PodsError
from pods.verify_images import Storage

# The nested Pants must not inherit the variables of the Pants (or pex) that runs us.
_INHERITED_PREFIXES = ("PEX_", "PANTS_", "PYTHON", "VIRTUAL_ENV", "PODS_BUILDROOT", "PODS_REPO")
_LOG_LINES_ON_FAILURE = 40


def copy_tree(source: Path, dest: Path) -> int:
    """The files git tracks or would track (not ignored), as they are on disk; returns how many."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    copied = 0
    for name in filter(None, listed.split(b"\0")):
        src = source / os.fsdecode(name)
        if not os.path.lexists(src):  # deleted in the working tree, not yet in the index
            continue
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
        copied += 1
    return copied


def private_storage(root: Path) -> Path:
    """storage.conf of an empty storage under `root`, for CONTAINERS_STORAGE_CONF."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/graph"\n')
    return conf


def nested_env(storage_conf: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    # No cache registry: an image pulled from it would prove nothing about this build.
    env.update(CONTAINERS_STORAGE_CONF=str(storage_conf), PODS_CACHE_REGISTRY="")
    return env


def pants_command(work: Path, chain: Sequence[str]) -> list[str]:
    # --named-caches-dir stays the default: it holds pip's downloads, not build results.
    return [
        "./pants",
        "--no-pantsd",
        "--no-local-cache",
        f"--local-store-dir={work / 'lmdb_store'}",
        # Pants wants the dist dir inside its buildroot: the copy's own dist/.
        "--pants-distdir=dist",
        "package",
        *(f"build_files/{pod}:{pod}" for pod in chain),
    ]


def _progress(line: str) -> str | None:
    """The nested log's lines worth a user's eye: the engine's, one or two per image."""
    line = line.strip()
    return line if line.startswith("pods: ") else None


def rebuild(repo: Path, chain: Sequence[str], work: Path, say: Callable[[str], None]) -> dict[str, str]:
    """Build `chain` from a copy of `repo` into a private storage under `work`; {pod: image ID}."""
    started = time.monotonic()
    copied = copy_tree(repo, work / "repo")
    say(f"copied {copied} files of {repo} to {work / 'repo'}")
    env = nested_env(private_storage(work / "storage"))
    log = work / "pants.log"
    say(f"building {', '.join(chain)} with empty caches into an empty storage (log: {log})")
    returncode = _run_logged(pants_command(work, chain), work / "repo", env, log, say)
    if returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-_LOG_LINES_ON_FAILURE:]
        print("\n".join(tail), file=sys.stderr)
        raise PodsError(log.name, f"the rebuild failed (Pants exited {returncode}); its last lines are above")
    say(f"rebuilt in {time.monotonic() - started:.0f} s")
    return {pod: image_id_of(work / "repo/dist/pods", pod) for pod in chain}


def _run_logged(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], log: Path, say: Callable[[str], None]
) -> int:
    """Run `argv` with all its output in `log` and its progress lines said; its exit code."""
    with open(log, "w") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()  # the log is there to be tailed while the build runs
                shown = _progress(line)
                if shown:
                    say(f"  {shown}")
        finally:
            # On Ctrl-C, Pants got the signal too; wait so that nothing writes into the
            # storage while it is removed.
            returncode = proc.wait()
    return returncode


def image_id_of(info_dir: Path, pod: str) -> str:
    path = info_dir / f"{pod}.docker-info.json"
    try:
        image_id = json.loads(path.read_text())["image_id"]
    except (OSError, ValueError, KeyError):
        raise PodsError(
            str(path),
            f"no image_id of {pod}; expected the docker-info.json of a package run: "
            f"run `./pants package build_files/{pod}:{pod}`",
        ) from None
    if not image_id or image_id == "<unknown>":
        raise PodsError(str(path), f"image_id is {image_id!r}; expected the ID the engine reported for {pod}")
    return image_id


def unmount_under(root: Path) -> None:
    """The storage's overlay mounts under `root`, deepest first: rmtree cannot cross them."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True)


@contextlib.contextmanager
def workspace(wrapper: str, say: Callable[[str], None]) -> Iterator[tuple[Path, Storage]]:
    """A temp folder and the private storage in it; both gone afterwards, also on failure or
    Ctrl-C."""
    work = Path(tempfile.mkdtemp(prefix="pods-verify-"))
    storage = Storage(wrapper, {**os.environ, "CONTAINERS_STORAGE_CONF": str(work / "storage/storage.conf")})
    try:
        yield work, storage
    finally:
        if (work / "storage/storage.conf").exists():
            storage.remove_all()
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        if work.exists():
            say(f"could not remove {work} entirely; remove it by hand")
