"""The one place the engine runs podman and skopeo (as Pants' DockerBinary does for docker).

Every other module, sbom.py and supply_chain.py included, asks ENGINE; so does every
message: `say` for progress, EngineError for the one `pods: error:` line main prints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from dataclasses import dataclass
from typing import IO

import checkout  # noqa: F401  (puts pods_contract on the path)
from pods_contract import is_loopback_registry as is_loopback


class EngineError(Exception):
    """One line for the user: what failed, and what to do."""


def say(line: str) -> None:
    print(f"pods: {line}", flush=True)


def split_ref(ref: str) -> tuple[str, str]:
    """`host/ns/name:tag` -> (`host/ns/name`, `tag`); a digest reference is not a tag."""
    if "@" in ref:
        raise EngineError(f"{ref}: a digest reference has no tag to push; push a tagged image")
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon <= slash:
        return ref, "latest"
    return ref[:colon], ref[colon + 1 :]


def registry_host(ref: str) -> str:
    return ref.split("/", 1)[0]


# Every push compresses the same way (podman 4.3 has no level option: the library's default
# level), so a layer gets the same blob digest in every registry, pushed from any machine
# with the same podman; not left to "whatever the source storage had".
PUSH_COMPRESSION = ["--compression-format", "gzip"]


def tls_args(ref: str) -> list[str]:
    return ["--tls-verify=false"] if is_loopback(ref) else []


def last_line(result: subprocess.CompletedProcess) -> str:
    """The reason a process gave for failing: its last line on stderr, or its exit code."""
    lines = (result.stderr or "").strip().splitlines()
    return lines[-1] if lines else f"exit {result.returncode}"


@dataclass(frozen=True)
class LocalImage:
    id: str
    labels: dict[str, str]
    tags: tuple[str, ...]


class EngineBinary:
    """podman for local images and builds, skopeo for reading a registry."""

    podman_exe = "podman"
    skopeo_exe = "skopeo"

    def podman(
        self, *args: str, check: bool = True, timeout: float | None = None
    ) -> subprocess.CompletedProcess:
        result = subprocess.run([self.podman_exe, *args], capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise EngineError(f"`podman {' '.join(args[:3])}` failed: {last_line(result)}")
        return result

    def skopeo(self, *args: str) -> subprocess.CompletedProcess:
        """skopeo on the engine's own storage (CONTAINERS_STORAGE_CONF, as podman reads it)."""
        result = subprocess.run([self.skopeo_exe, *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise EngineError(f"`skopeo {' '.join(args[:2])}` failed: {last_line(result)}")
        return result

    def podman_logged(self, args: list[str], log: IO) -> subprocess.Popen:
        """A long podman process (a build) writing to `log`; the caller waits for it."""
        return subprocess.Popen([self.podman_exe, *args], stdout=log, stderr=subprocess.STDOUT)

    def local_image(self, ref: str) -> LocalImage | None:
        """ID, labels and tags of a local image in one engine call, or None."""
        fmt = "{{.Id}}\t{{json .Labels}}\t{{json .RepoTags}}"
        result = self.podman("image", "inspect", "--format", fmt, ref, check=False)
        if result.returncode != 0:
            return None
        image, labels, tags = result.stdout.strip().split("\t")
        return LocalImage(image, json.loads(labels) or {}, tuple(json.loads(tags) or ()))

    def inspect(self, ref: str) -> dict:
        return json.loads(self.podman("image", "inspect", ref).stdout)[0]

    def manifest(self, ref: str) -> tuple[str, dict] | None:
        """(digest, manifest) a registry reference resolves to, or None."""
        cmd = [self.skopeo_exe, "inspect", "--raw", *tls_args(ref), f"docker://{ref}"]
        result = subprocess.run(cmd, capture_output=True)
        if result.returncode != 0:
            return None
        return "sha256:" + hashlib.sha256(result.stdout).hexdigest(), json.loads(result.stdout)


ENGINE = EngineBinary()


@functools.cache
def image_labels(ref: str) -> dict[str, str] | None:
    """Labels of a local image (a parent's are asked for twice per build); they never change."""
    image = ENGINE.local_image(ref)
    return image.labels if image else None
