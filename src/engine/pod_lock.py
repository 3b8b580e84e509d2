"""The pod's lock as the build context holds it: read through the contract, and checked
against the pod.yaml beside it.

Runs for every build whose inputs changed (never on the no-op path, which hashes nothing),
so a lock with a merge conflict left in it, or one older than its pod.yaml, stops the
build with one line instead of a traceback or a silently ignored edit. What a stale lock
does is PODS_STALE_LOCK's choice, as [python].invalid_lockfile_behavior is in Pants:
`error` (the default) fails the build, `warn` says so and builds, `ignore` builds. It is
read from the environment (./pants writes it to .pods/engine.env), never from a build
arg: build args enter the input key.
"""

from __future__ import annotations

import os
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import EngineError, say
from pods_contract import BUILD_FILES, ContractError, bytes_sha256, parse_lock, relock_command, repo_lock_path
from request import BuildRequest

STALE_LOCK_BEHAVIOURS = ("error", "warn", "ignore")


def context_lock(request: BuildRequest) -> dict | None:
    """The pod's lock in the build context, schema-checked; None when it has none."""
    path = Path(request.context, repo_lock_path(request.pod))
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        return parse_lock(text, repo_lock_path(request.pod))
    except ContractError as e:
        raise EngineError(str(e)) from None


def stale_lock_behaviour() -> str:
    value = os.environ.get("PODS_STALE_LOCK", "") or "error"
    if value not in STALE_LOCK_BEHAVIOURS:
        raise EngineError(
            f"PODS_STALE_LOCK={value}: expected one of {', '.join(STALE_LOCK_BEHAVIOURS)}; "
            "fix it in your environment (./pants passes it to the engine)"
        )
    return value


def check_lock(request: BuildRequest) -> None:
    """A bad lock fails the build; a stale one does what PODS_STALE_LOCK says."""
    lock = context_lock(request)
    pod_yaml = Path(request.context, BUILD_FILES, request.pod, "pod.yaml")
    if lock is None or not pod_yaml.is_file():
        return  # rootfs-like pods without a pod.yaml, or a context without it
    behaviour = stale_lock_behaviour()
    locked = (lock.get("inputs") or {}).get("pod_yaml_sha256")
    if behaviour == "ignore" or locked == bytes_sha256(pod_yaml.read_bytes()):
        return
    line = (
        f"{repo_lock_path(request.pod)}: stale: {BUILD_FILES}/{request.pod}/pod.yaml changed after "
        f"{request.pod} was locked (inputs.pod_yaml_sha256); re-lock with `{relock_command(request.pod)}`"
    )
    if behaviour == "error":
        raise EngineError(f"{line}, or set PODS_STALE_LOCK=warn to build it as locked")
    say(f"warning: {line}; building it as locked (PODS_STALE_LOCK=warn)")
