"""Two CI runners with separate podman storage share one registry as their image cache.

Runner A is this machine's storage, where Pants built base. It pushes base under its input
key. Runner B starts from empty storage and is asked to build base and then devops exactly
as Pants asks the wrapper to: it pulls base by key instead of building it, and builds
devops on top of the pulled image.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import engine, private_storage
from pods_contract import KEY_LABEL
from publish.config import build_arg_flags
from publish.registry import Registry, running_registry

NAMESPACE = "bazzite-ai"


def key_tag(info: dict) -> str:
    (name,) = (t["name"] for t in info["registries"][0]["tags"] if t["template"] == "{pants.hash}")
    return name


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    with running_registry() as r:
        yield r


@pytest.fixture(scope="module")
def runner_b(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Runner B's storage configuration (CONTAINERS_STORAGE_CONF): empty at first."""
    root = tmp_path_factory.mktemp("runner-b")
    conf = private_storage(root)["CONTAINERS_STORAGE_CONF"]
    yield conf
    # Only runner B's own storage; its folder goes after.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONTAINERS_STORAGE_CONF", conf)
        engine("rmi", "--all", "--force", check=False)
    shutil.rmtree(root, ignore_errors=True)


def run(*args: str) -> subprocess.CompletedProcess:
    return engine(*args, timeout=1500)


def declaration(pod: str) -> list[str]:
    """The files of the pod's `:declaration` target (build_files/prelude.py): pod.yaml,
    pixi.toml and the files its Containerfile copies in, all but BUILD, the Containerfile,
    JSON, lock, shell and Python files."""
    names, suffixes = {"BUILD", "Containerfile"}, {".json", ".lock", ".sh", ".py"}
    return [
        path.as_posix()
        for path in sorted(Path(f"build_files/{pod}").iterdir())
        if path.is_file() and path.name not in names and path.suffix not in suffixes
    ]


def pants_context(tmp: Path, pod: str, *extra: str) -> Path:
    """The build context Pants hands the wrapper for `pod`: its Containerfile, its lock,
    the exclusion lists, its declaration (pod.yaml, and pixi.toml where it has one) and the
    extra files its BUILD names (parents' docker-info files do not enter the input key, so
    they are left out)."""
    ctx = tmp / f"ctx-{pod}"
    for rel in (
        f"build_files/{pod}/Containerfile",
        f"build_files/{pod}/pod.lock.json",
        "build_files/exclusions.toml",
        *declaration(pod),
        *extra,
    ):
        (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(rel, ctx / rel)
    return ctx


def test_runner_b_pulls_base_by_key_and_builds_devops_on_it(
    registry: Registry, runner_b: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    infos = {pod: json.loads(Path(f"pods/{pod}.docker-info.json").read_text()) for pod in ("rootfs", "base")}
    cache = f"{registry.address}/{NAMESPACE}"

    # Runner A: publish rootfs and base under their input keys to the shared registry.
    keys = {}
    for pod, info in infos.items():
        keys[pod] = run(
            "image",
            "inspect",
            "--format",
            f'{{{{index .Labels "{KEY_LABEL}"}}}}',
            info["image_id"],
        ).stdout.strip()
        run("push", "--tls-verify=false", info["image_id"], f"{cache}/bazzite-ai-pod-{pod}:{keys[pod]}")

    # Runner B starts empty, and is asked what Pants asks: rootfs, base, then devops.
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", runner_b)
    monkeypatch.setenv("PODS_CACHE_REGISTRY", cache)
    assert run("images", "-q").stdout.strip() == ""
    # What Pants passed when it built base here: pants.toml's build args, the launcher's
    # PODS_EXCLUSIONS (or this run's), so both runners compute the same keys.
    common = build_arg_flags()
    rootfs_ctx = pants_context(
        tmp_path,
        "rootfs",
        "build_files/rootfs/rootfs.tar",
        "build_files/pods-install.py",
        "build_files/pods_archive.py",
        "build_files/pods_npm.py",
        "build_files/pods_repro.py",
        "src/python/pods_contract.py",
        "build_files/pods-entrypoint.sh",
    )
    got = {}
    parent_args: list[str] = []
    for pod, ctx in (("rootfs", rootfs_ctx), ("base", pants_context(tmp_path, "base"))):
        got[pod] = run(
            "build",
            "--tag",
            key_tag(infos[pod]),
            *common,
            *parent_args,
            "--file",
            f"{ctx}/build_files/{pod}/Containerfile",
            str(ctx),
        )
        assert (
            f"pods: {pod}: key {keys[pod][:12]} pulled from {cache}; build skipped" in got[pod].stdout
        ), got[pod].stdout
        assert f"Successfully built {infos[pod]['image_id']}" in got[pod].stdout
        parent_args = ["--build-arg", f"BASE_IMAGE={key_tag(infos[pod])}"]

    devops_tag = f"ghcr.io/{NAMESPACE}/bazzite-ai-pod-devops:{secrets.token_hex(32)}"
    devops_ctx = pants_context(tmp_path, "devops")
    got_devops = run(
        "build",
        "--tag",
        devops_tag,
        *common,
        *parent_args,
        "--file",
        f"{devops_ctx}/build_files/devops/Containerfile",
        str(devops_ctx),
    )
    assert re.search(r"pods: devops: key [0-9a-f]{12} built in", got_devops.stdout), got_devops.stdout

    def layers(ref: str) -> list[str]:
        out = run("image", "inspect", "--format", "{{json .RootFS.Layers}}", ref).stdout
        return json.loads(out)

    # devops sits on exactly runner A's base: base's layers are a prefix of devops's, and
    # B's base is A's image (same config digest, so the same ID).
    base_layers = layers(key_tag(infos["base"]))
    assert layers(devops_tag)[: len(base_layers)] == base_layers
    assert (
        run("image", "inspect", "--format", "{{.Id}}", key_tag(infos["base"])).stdout.strip()
        == infos["base"]["image_id"]
    )
    # The fresh devops went to the shared registry under its input key, for the next runner.
    devops_key = run(
        "image",
        "inspect",
        "--format",
        f'{{{{index .Labels "{KEY_LABEL}"}}}}',
        devops_tag,
    ).stdout.strip()
    assert devops_key in registry.tags(f"{NAMESPACE}/bazzite-ai-pod-devops")
