"""`pods gc` on real images: superseded keys go, current keys and other images stay.

gc prunes dangling layers machine-wide, so it runs in a storage of its own (the `storage`
fixture): in the shared one it would prune under the builds of tests running beside it.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from images.harness import ENGINE, engine
from pods.errors import PodsError
from pods.gc import collect_garbage


def keyed_image(repository: str, parent: str, key: str) -> str:
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "Containerfile").write_text(f"FROM {parent}\nLABEL pods.test.gc={key}\n")
    out = engine(
        "build",
        "--tag",
        f"{repository}:{key}",
        "--tag",
        f"{repository}:latest",
        "--file",
        str(ctx / "Containerfile"),
        str(ctx),
    ).stdout
    return out.strip().splitlines()[-1].removeprefix("Successfully built ")


def docker_info(folder: Path, pod: str, repository: str, image_id: str) -> None:
    address, name = repository.rsplit("/", 1)
    folder.mkdir(exist_ok=True)
    (folder / f"{pod}.docker-info.json").write_text(
        json.dumps(
            {
                "version": 1,
                "image_id": image_id,
                "registries": [{"alias": None, "address": address, "repository": name, "tags": []}],
            }
        )
    )


def test_gc_removes_superseded_keys_and_keeps_current_and_foreign(
    tmp_path: Path, storage: dict[str, str]
) -> None:
    rootfs = storage["TEST_ROOTFS"]
    ours = f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/bazzite-ai-pod-test"
    foreign = f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/someone-else"
    old = keyed_image(ours, rootfs, secrets.token_hex(32))
    current = keyed_image(ours, rootfs, secrets.token_hex(32))  # moves :latest to itself
    other = keyed_image(foreign, rootfs, secrets.token_hex(32))
    info = tmp_path / "dist"
    docker_info(info, "test", ours, current)
    try:
        said: list[str] = []
        dry = collect_garbage(ENGINE, info, dry_run=True, say=said.append)
        assert len(dry.removed) == 1 and engine("image", "exists", old, check=False).returncode == 0

        result = collect_garbage(ENGINE, info, say=said.append)
        assert len(result.removed) == 1 and result.removed[0].startswith("bazzite-ai-pod-test:")
        assert engine("image", "exists", old, check=False).returncode != 0
        assert engine("image", "exists", current, check=False).returncode == 0
        assert engine("image", "exists", other, check=False).returncode == 0
        assert engine("image", "exists", rootfs, check=False).returncode == 0
    finally:
        for image in (old, current, other):
            engine("rmi", "--force", image, check=False)


def test_gc_without_docker_info_refuses_to_guess(tmp_path: Path) -> None:
    with pytest.raises(PodsError) as e:
        collect_garbage(ENGINE, tmp_path)
    assert "run `./pants package build_files::` first" in str(e.value)


def test_gc_removes_a_superseded_parent_and_its_superseded_child_of_the_same_age(
    tmp_path: Path, storage: dict[str, str]
) -> None:
    # The engine builds with the family's fixed epoch, so parent and child have the same
    # `created`: gc cannot order them by age, and must still get both (the child first).
    rootfs = storage["TEST_ROOTFS"]
    ours = f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/bazzite-ai-pod-test"
    parent = keyed_image(ours, rootfs, secrets.token_hex(32))
    child = keyed_image(ours, parent, secrets.token_hex(32))
    current = keyed_image(ours, rootfs, secrets.token_hex(32))
    created = {engine("image", "inspect", "--format", "{{.Created}}", i).stdout for i in (parent, child)}
    assert len(created) == 1, created
    info = tmp_path / "dist"
    docker_info(info, "test", ours, current)
    try:
        result = collect_garbage(ENGINE, info, say=lambda line: None)
        assert len(result.removed) == 2, result
        assert result.in_use == []
        for gone in (parent, child):
            assert engine("image", "exists", gone, check=False).returncode != 0
        assert engine("image", "exists", current, check=False).returncode == 0
    finally:
        for image in (child, parent, current):
            engine("rmi", "--force", image, check=False)


def test_gc_leaves_dangling_layers_while_a_build_holds_the_builds_lock(
    tmp_path: Path, storage: dict[str, str], temp_dir: Path
) -> None:
    # temp_dir: the lock lives in this test's own temp dir, so builds of other tests running
    # now (which hold the machine's lock) do not decide this test's outcome.
    from build_image import holding_builds_lock

    rootfs = storage["TEST_ROOTFS"]
    ours = f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/bazzite-ai-pod-test"
    current = keyed_image(ours, rootfs, secrets.token_hex(32))
    dangling = keyed_image(f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/scratch", rootfs, "x")
    engine("untag", dangling)
    info = tmp_path / "dist"
    docker_info(info, "test", ours, current)
    said: list[str] = []
    try:
        with holding_builds_lock():
            collect_garbage(ENGINE, info, say=said.append)
        assert any("dangling layers kept: a build is running" in line for line in said), said
        assert engine("image", "exists", dangling, check=False).returncode == 0

        said.clear()
        collect_garbage(ENGINE, info, say=said.append)
        assert not any("dangling layers kept" in line for line in said), said
        assert engine("image", "exists", dangling, check=False).returncode != 0
    finally:
        for image in (current, dangling):
            engine("rmi", "--force", image, check=False)


def working_containers() -> set[str]:
    listing = json.loads(engine("ps", "--all", "--external", "--format", "json").stdout or "[]")
    return {c["Id"] for c in listing if c.get("State") == "storage"}


def test_gc_removes_the_working_container_a_killed_build_left(
    tmp_path: Path, storage: dict[str, str], temp_dir: Path, plain_podman: tuple[str, dict[str, str]]
) -> None:
    # A `podman build` killed mid-step (SIGKILL: no chance to clean up) leaves buildah's
    # working container, and the layers under it, in storage.
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "Containerfile").write_text(f"FROM {storage['TEST_ROOTFS']}\nRUN sleep 600\n")
    before = working_containers()
    podman, env = plain_podman
    build = subprocess.Popen(
        [podman, "build", "--file", str(ctx / "Containerfile"), str(ctx)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not working_containers() - before and time.monotonic() < deadline:
            time.sleep(1)
        left = working_containers() - before
        assert left, "the build never made a working container"
    finally:
        os.killpg(build.pid, signal.SIGKILL)
        build.wait()
    assert working_containers() - before == left

    info = tmp_path / "dist"
    ours = f"localhost/pods-gc-{uuid.uuid4().hex[:8]}/bazzite-ai-pod-test"
    current = keyed_image(ours, storage["TEST_ROOTFS"], secrets.token_hex(32))
    docker_info(info, "test", ours, current)
    said: list[str] = []
    try:
        # Fresh: it may be a plain build still running; kept.
        collect_garbage(ENGINE, info, say=said.append)
        assert working_containers() >= left, said
        # Old enough (the test says "now"): removed, and said.
        collect_garbage(ENGINE, info, say=said.append, left_behind_after=0)
        assert not working_containers() & left, said
        assert any(
            line.startswith(f"removed {len(left)} working container(s) interrupted builds left: ")
            for line in said
        ), said
    finally:
        for cid in left:
            engine("rm", "--force", cid, check=False)
        engine("rmi", "--force", current, check=False)
