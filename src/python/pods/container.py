"""The container engine, as `pods` runs it on the host: one class, like Pants' DockerBinary.

Every engine command line `pods` runs (the debian resolver, `pods gc`, `pods graph
--measure`) is built here and goes through the repo's wrapper (src/engine/docker: podman
plus the repo's engine configuration). A caller says what it wants (does an image exist,
run a script in it, list images by label); this module says how.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

from pods_contract import is_loopback_registry

from pods.errors import PodsError


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str

    def last_error_line(self, default: str) -> str:
        lines = self.stderr.strip().splitlines()
        return lines[-1] if lines else default


@dataclass(frozen=True)
class Engine:
    wrapper: str  # src/engine/docker, or a stand-in a test names by PODS_ENGINE_WRAPPER

    @staticmethod
    def of(engine: Engine | str | PathLike) -> Engine:
        return engine if isinstance(engine, Engine) else Engine(str(engine))

    def run(
        self, args: Sequence[str], timeout: float = 600, input: str | None = None, check: bool = False
    ) -> Result:
        """`<wrapper> ARGS`, captured; with `check`, a failure is one PodsError line."""
        what = f"`{' '.join(args[:2])}`"
        try:
            proc = subprocess.run(
                [self.wrapper, *args], input=input, capture_output=True, text=True, timeout=timeout
            )
        except FileNotFoundError:
            raise PodsError(self.wrapper, "the container engine wrapper is missing") from None
        except subprocess.TimeoutExpired:
            raise PodsError(self.wrapper, f"{what} did not finish within {timeout:.0f} s") from None
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        if check and result.returncode != 0:
            raise PodsError(self.wrapper, f"{what} failed: {result.last_error_line('no output')}")
        return result

    def image_exists(self, image: str) -> bool:
        return self.run(["image", "exists", image], timeout=60).returncode == 0

    def run_script(self, image: str, script: str, timeout: float) -> Result:
        """Run a shell script as root in a throwaway container of `image` (--rm: nothing is left)."""
        argv = ["run", "--rm", "-i", "--user", "root", "--network", "host", image, "sh", "-s"]
        return self.run(argv, timeout=timeout, input=script)

    def images_labelled(self, label: str) -> list[dict[str, Any]]:
        """The engine's JSON record of every image carrying `label` (once per tag)."""
        listing = self.run(["images", "--filter", f"label={label}", "--format", "json"], check=True)
        return json.loads(listing.stdout or "[]")

    def image_size(self, image: str) -> int:
        """Bytes the image takes in the engine's storage, as `podman images` counts them."""
        return int(self.run(["image", "inspect", "--format", "{{.Size}}", image], 120, check=True).stdout)

    def remove_image(self, image_id: str) -> Result:
        return self.run(["rmi", "--force", image_id])

    def prune_images(self) -> Result:
        """Dangling layers, left by removed images (the caller knows no build is running)."""
        return self.run(["image", "prune", "--force"])

    def working_containers(self) -> dict[str, int]:
        """Containers that exist only in storage (a build's working container): ID -> created,
        in seconds since the epoch (the clock's: containers are not dated by the build)."""
        listing = self.run(["ps", "--all", "--external", "--format", "json"], check=True)
        return {
            c["Id"]: int(c.get("Created", 0))
            for c in json.loads(listing.stdout or "[]")
            if c.get("State") == "storage"
        }

    def remove_container(self, container_id: str) -> Result:
        return self.run(["rm", "--force", container_id])


def _skopeo() -> str:
    # Image tests run under Pants' `env -i`, where PATH may not name /usr/bin.
    return shutil.which("skopeo", path=os.environ.get("PATH", "") + ":/usr/bin:/bin") or "skopeo"


def tls_args(ref: str) -> list[str]:
    return ["--tls-verify=false"] if is_loopback_registry(ref) else []


def registry_manifest(ref: str) -> Result:
    """The manifest a registry serves for `ref` (no `docker://`), as `skopeo inspect --raw` reads it."""
    argv = [_skopeo(), "inspect", "--raw", *tls_args(ref), f"docker://{ref}"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise PodsError("skopeo", "not on PATH; run ./pants once as root to install it") from None
    return Result(proc.returncode, proc.stdout, proc.stderr)


def copy_compressed(image_id: str, out_dir: str) -> None:
    """`skopeo copy` of a stored image into `out_dir` with gzip-compressed layers, as a push
    makes them; a failure raises subprocess.CalledProcessError carrying skopeo's stderr."""
    argv = [_skopeo(), "copy", "--quiet", "--dest-compress", "--dest-compress-format", "gzip"]
    argv += [f"containers-storage:{image_id}", f"dir:{out_dir}"]
    subprocess.run(argv, check=True, capture_output=True, text=True, timeout=1800)
