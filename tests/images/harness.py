"""The one layer image tests use to talk to a container engine.

Every test gets the image it is testing from the `docker-info.json` that Pants built for it
(a runtime package dependency), and runs it by image ID, so a test can never pick up a stale
tag. Containers get unique names and are always removed, even when a test fails, so many
image tests can run side by side on one machine.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import socket
import subprocess
import time
import tomllib
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pods_contract
import pytest

# Shipped into the test sandbox by the src/engine:engine files target.
ENGINE = str(Path("src/engine/docker").resolve())
ENTRYPOINT = "/usr/local/bin/pods-entrypoint"
# The named exclusion lists (build_files:exclusions), and the labels the engine wrapper
# puts on an image built with one (the contract names them).
EXCLUSIONS = Path("build_files/exclusions.toml")
LABEL_EXCLUSIONS = pods_contract.LIST_LABEL
LABEL_EXCLUDED = pods_contract.EXCLUDED_LABEL


def engine(
    *args: str,
    check: bool = True,
    timeout: float = 600,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run the engine (podman, or docker with PODS_ENGINE=docker) and capture its output.

    `env` is merged over this process's environment (e.g. private_storage's, or a
    PODS_* setting), so a test never needs a runner of its own.
    """
    result = subprocess.run(
        [ENGINE, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        env={**os.environ, **env} if env is not None else None,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"`{' '.join(args[:4])} ...` exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def private_storage(root: Path) -> dict[str, str]:
    """The environment for an engine storage of its own under `root` (empty at first).

    Tests of what happens on another runner, or with nothing built yet, use one so the
    machine's shared storage is neither read nor disturbed.
    """
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/graph"\n')
    return dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))


def upstream_version(debian_version: str) -> str:
    """`1:2.47.3-0+deb13u1` -> `2.47.3`: what a tool prints for its Debian package."""
    version = debian_version.split(":", 1)[-1]
    version = version.rsplit("-", 1)[0] if "-" in version else version
    return re.split(r"[+~]", version)[0]


@dataclass(frozen=True)
class Pod:
    """A built pod image, as Pants reported it."""

    name: str
    image_id: str
    tags: tuple[str, ...]

    @classmethod
    def under_test(cls) -> Pod:
        name = os.environ["POD_UNDER_TEST"]
        info_path = Path("pods") / f"{name}.docker-info.json"
        info = json.loads(info_path.read_text())
        tags = tuple(t["name"] for r in info["registries"] for t in r["tags"])
        image_id = info["image_id"]
        assert re.fullmatch(r"[0-9a-f]{12,64}", image_id), f"{info_path}: no usable image_id: {image_id!r}"
        return cls(name=name, image_id=image_id, tags=tags)

    def inspect(self) -> dict:
        return json.loads(engine("image", "inspect", self.image_id).stdout)[0]

    @functools.cached_property
    def labels(self) -> dict[str, str]:
        return self.inspect()["Config"].get("Labels") or {}

    def excluded(self) -> dict[str, str]:
        """{component: "excluded by list <list>: <reason>"} for what this image was built without."""
        names = pods_contract.parse_excluded(self.labels.get(LABEL_EXCLUDED, ""))
        if not names:
            return {}
        list_name = self.labels.get(LABEL_EXCLUSIONS, "")
        if list_name == "auto":  # left out by the build's probe (src/engine/vendor_probe.py)
            why = "excluded by PODS_EXCLUSIONS=auto: its upstream was unreachable when the image was built"
            return {n: why for n in names}
        reasons = tomllib.loads(EXCLUSIONS.read_text()).get(list_name, {})
        unknown = [n for n in names if n not in reasons]
        # A component left out for no recorded reason is a build defect, not a skip.
        assert (
            not unknown
        ), f"{self.name}: label {LABEL_EXCLUDED} names {unknown}, not in [{list_name}] of {EXCLUSIONS}"
        return {n: f"excluded by list {list_name}: {reasons[n]}" for n in names}

    def run(
        self,
        *command: str,
        user: str | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 600,
        input: str | None = None,
        extra: Sequence[str] = (),
        image_entrypoint: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run one command in a fresh, removed-afterwards container.

        Commands go through the family's common entrypoint (which loads each pod's
        environment), so an ancestor's tests also run on a child with its own entrypoint;
        `image_entrypoint=True` tests the image's own.
        """
        args = ["run", "--rm", "--name", f"podtest-{self.name}-{uuid.uuid4().hex[:10]}"]
        if not image_entrypoint:
            args += ["--entrypoint", ENTRYPOINT]
        if input is not None:
            args.append("-i")
        if user:
            args += ["--user", user]
        for key, value in (env or {}).items():
            args += ["--env", f"{key}={value}"]
        args += [*extra, self.image_id, *command]
        return engine(*args, check=check, timeout=timeout, input=input)

    def sh(self, script: str, **kwargs) -> str:
        """Run a bash script through the pod's entrypoint; return its stdout, stripped."""
        return self.run("bash", "-c", script, **kwargs).stdout.strip()

    @contextlib.contextmanager
    def service(
        self,
        *command: str,
        ports: Sequence[int] = (),
        env: dict[str, str] | None = None,
        extra: Sequence[str] = (),
    ) -> Iterator[Service]:
        """Start a detached container publishing `ports` on loopback; always removed."""
        name = f"podtest-{self.name}-{uuid.uuid4().hex[:10]}"
        # A free port can be taken by a parallel test between our probe and podman's bind;
        # then try again with fresh ports rather than fail.
        for attempt in range(5):
            mapping = {port: free_port() for port in ports}
            args = ["run", "--detach", "--name", name]
            for inner, outer in mapping.items():
                args += ["--publish", f"127.0.0.1:{outer}:{inner}"]
            for key, value in (env or {}).items():
                args += ["--env", f"{key}={value}"]
            args += [*extra, self.image_id, *command]
            started = engine(*args, check=False)
            if started.returncode == 0:
                break
            engine("rm", "--force", "--time", "0", name, check=False)
            if "address already in use" not in started.stderr or attempt == 4:
                raise AssertionError(f"could not start {name}:\n{started.stderr}")
        try:
            yield Service(name=name, ports=mapping)
        finally:
            engine("rm", "--force", "--time", "0", name, check=False)


def skip_if_excluded(pod: Pod, component: str) -> None:
    """Skip the calling test, saying why, when `pod` was built without `component`.

    A component that is not excluded is tested for real: its absence then fails the test.
    """
    why = pod.excluded().get(component)
    if why:
        pytest.skip(f"{component} {why}")


@dataclass(frozen=True)
class Service:
    name: str
    ports: dict[int, int]

    def port(self, inner: int) -> int:
        return self.ports[inner]

    def logs(self) -> str:
        result = engine("logs", self.name, check=False)
        return result.stdout + result.stderr

    def exec(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        return engine("exec", self.name, *command, check=check)

    def wait_for_port(self, inner: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port(inner)), timeout=2):
                    return
            time.sleep(0.5)
        raise AssertionError(f"port {inner} of {self.name} did not open in {timeout}s:\n{self.logs()}")
