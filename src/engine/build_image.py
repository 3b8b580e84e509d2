"""The build stage: `podman build` of one image, labelled with its input key.

The whole log goes to .pods/logs/<pod>-<key12>.log; its last 60 lines are printed on
failure. Ctrl-C lets podman stop on its own, and removes the working container the
interrupted build left; tags are only applied to a finished image, so nothing
half-built carries a key.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import re
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import ENGINE, say
from exclusions import Exclusions
from input_key import context_files
from pods_contract import KEY_LABEL, SOURCE_DATE_EPOCH, builds_lock_path
from records import private_tmp, state_dir
from request import BuildRequest


class BuildStopped(Exception):
    """The build failed or was interrupted (already said); exit with `code`."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def build_image(
    request: BuildRequest, key: str, argv: list[str], secrets: list[str], plan: Exclusions
) -> str:
    """Build the image; return its ID."""
    log = state_dir("logs") / f"{request.pod}-{key[:12]}.log"
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        iid = Path(tmp, "iid")
        # Docker image format: OCI image configs have no HEALTHCHECK; podman drops it silently.
        # --timestamp: `created`, the history and every file's mtime in the new layers are
        # the family's epoch, not the clock's (same inputs, same image ID).
        args = [
            "build",
            "--format",
            "docker",
            "--timestamp",
            str(SOURCE_DATE_EPOCH),
            "--iidfile",
            str(iid),
            *secrets,
            "--label",
            f"{KEY_LABEL}={key}",
        ]
        args += [*plan.build_args(), *argv]
        with open(log, "w") as out:
            inputs = [p.relative_to(request.context).as_posix() for p in context_files(Path(request.context))]
            out.write(f"pods: input key {key} from {', '.join(inputs)} and build args {request.build_args}\n")
            out.flush()
            rc = run_build(request, args, out, log, started)
        if rc == 0:
            stale = steps_before_epoch(iid.read_text().strip(), request.build_args.get("BASE_IMAGE"))
            if stale:
                # podman's layer cache does not know --timestamp: a step cached by a build
                # at the clock's time (before v3 keys, or a plain `podman build` in this
                # storage) comes back with that time, and the image ID with it.
                say(
                    f"{request.pod}: {stale} step(s) came from the layer cache dated by the clock; "
                    "building again without the layer cache"
                )
                with open(log, "a") as out:
                    rc = run_build(request, [*args[:1], "--no-cache", *args[1:]], out, log, started)
        if rc != 0:
            print("\n".join(log.read_text(errors="replace").splitlines()[-60:]))
            say(f"{request.pod}: build failed (exit {rc}); whole log: {log}")
            raise BuildStopped(rc)
        built = iid.read_text().strip()
    say(
        f"{request.pod}: key {key[:12]} built in {time.monotonic() - started:.0f} s"
        + (f", without {', '.join(plan.lacks)} (list {plan.list_name})" if plan.lacks else "")
        + f"; log: {log}"
    )
    return built


def steps_before_epoch(image: str, parent: str | None) -> int:
    """How many of the steps this build added to `parent` are not dated at the family's epoch
    (the parent's own are the parent build's to answer for)."""
    steps = _history(image)[len(_history(parent)) if parent else 0 :]
    return sum(1 for step in steps if _epoch_seconds(step.get("created", "")) != SOURCE_DATE_EPOCH)


def _history(image: str) -> list[dict]:
    return json.loads(
        ENGINE.podman("image", "inspect", "--format", "{{json .History}}", image).stdout or "[]"
    )


def _epoch_seconds(stamp: str) -> int | None:
    # "2025-11-30T00:00:00Z", or with nanoseconds and an offset.
    try:
        whole = re.sub(r"\.\d+", "", stamp).replace("Z", "+00:00")
        return int(datetime.datetime.fromisoformat(whole).timestamp())
    except ValueError:
        return None


@contextlib.contextmanager
def holding_builds_lock() -> Iterator[None]:
    """Shared with every other build; `pods gc` prunes only when it can take it alone."""
    try:
        private_tmp(builds_lock_path().parent.name)
        handle = open(builds_lock_path(), "a")
    except OSError:
        # No private lock folder: gc cannot see this build either way, and says so.
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_SH)
        yield


def run_build(request: BuildRequest, args: list[str], out, log: Path, started: float) -> int:
    with holding_builds_lock():
        return _run_build(request, args, out, log, started)


def _run_build(request: BuildRequest, args: list[str], out, log: Path, started: float) -> int:
    before = working_containers()
    proc = ENGINE.podman_logged(args, out)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # Ctrl-C reaches podman too (same process group); let it stop on its own rather
        # than kill it mid-write.
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        # An interrupted `podman build` leaves its working container behind (buildah's
        # "<image>-working-container"); remove the ones this build made.
        left = remove_working_containers(before, started)
        say(
            f"{request.pod}: build interrupted; nothing was tagged"
            + (f", {left} working container(s) removed" if left else "")
            + f" (log: {log})"
        )
        raise BuildStopped(130) from None


def working_containers() -> dict[str, int]:
    """Containers that exist only in storage (buildah's working containers): ID -> created."""
    result = ENGINE.podman("ps", "--all", "--external", "--format", "json", check=False)
    if result.returncode != 0:
        return {}
    listed = json.loads(result.stdout or "[]")
    return {c["Id"]: int(c.get("Created", 0)) for c in listed if c.get("State") == "storage"}


def remove_working_containers(before: dict[str, int], started_monotonic: float) -> int:
    since = time.time() - (time.monotonic() - started_monotonic) - 1
    ours = [cid for cid, created in working_containers().items() if cid not in before and created >= since]
    for cid in ours:
        ENGINE.podman("rm", "--force", cid, check=False)
    return len(ours)
