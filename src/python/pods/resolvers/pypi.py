"""PyPI: uv resolves pod.yaml's requirements into hash-pinned wheels for the image's Python.

Every pin an ancestor locked is a constraint of the resolve, so a child can never move
it, and the child's lock holds only the packages it adds. Without `upgrade`, the previous
pins are uv's preferences (its existing output file), so they stay while they satisfy
pod.yaml. uv runs isolated: no uv.toml, no pip.conf, no UV_*/PIP_* from the caller.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pods.errors import PodsError, pod_error
from pods.podspec import field_error, normalize_pypi_name, pypi_requirement_name
from pods.podspec import PodSpec
from pods.resolvers import Resolution, ResolveRequest
from pods.settings import Settings
from pods.uv_tool import PYTHON_PLATFORM, uv_compile, uv_version

COMPONENT = "pypi"


@dataclass(frozen=True)
class Pin:
    name: str  # normalized (PEP 503)
    version: str
    hashes: tuple[str, ...]  # "sha256:<hex>", sorted

    def as_lock(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "hashes": list(self.hashes)}


def wanted(spec: PodSpec, parent: str | None) -> bool:
    return spec.pypi is not None


def resolve(request: ResolveRequest) -> Resolution | None:
    spec = request.spec.pypi
    if not wanted(request.spec, request.parent):
        return None
    pod = request.spec.name
    inherited = ancestor_pins(request.ancestor_locks)
    for lock in request.ancestor_locks:
        theirs = (lock.get(COMPONENT) or {}).get("python")
        if theirs and theirs != spec.python:
            raise pod_error(
                pod,
                COMPONENT,
                f"python: expected {theirs} as ancestor {lock['pod']} locked, found {spec.python}",
            )
    previous = request.previous_section(COMPONENT)
    preferences = (
        {} if request.upgrade or not previous else {p["name"]: p for p in previous.get("packages", [])}
    )
    pins = compile_with_uv(pod, spec.packages, spec.python, inherited, preferences, request.settings)
    added = [p for p in pins if p.name not in inherited]
    return Resolution(
        section={
            "python": spec.python,
            "requirements": list(spec.packages),
            "packages": [p.as_lock() for p in sorted(added, key=lambda p: p.name)],
        },
        inputs={
            "method": "uv pip compile",
            "uv": uv_version(),
            "python_platform": PYTHON_PLATFORM,
            "constraints_from": [lock["pod"] for lock in request.ancestor_locks if lock.get(COMPONENT)],
        },
    )


def ancestor_pins(ancestor_locks: tuple[dict[str, Any], ...]) -> dict[str, str]:
    """name -> version of every PyPI package any ancestor installs."""
    pins: dict[str, str] = {}
    for lock in ancestor_locks:
        for package in (lock.get(COMPONENT) or {}).get("packages", []):
            pins[package["name"]] = package["version"]
    return pins


def parse_uv_output(text: str) -> list[Pin]:
    """uv's requirements.txt with --generate-hashes (no annotations) -> pins."""
    pins = []
    for entry in re.split(r"\n(?=\S)", text.strip()):
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        head = entry.split("\\", 1)[0].split(";", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==(\S+)$", head)
        if not m:
            continue
        hashes = tuple(sorted(set(re.findall(r"--hash=(sha256:[0-9a-f]{64})", entry))))
        pins.append(Pin(normalize_pypi_name(m.group(1)), m.group(3), hashes))
    return pins


def compile_with_uv(
    pod: str,
    requirements: tuple[str, ...],
    python: str,
    constraints: dict[str, str],
    preferences: dict[str, dict[str, Any]],
    settings: Settings,
) -> list[Pin]:
    with tempfile.TemporaryDirectory(prefix="pods-pypi-") as tmp:
        folder = Path(tmp)
        (folder / "requirements.in").write_text("".join(f"{r}\n" for r in requirements))
        (folder / "constraints.txt").write_text(
            "".join(f"{n}=={v}\n" for n, v in sorted(constraints.items()))
        )
        # uv keeps the pins of an existing output file unless told to upgrade.
        (folder / "requirements.txt").write_text(
            "".join(f"{p['name']}=={p['version']}\n" for _, p in sorted(preferences.items()))
        )
        proc = uv_compile(
            folder,
            python,
            settings,
            ["requirements.in", "--constraint", "constraints.txt", "--output-file", "requirements.txt"]
            + ["--generate-hashes", "--no-header", "--no-annotate"],
        )
        if proc is None:
            raise pod_error(
                pod, COMPONENT, f"the index did not answer within {settings.timeout * 10:.0f} s"
            ) from None
        if proc.returncode != 0:
            raise uv_error(pod, proc.stderr, constraints, settings, requirements)
        return parse_uv_output((folder / "requirements.txt").read_text())


def requirement_field(requirements: tuple[str, ...], name: str) -> str:
    """The pod.yaml field that asked for `name`: pypi.packages[i], or the list for a dependency."""
    wanted = normalize_pypi_name(name)
    for i, requirement in enumerate(requirements):
        if pypi_requirement_name(requirement) == wanted:
            return f"{COMPONENT}.packages[{i}]"
    return f"{COMPONENT}.packages"


def _no_version_error(
    pod: str, m: re.Match[str], constraints: dict[str, str], index: str, requirements: tuple[str, ...]
) -> PodsError:
    """uv found no version of a package in range: an ancestor's pin, or none released."""
    name, wanted = normalize_pypi_name(m.group(1)), f"{m.group(2)}{m.group(3)}"
    if name in constraints:
        return pod_error(
            pod, COMPONENT, f"{name}: expected {wanted}, found {constraints[name]} locked by an ancestor"
        )
    return field_error(
        pod,
        requirement_field(requirements, name),
        f"unknown version of {name!r}: expected a version {wanted}, found none on {index}; "
        "ask for a released version",
    )


def uv_error(
    pod: str,
    stderr: str,
    constraints: dict[str, str],
    settings: Settings,
    requirements: tuple[str, ...] = (),
) -> PodsError:
    """uv's failure as one line: what was expected versus what the index has."""
    text = " ".join(stderr.split())
    index = settings.pypi_index_url or "the default index"
    m = re.search(r"Because (\S+) was not found in the package registry", text)
    if m:
        return field_error(
            pod,
            requirement_field(requirements, m.group(1)),
            f"unknown package {m.group(1)!r}: expected a project on {index}, found none; "
            "check the name or remove it",
        )
    m = re.search(r"Because there is no version of (\S+?)(==|>=|<=|~=|!=|>|<)(\S+?)(?: and| we|,)", text)
    if m:
        return _no_version_error(pod, m, constraints, index, requirements)
    m = re.search(r"Because you require (\S+?)((?:==|>=|<=|~=|!=|>|<)\S+) and \1==(\S+?),", text)
    if m and normalize_pypi_name(m.group(1)) in constraints:
        return pod_error(
            pod,
            COMPONENT,
            f"{normalize_pypi_name(m.group(1))}: expected {m.group(2)}, "
            f"found {m.group(3)} locked by an ancestor",
        )
    if re.search(r"Failed to fetch|error sending request|Connect|timed out|dns error", text):
        cause = re.findall(r"cause: ([^:]+?)(?= cause:|$)", text)
        return pod_error(pod, COMPONENT, f"{index} did not answer: {cause[-1] if cause else text}")
    # A long derivation stays one line, cut where it stops helping.
    text = re.sub(r"^error: ", "", text)
    return pod_error(
        pod, COMPONENT, (text[:400] + " ...") if len(text) > 400 else text or "uv failed with no message"
    )
