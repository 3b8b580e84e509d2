"""Debian: the full closure a pod adds, resolved by apt itself.

- A child pod is resolved inside its parent image (apt's own resolver, the image's own
  apt sources): `apt-get install --print-uris` names exactly what apt would download on
  top of the parent, and `apt-cache show` gives each package's SHA256 from the signed
  index.
- The root (no parent) is resolved by mmdebstrap exactly as build_files/rootfs/mkrootfs.py
  builds it, and the lock holds the whole root.

Without `upgrade`, previously locked versions apt can still install are kept (a pod.yaml
names packages without versions, so every old pin still satisfies it).
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from pods_contract import parse_stanzas

from pods.container import Engine
from pods.errors import PodsError, pod_error
from pods.podspec import PodSpec, field_error
from pods.resolvers import ParentImageOutdated, Resolution, ResolveRequest
from pods.settings import Settings

COMPONENT = "debian"
# The markers our in-container script prints between its sections.
_SECTION = re.compile(r"^@@(\w+)(?: (.*))?$")


@dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    architecture: str
    sha256: str
    size: int

    def as_lock(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "architecture": self.architecture,
            "sha256": self.sha256,
            "size": self.size,
        }


def wanted(spec: PodSpec, parent: str | None) -> bool:
    """The root always gets its whole closure; a child only when it adds packages."""
    return spec.debian is not None and (parent is None or bool(spec.debian.packages))


def resolve(request: ResolveRequest) -> Resolution | None:
    spec = request.spec.debian
    if not wanted(request.spec, request.parent):
        return None
    if request.parent is None:
        if not spec.suite or not spec.variant:
            raise pod_error(
                request.spec.name,
                COMPONENT,
                "a root pod needs debian.suite and debian.variant, "
                f"found suite={spec.suite!r} variant={spec.variant!r}",
            )
        return _resolve_root(request)
    if spec.suite or spec.variant:
        raise pod_error(
            request.spec.name,
            COMPONENT,
            "debian.suite and debian.variant belong to the root pod only; "
            f"{request.spec.name} inherits them from {request.parent}",
        )
    return _resolve_in_parent(request)


# --- pure parsing ----------------------------------------------------------------------


def parse_print_uris(text: str) -> list[tuple[str, str, str]]:
    """`apt-get install --print-uris` lines -> (name, version, architecture) from the .deb name."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith("'") and parts[1].endswith(".deb"):
            name, version, arch = unquote(parts[1][: -len(".deb")]).split("_")
            out.append((name, version, arch))
    return out


def closure_from_index(pod: str, wanted: Iterable[tuple[str, str, str]], show: str) -> list[DebPackage]:
    """Join what apt chose with the index stanzas that carry SHA256 and Size."""
    index = {(s["Package"], s.get("Version"), s.get("Architecture")): s for s in parse_stanzas(show)}
    packages = []
    for name, version, arch in wanted:
        stanza = index.get((name, version, arch))
        if stanza is None or "SHA256" not in stanza:
            raise pod_error(
                pod, COMPONENT, f"apt chose {name} {version} ({arch}) but its index has no SHA256 for it"
            )
        packages.append(DebPackage(name, version, arch, stanza["SHA256"], int(stanza["Size"])))
    return sorted(packages, key=lambda p: (p.name, p.architecture))


def apt_error(pod: str, where: str, stderr: str, packages: tuple[str, ...] = ()) -> PodsError:
    """The apt error as one line: `E: Unable to locate package x` -> unknown package 'x'."""
    errors = [line[3:] for line in stderr.splitlines() if line.startswith(("E: ", "W: "))] or [
        stderr.strip() or "no output"
    ]
    m = re.match(r"Unable to locate package (\S+)", errors[0])
    if m:
        name = m.group(1)
        field = f"{COMPONENT}.packages" + (f"[{packages.index(name)}]" if name in packages else "")
        return field_error(
            pod,
            field,
            f"unknown package {name!r}: expected a package in {where}, found none; "
            "check the name or remove it",
        )
    m = re.match(r"Version '([^']+)' for '([^']+)' was not found", errors[0])
    if m:
        return pod_error(
            pod, COMPONENT, f"package {m.group(2)!r}: expected version {m.group(1)} in {where}, found none"
        )
    if any("Failed to fetch" in e or "index files failed" in e or "Could not resolve" in e for e in errors):
        return pod_error(pod, COMPONENT, f"the apt sources of {where} did not answer: {errors[0]}")
    return pod_error(pod, COMPONENT, f"apt failed in {where}: {errors[0]}")


def previous_pins(request: ResolveRequest) -> dict[str, str]:
    previous = request.previous_section(COMPONENT)
    if request.upgrade or not previous:
        return {}
    return {p["name"]: p["version"] for p in previous.get("packages", [])}


# --- child pods: inside the parent image -------------------------------------------------

_CHILD_SCRIPT = r"""
set -u
export DEBIAN_FRONTEND=noninteractive
echo "@@ARCH $(dpkg --print-architecture)"
echo "@@SUITE $(. /etc/os-release && echo "$VERSION_CODENAME")"
lock=/usr/share/pods/{parent}.lock.json
if [ -f "$lock" ]; then echo "@@PARENTLOCK $(sha256sum < "$lock" | cut -d' ' -f1)"; fi
fail() {{ echo "@@FAIL $1"; cat /tmp/err; exit 0; }}
apt-get update -qq >/dev/null 2>/tmp/err || fail update
grep -q '^[EW]: \(Failed to fetch\|Some index files\)' /tmp/err && fail update
apt-get install --print-uris -qq --no-install-recommends {packages} >/tmp/uris 2>/tmp/err || fail install
# Keep earlier pins apt can still install, for packages apt chose anyway.
candidates=""
for pin in {preferred}; do
  name=${{pin%%=*}}
  if grep -q "^'[^']*' ${{name}}_" /tmp/uris; then candidates="$candidates $pin"; fi
done
# One apt-cache call when the archive still serves every pin (the usual case); one per
# pin only when it does not, to find which (hundreds of calls take minutes).
pins=""
if [ -n "$candidates" ] && apt-cache show --no-all-versions $candidates >/dev/null 2>&1; then
  pins=$candidates
else
  for pin in $candidates; do
    if apt-cache show --no-all-versions "$pin" >/dev/null 2>&1; then pins="$pins $pin"; fi
  done
fi
if [ -n "$pins" ] \
   && apt-get install --print-uris -qq --no-install-recommends {packages} $pins >/tmp/uris2 2>/dev/null; then
  mv /tmp/uris2 /tmp/uris
fi
echo "@@URIS"; cat /tmp/uris
echo "@@SHOW"
names=$(sed -n "s/^'[^']*' \([^_]*\)_.*/\1/p" /tmp/uris | sort -u)
if [ -n "$names" ]; then apt-cache show $names 2>/tmp/err || fail show; fi
echo "@@END"
"""


def split_sections(stdout: str) -> dict[str, tuple[str | None, str]]:
    """Our script's output: marker -> (argument on the marker line, text until the next marker)."""
    out: dict[str, tuple[str | None, str]] = {}
    current, arg, lines = None, None, []
    for line in stdout.splitlines():
        m = _SECTION.match(line)
        if m:
            if current:
                out[current] = (arg, "\n".join(lines))
            current, arg, lines = m.group(1), m.group(2), []
        else:
            lines.append(line)
    if current:
        out[current] = (arg, "\n".join(lines))
    return out


def _resolve_in_parent(request: ResolveRequest) -> Resolution:
    pod, parent, settings = request.spec.name, request.parent, request.settings
    image = settings.parent_image.format(pod=parent)
    engine = Engine(settings.engine)
    if not engine.image_exists(image):
        raise ParentImageOutdated(
            pod,
            COMPONENT,
            f"parent image {image} not found in local storage; "
            f"build it with `./pants package build_files/{parent}`",
        )
    sections = _apt_in_image(engine, image, request)
    image_lock_sha256 = _checked_parent_lock(sections, image, request)
    closure = closure_from_index(pod, parse_print_uris(sections["URIS"][1]), sections["SHOW"][1])
    return Resolution(
        section={
            "suite": sections["SUITE"][0],
            "architecture": sections["ARCH"][0],
            "packages": [p.as_lock() for p in closure],
        },
        # The image by what it holds (the parent lock it was checked to carry), never by
        # its local tag: the same lock on any machine.
        inputs={"method": "apt-in-parent-image", "image_lock_sha256": image_lock_sha256},
    )


def _apt_in_image(engine: Engine, image: str, request: ResolveRequest) -> dict[str, tuple[str | None, str]]:
    """Our script's sections, run in a throwaway container of `image`; apt's failure as one line."""
    pod, packages = request.spec.name, request.spec.debian.packages
    script = _CHILD_SCRIPT.format(
        parent=request.parent,
        packages=" ".join(shlex.quote(p) for p in packages),
        preferred=" ".join(shlex.quote(f"{n}={v}") for n, v in sorted(previous_pins(request).items())),
    )
    result = engine.run_script(image, script, timeout=max(request.settings.timeout, 600))
    sections = split_sections(result.stdout)
    if "FAIL" in sections:
        raise apt_error(pod, f"the parent image {image}", sections["FAIL"][1], packages)
    if result.returncode != 0 or "END" not in sections:
        raise pod_error(
            pod,
            COMPONENT,
            f"could not run apt in {image} (exit {result.returncode}): "
            f"{result.stderr.strip().splitlines()[-1:] or 'no output'}",
        )
    return sections


def _checked_parent_lock(
    sections: dict[str, tuple[str | None, str]], image: str, request: ResolveRequest
) -> str:
    """The sha256 of the parent lock the image carries, which must be the one this child is
    locked against: the closure depends on what the parent holds, and a guess is no lock."""
    parent, found = request.parent, sections.get("PARENTLOCK", (None, ""))[0]
    if found != request.parent_lock_sha256:
        raise ParentImageOutdated(
            request.spec.name,
            COMPONENT,
            f"parent image {image} was built from another build_files/{parent}/pod.lock.json "
            f"(expected sha256 {request.parent_lock_sha256}, found {found or 'no lock in the image'}); "
            f"rebuild it with `./pants package build_files/{parent}`",
        )
    return found


# --- the root: mmdebstrap -----------------------------------------------------------------


def host_architecture() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _resolve_root(request: ResolveRequest) -> Resolution:
    pod, spec, settings = request.spec.name, request.spec.debian, request.settings
    arch = host_architecture()
    include = list(spec.packages)
    root = _mmdebstrap_closure(pod, spec.variant, spec.suite, arch, include, settings)
    pins = previous_pins(request)
    # Keep earlier pins for packages that are still in the root, if apt can still get them.
    keep = [
        f"{name}={pins[name]}"
        for name, version, _ in root.installed
        if name in pins and pins[name] != version
    ]
    if keep:
        try:
            root = _mmdebstrap_closure(pod, spec.variant, spec.suite, arch, include + keep, settings)
        except PodsError:
            pass  # an old pin left the archive: the fresh closure stands
    packages = closure_from_index(pod, root.installed, root.show)
    return Resolution(
        section={"suite": spec.suite, "architecture": arch, "packages": [p.as_lock() for p in packages]},
        inputs={"method": "mmdebstrap", "suite": spec.suite, "variant": spec.variant, "architecture": arch},
    )


@dataclass(frozen=True)
class RootClosure:
    installed: tuple[tuple[str, str, str], ...]  # (name, version, architecture) in the new root
    show: str  # apt-cache show of exactly those versions, from the new root's indexes


def _mmdebstrap_closure(
    pod: str, variant: str, suite: str, arch: str, include: list[str], settings: Settings
) -> RootClosure:
    with tempfile.TemporaryDirectory(prefix="pods-root-") as tmp:
        out = Path(tmp)
        # The hooks run while apt's indexes are still in the new root, as in mkrootfs.py.
        fields = "${Package}\\t${Version}\\t${Architecture}\\n"
        list_hook = f"chroot \"$1\" dpkg-query -W -f='{fields}' > {out}/installed"
        show_hook = (
            f'chroot "$1" apt-cache show $(cut -f1,2 --output-delimiter== {out}/installed) > {out}/show'
        )
        argv = ["mmdebstrap", "--quiet", f"--variant={variant}", f"--architectures={arch}"]
        if include:
            argv.append(f"--include={','.join(include)}")
        argv += [f"--customize-hook={list_hook}", f"--customize-hook={show_hook}", suite, "/dev/null"]
        if settings.debian_mirror:
            argv.append(settings.debian_mirror)
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=max(settings.timeout, 900))
        except FileNotFoundError:
            raise pod_error(
                pod,
                COMPONENT,
                "mmdebstrap is not installed; expected it on PATH (apt-get install mmdebstrap)",
            ) from None
        if proc.returncode != 0:
            raise apt_error(pod, f"the {suite} archive (mmdebstrap)", proc.stderr, tuple(include))
        lines = (out / "installed").read_text().splitlines()
        return RootClosure(
            tuple(tuple(line.split("\t")) for line in lines if line), (out / "show").read_text()
        )
