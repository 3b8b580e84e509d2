"""Two CI runners with separate podman storage share one registry as their image cache.

Runner A is this machine's storage, where Pants built base. It pushes base under its input
key. Runner B starts from empty storage and is asked to build base and then devops exactly
as Pants asks the wrapper to: it pulls base by key instead of building it, and builds
devops on top of the pulled image.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import ENGINE
from publish.registry import Registry, running_registry

NAMESPACE = "bazzite-ai"


def key_tag(info: dict) -> str:
    (name,) = [t["name"] for t in info["registries"][0]["tags"] if t["template"] == "{pants.hash}"]
    return name


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


@pytest.fixture(scope="module")
def runner_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("runner-b")
    conf = root / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/graph"\n'
    )
    env = dict(os.environ, CONTAINERS_STORAGE_CONF=str(conf))
    yield env
    subprocess.run([ENGINE, "system", "reset", "--force"], env=env, capture_output=True)
    shutil.rmtree(root, ignore_errors=True)


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([ENGINE, *args], capture_output=True, text=True, timeout=1500, env=env)
    assert result.returncode == 0, f"{args[:2]} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def test_runner_b_pulls_base_by_key_and_builds_devops_on_it(
    registry: Registry, runner_b: dict[str, str]
) -> None:
    base = json.loads(Path("pods/base.docker-info.json").read_text())
    base_key_tag = key_tag(base)
    cache = f"{registry.address}/{NAMESPACE}"

    # Runner A: publish base under its key to the shared registry.
    base_key = base_key_tag.rsplit(":", 1)[1]
    run("push", "--tls-verify=false", base["image_id"], f"{cache}/bazzite-ai-pod-base:{base_key}")

    # Runner B starts empty.
    assert run("images", "-q", env=runner_b).stdout.strip() == ""
    env = dict(runner_b, PODS_CACHE_REGISTRY=cache, PODS_EXCLUSIONS="offline")

    # Pants would ask for base first (same key: same inputs), then devops FROM base's key tag.
    got_base = run(
        "build",
        "--tag", base_key_tag,
        "--build-arg", "PODS_EXCLUSIONS=offline",
        "--file", "build_files/base/Containerfile",
        ".",
        env=env,
    )
    assert f"pods: base: key {base_key[:12]} pulled from {cache}; build skipped" in got_base.stdout
    assert f"Successfully built {base['image_id']}" in got_base.stdout

    devops_key = secrets.token_hex(32)
    devops_tag = f"ghcr.io/{NAMESPACE}/bazzite-ai-pod-devops:{devops_key}"
    got_devops = run(
        "build",
        "--tag", devops_tag,
        "--build-arg", f"BASE_IMAGE={base_key_tag}",
        "--build-arg", "PODS_EXCLUSIONS=offline",
        "--file", "build_files/devops/Containerfile",
        ".",
        env=env,
    )
    assert f"pods: devops: key {devops_key[:12]} built in" in got_devops.stdout
    # devops sits on exactly the pulled base: base's layers are a prefix of devops's.
    def layers(ref: str) -> list[str]:
        out = run("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref, env=runner_b).stdout
        return json.loads(out)

    base_layers = layers(base_key_tag)
    assert layers(devops_tag)[: len(base_layers)] == base_layers
    # ...and B's base is runner A's image, byte for byte (same config digest = same ID).
    assert run("image", "inspect", "--format", "{{.Id}}", base_key_tag, env=runner_b).stdout.strip() == base[
        "image_id"
    ]
    # The fresh devops went to the shared registry under its key for the next runner.
    assert devops_key in registry.tags(f"{NAMESPACE}/bazzite-ai-pod-devops")
