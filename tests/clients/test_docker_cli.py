"""The README's `docker run` line, driven by the docker CLI against podman's Docker-API socket.

The image goes to a loopback registry first, so `docker pull` fetches it the way a user's
docker fetches the published one. Runs on rootful podman (the service and its containers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from images.harness import ENGINE, Pod, engine
from publish.registry import running_registry

REGISTRIES_CONF = Path("src/engine/registries.conf")


def docker_cli() -> str:
    # Debian's docker.io puts its client in /usr/bin; a machine may carry another one first on PATH.
    found = shutil.which("docker", path="/usr/bin") or shutil.which("docker")
    if not found:
        pytest.fail("no docker CLI: ./pants installs Debian's docker.io (its NEEDS table)")
    return found


@contextlib.contextmanager
def docker_api(folder: Path, insecure_registry: str) -> Iterator[dict[str, str]]:
    """`podman system service` on a socket of its own; yields the environment for the docker CLI."""
    registries = folder / "registries.conf"
    registries.write_text(
        REGISTRIES_CONF.read_text() + f'\n[[registry]]\nlocation = "{insecure_registry}"\ninsecure = true\n'
    )
    sock = folder / "podman.sock"
    log = open(folder / "service.log", "w")
    service = subprocess.Popen(
        [ENGINE, "system", "service", "--time=0", f"unix://{sock}"],
        env={**os.environ, "CONTAINERS_REGISTRIES_CONF": str(registries)},
        stdout=log,
        stderr=log,
    )
    env = {**os.environ, "DOCKER_HOST": f"unix://{sock}", "DOCKER_CONFIG": str(folder / "docker-config")}
    try:
        deadline = time.monotonic() + 30
        while subprocess.run([docker_cli(), "version"], env=env, capture_output=True).returncode != 0:
            if service.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"podman system service did not answer:\n{(folder / 'service.log').read_text()}"
                )
            time.sleep(0.3)
        yield env
    finally:
        service.terminate()
        service.wait(timeout=30)
        log.close()


def docker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([docker_cli(), *args], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"docker {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
    return result


def test_docker_pulls_and_runs_base_as_jovian(tmp_path: Path) -> None:
    pod = Pod.under_test()
    with running_registry() as registry:
        ref = registry.ref("bazzite-ai-pod-base", uuid.uuid4().hex[:10])
        engine("push", "--tls-verify=false", pod.image_id, f"docker://{ref}")
        workspace = tmp_path / "workspace"
        workspace.mkdir()
        (workspace / "from-host").write_text("hi\n")
        try:
            with docker_api(tmp_path, registry.address) as env:
                docker(env, "pull", ref)
                # The README's line: docker run --rm -it -v "$PWD:/workspace" <image>
                out = docker(
                    env,
                    "run",
                    "--rm",
                    "-v",
                    f"{workspace}:/workspace",
                    ref,
                    "sh",
                    "-c",
                    "id -un; ls /workspace",
                )
                assert out.stdout.split() == ["jovian", "from-host"]
        finally:
            engine("rmi", ref, check=False)
