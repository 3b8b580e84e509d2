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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pods.deriver import Derived, LockedPod, ResolveRequest
from pods.errors import pod_error
from pods.podspec import normalize_pypi_name
from pods.settings import Settings
from pods.uv_tool import uv_compile

COMPONENT = "pixi"
PLATFORM = "linux-64"
ENVIRONMENT = "default"


@dataclass(frozen=True)
class Artifact:
    name: str
    version: str
    filename: str  # the wheel (or sdist, when there is no wheel) pixi would fetch
    sha256: str


def environment(
    lock: Mapping[str, Any], ancestor_locks: tuple[dict[str, Any], ...]
) -> dict[str, dict[str, Any]]:
    """name -> locked package, for the pod's whole Python environment (ancestors' and its own)."""
    packages: dict[str, dict[str, Any]] = {}
    for each in (*reversed(ancestor_locks), lock):
        for package in (each.get("pypi") or {}).get("packages", []):
            packages[package["name"]] = package
    return dict(sorted(packages.items()))


def python_environment(
    settings: Settings, pod: str, own: Mapping[str, Any], ancestor_locks: tuple[dict[str, Any], ...]
) -> tuple[str, dict[str, dict[str, Any]]] | None:
    """(python, name -> locked package) when `pod` is a pixi pod with a Python environment.

    `own` is the pod's lock, or the sections derived so far in a lock run.
    """
    if pod not in settings.pixi_pods:
        return None
    packages = environment(own, ancestor_locks)
    python = next(
        ((each.get("pypi") or {}).get("python") for each in (own, *ancestor_locks) if each.get("pypi")), None
    )
    return (python, packages) if packages and python else None


class PixiFile:
    """A file beside the lock, derived from the locked Python environment of a pixi pod."""

    name = ""

    def derive(self, request: ResolveRequest) -> Derived | None:
        pod, settings = request.spec.name, request.settings
        found = python_environment(settings, pod, request.sections, request.ancestor_locks)
        return None if found is None else Derived(files=((self.name, self.render(settings, pod, *found)),))

    def stale(self, pod: LockedPod) -> str | None:
        found = python_environment(pod.settings, pod.spec.name, pod.lock, pod.ancestor_locks)
        path, shown = pod.folder / self.name, f"build_files/{pod.spec.name}/{self.name}"
        if found is None:
            return None
        if not path.is_file():
            return f"{shown} is missing"
        problem = self.problem(pod, path, *found)
        return None if problem is None else shown + problem

    def render(self, settings: Settings, pod: str, python: str, packages: dict[str, dict[str, Any]]) -> str:
        raise NotImplementedError

    def problem(
        self, pod: LockedPod, path: Path, python: str, packages: dict[str, dict[str, Any]]
    ) -> str | None:
        """What is wrong with the file as it is (after its name), or None."""
        raise NotImplementedError


class PixiToml(PixiFile):
    """pixi.toml: every package of the environment at exactly its locked version."""

    name = "pixi.toml"

    def render(self, settings: Settings, pod: str, python: str, packages: dict[str, dict[str, Any]]) -> str:
        return render_pixi_toml(pod, python, packages, settings.conda_channel)

    def problem(
        self, pod: LockedPod, path: Path, python: str, packages: dict[str, dict[str, Any]]
    ) -> str | None:
        expected = self.render(pod.settings, pod.spec.name, python, packages)
        return None if path.read_text() == expected else " does not match the locks"


class PixiLock(PixiFile):
    """pixi.lock: the wheel uv picks for each locked package, with its sha256 (asks the index)."""

    name = "pixi.lock"

    def render(self, settings: Settings, pod: str, python: str, packages: dict[str, dict[str, Any]]) -> str:
        return render_pixi_lock(platform_artifacts(settings, pod, python, packages), settings.conda_channel)

    def problem(
        self, pod: LockedPod, path: Path, python: str, packages: dict[str, dict[str, Any]]
    ) -> str | None:
        described = read_pixi_lock(path)
        locked = {name: package["version"] for name, package in packages.items()}
        if {name: version for name, (version, _) in described.items()} != locked:
            return " does not name exactly the locked PyPI packages"
        for name, (_, sha256) in described.items():
            if f"sha256:{sha256}" not in packages[name]["hashes"]:
                return f": {name} has sha256 {sha256}, expected one of the locked hashes"
        return None


DERIVERS = (PixiToml(), PixiLock())


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
    from rattler import Channel, LockChannel, LockFile, LockPlatform

    lock = LockFile([LockPlatform(PLATFORM)])
    # pixi.lock names channels by URL, as pixi itself writes them; a name ("conda-forge")
    # becomes the URL under rattler's default channel alias.
    lock.set_channels(ENVIRONMENT, [LockChannel(Channel(channel).base_url)])
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
