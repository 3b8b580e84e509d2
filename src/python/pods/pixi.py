"""pixi.toml and pixi.lock describing a pod's whole Python environment, written with py-rattler.

For the pods named by PODS_PIXI_PODS (default: nvidia-python and jupyter) `pods lock`
writes, beside pod.lock.json, a pixi workspace for the same environment: every PyPI
package the pod and its ancestors lock, at the same versions.

What pixi.lock holds: the conda channel (a setting, PODS_CONDA_CHANNEL), the platform
(linux-64), and one `pypi:` entry per locked package with its version and the sha256 of
the one wheel uv picks for the pods' platform (x86_64 manylinux_2_28, the pod's Python).
Each location is that wheel's file name, not a URL: the lock names no registry host.
What it lacks: conda packages, starting with python itself. No conda channel is
reachable from the machines that lock, so the conda half of the solve cannot be made;
`pixi install` will re-solve it (and fetch the wheels by name) where a channel is
reachable. pod.lock.json stays the source of truth; these files are derived from it.
"""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pods.errors import pod_error
from pods.podspec import normalize_pypi_name
from pods.settings import Settings

COMPONENT = "pixi"
PLATFORM = "linux-64"
ENVIRONMENT = "default"


@dataclass(frozen=True)
class Artifact:
    name: str
    version: str
    filename: str  # the wheel (or sdist, when there is no wheel) pixi would fetch
    sha256: str


def wanted(settings: Settings, pod: str) -> bool:
    return pod in settings.pixi_pods


def environment(
    lock: dict[str, Any], ancestor_locks: tuple[dict[str, Any], ...]
) -> dict[str, dict[str, Any]]:
    """name -> locked package, for the pod's whole Python environment (ancestors' and its own)."""
    packages: dict[str, dict[str, Any]] = {}
    for each in (*reversed(ancestor_locks), lock):
        for package in (each.get("pypi") or {}).get("packages", []):
            packages[package["name"]] = package
    return dict(sorted(packages.items()))


def files_for(
    settings: Settings, pod: str, lock: dict[str, Any], ancestor_locks: tuple[dict[str, Any], ...]
) -> list[tuple[str, str]]:
    """[(file name, text)] to write beside the pod's lock: none unless the pod is a pixi pod."""
    if not wanted(settings, pod):
        return []
    packages = environment(lock, ancestor_locks)
    python = (lock.get("pypi") or {}).get("python") or next(
        ((a.get("pypi") or {}).get("python") for a in ancestor_locks if a.get("pypi")), None
    )
    if not packages or not python:
        return []
    artifacts = platform_artifacts(settings, pod, python, packages)
    return [
        ("pixi.toml", render_pixi_toml(pod, python, packages, settings.conda_channel)),
        ("pixi.lock", render_pixi_lock(artifacts, settings.conda_channel)),
    ]


# --- pure rendering ------------------------------------------------------------------------


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_pixi_toml(pod: str, python: str, packages: dict[str, dict[str, Any]], channel: str) -> str:
    """Every package of the environment at exactly its locked version: pixi.toml and pixi.lock agree."""
    lines = [
        "# Written by `pods lock` from the pod.lock.json files; do not edit (see src/python/pods/pixi.py).",
        "[workspace]",
        f"name = {_toml_string(pod)}",
        f"channels = [{_toml_string(channel)}]",
        f"platforms = [{_toml_string(PLATFORM)}]",
        "",
        "[dependencies]",
        f"python = {_toml_string(python + '.*')}",
        "",
        "[pypi-dependencies]",
        *(
            f"{name} = {_toml_string('==' + package['version'])}"
            for name, package in sorted(packages.items())
        ),
    ]
    return "\n".join(lines) + "\n"


def render_pixi_lock(artifacts: list[Artifact], channel: str) -> str:
    from rattler import LockChannel, LockFile, LockPlatform

    lock = LockFile([LockPlatform(PLATFORM)])
    lock.set_channels(ENVIRONMENT, [LockChannel(channel)])
    for a in sorted(artifacts, key=lambda a: a.name):
        lock.add_pypi_package(ENVIRONMENT, LockPlatform(PLATFORM), a.name, a.version, a.filename)
    with tempfile.TemporaryDirectory(prefix="pods-pixi-") as tmp:
        path = Path(tmp) / "pixi.lock"
        lock.to_path(str(path))
        text = path.read_text()
    return add_sha256_lines(text, {a.filename: a.sha256 for a in artifacts})


def add_sha256_lines(text: str, sha256_by_location: dict[str, str]) -> str:
    """py-rattler's add_pypi_package takes no hash: add `sha256:` to each package entry.

    It goes last in the entry's mapping (after name and version); py-rattler reads it back
    as `hashes.sha256` and keeps it through a round trip.
    """
    out: list[str] = []
    in_packages, pending = False, None
    for line in text.splitlines():
        if pending is not None and not line.startswith("  "):
            out.append(f"  sha256: {sha256_by_location[pending]}")
            pending = None
        out.append(line)
        if not line.startswith((" ", "-")):
            in_packages = line == "packages:"
        m = re.match(r"^- pypi: (.+)$", line) if in_packages else None
        if m:
            pending = m.group(1).strip().strip("'\"")
    if pending is not None:
        out.append(f"  sha256: {sha256_by_location[pending]}")
    return "\n".join(out) + "\n"


def read_pixi_lock(path: Path) -> dict[str, tuple[str, str | None]]:
    """name -> (version, sha256) of the pypi packages a pixi.lock names, read by py-rattler."""
    from rattler import LockFile

    env = LockFile.from_path(str(path)).default_environment()
    out = {}
    for package in env.pypi_packages().get(PLATFORM, []):
        hashes = package.hashes
        out[normalize_pypi_name(package.name)] = (
            str(package.version),
            hashes.sha256.hex() if hashes and hashes.sha256 else None,
        )
    return out


# --- the one network step: which file uv picks for our platform ---------------------------


def platform_artifacts(
    settings: Settings, pod: str, python: str, packages: dict[str, dict[str, Any]]
) -> list[Artifact]:
    """For exactly the locked versions, the wheel uv picks for the pods' platform."""
    from pods.resolvers.pypi import uv_compile

    with tempfile.TemporaryDirectory(prefix="pods-pixi-") as tmp:
        folder = Path(tmp)
        (folder / "pins.txt").write_text("".join(f"{n}=={p['version']}\n" for n, p in packages.items()))
        proc = uv_compile(
            folder,
            python,
            settings,
            ["pins.txt", "--no-deps", "--format", "pylock.toml", "-o", "pylock.toml"],
        )
        if proc is None or proc.returncode != 0:
            message = " ".join(proc.stderr.split()) if proc else "the index did not answer in time"
            raise pod_error(pod, COMPONENT, message or "uv failed with no message")
        doc = tomllib.loads((folder / "pylock.toml").read_text())
    artifacts = []
    for entry in doc.get("packages", []):
        name = normalize_pypi_name(entry["name"])
        files = entry.get("wheels") or ([entry["sdist"]] if entry.get("sdist") else [])
        if not files:
            raise pod_error(
                pod, COMPONENT, f"{name} {entry['version']}: expected a wheel or sdist, found none"
            )
        chosen = files[0]
        filename = chosen.get("name") or chosen["url"].rsplit("/", 1)[-1]
        sha256 = chosen["hashes"]["sha256"]
        if f"sha256:{sha256}" not in packages[name]["hashes"]:
            raise pod_error(
                pod,
                COMPONENT,
                f"{name}: expected {filename} to be one of the locked hashes, found sha256:{sha256}",
            )
        artifacts.append(Artifact(name, entry["version"], filename, sha256))
    return artifacts


def why_stale(
    settings: Settings,
    pod: str,
    folder: Path,
    lock: dict[str, Any],
    ancestor_locks: tuple[dict[str, Any], ...],
) -> str | None:
    """Offline: do pixi.toml and pixi.lock still describe the environment the locks hold?"""
    if not wanted(settings, pod):
        return None
    packages = environment(lock, ancestor_locks)
    if not packages:
        return None
    for name in ("pixi.toml", "pixi.lock"):
        if not (folder / name).is_file():
            return f"build_files/{pod}/{name} is missing"
    described = read_pixi_lock(folder / "pixi.lock")
    locked = {name: package["version"] for name, package in packages.items()}
    if {name: version for name, (version, _) in described.items()} != locked:
        return f"build_files/{pod}/pixi.lock does not name exactly the locked PyPI packages"
    for name, (_, sha256) in described.items():
        if f"sha256:{sha256}" not in packages[name]["hashes"]:
            return (
                f"build_files/{pod}/pixi.lock: {name} has sha256 {sha256}, expected one of the locked hashes"
            )
    python = next(
        (each.get("pypi") or {}).get("python") for each in (lock, *ancestor_locks) if each.get("pypi")
    )
    if (folder / "pixi.toml").read_text() != render_pixi_toml(pod, python, packages, settings.conda_channel):
        return f"build_files/{pod}/pixi.toml does not match the locks"
    return None
