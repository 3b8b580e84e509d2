"""What the engine wrapper does with interrupted and simultaneous builds.

Builds here are small images on top of rootfs, made through the wrapper exactly as Pants
calls it (`docker build --tag <key tag> ... --file <Containerfile> <context>`).
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


@pytest.fixture(scope="module")
def rootfs_id() -> str:
    return json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]


def context(*lines: str) -> Path:
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "Containerfile").write_text("\n".join(lines) + "\n")
    return ctx


def build_argv(ctx: Path, key: str) -> list[str]:
    return [
        ENGINE,
        "build",
        "--tag",
        f"localhost/pods-test-{ctx.name}:{key}",
        "--file",
        str(ctx / "Containerfile"),
        str(ctx),
    ]


def working_containers() -> set[str]:
    out = engine("ps", "--all", "--external", "--format", "{{.ID}}").stdout
    return set(out.split())


def exists(ref: str) -> bool:
    return engine("image", "exists", ref, check=False).returncode == 0


def test_ctrl_c_during_a_build_tags_nothing_and_leaves_no_working_container(rootfs_id: str) -> None:
    key = secrets.token_hex(32)
    ctx = context(f"FROM {rootfs_id}", "RUN sleep 120")
    before = working_containers()
    proc = subprocess.Popen(
        build_argv(ctx, key),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while working_containers() == before:  # the RUN step has started
        assert proc.poll() is None and time.monotonic() < deadline, "the build never started its RUN step"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)

    assert proc.returncode != 0
    assert "build interrupted; nothing was tagged" in out
    ref = f"localhost/pods-test-{ctx.name}:{key}"
    assert not exists(ref)
    assert working_containers() <= before


def test_two_builds_of_one_key_build_once(rootfs_id: str) -> None:
    key = secrets.token_hex(32)
    ctx = context(f"FROM {rootfs_id}", f"RUN sleep 8 && echo {key} > /tmp/once")
    first = subprocess.Popen(
        build_argv(ctx, key), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(2)
    second = subprocess.Popen(
        build_argv(ctx, key), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    outs = [p.communicate(timeout=600)[0] for p in (first, second)]
    try:
        assert [p.returncode for p in (first, second)] == [0, 0], outs
        built = [o for o in outs if f"key {key[:12]} built in" in o]
        waited = [o for o in outs if "is being built by another run; waiting for it" in o]
        assert len(built) == 1 and len(waited) == 1, outs
        assert f"key {key[:12]} exists locally; build skipped" in waited[0]
        ids = {o.strip().splitlines()[-1] for o in outs}
        assert len(ids) == 1 and ids.pop().startswith("Successfully built ")
    finally:
        engine("rmi", "--force", f"localhost/pods-test-{ctx.name}:{key}", check=False)


def test_a_second_package_run_builds_nothing_and_says_so(rootfs_id: str) -> None:
    key = secrets.token_hex(32)
    ctx = context(f"FROM {rootfs_id}", "LABEL pods.test=noop")
    ref = f"localhost/pods-test-{ctx.name}:{key}"
    try:
        first = subprocess.run(build_argv(ctx, key) + [], capture_output=True, text=True, timeout=600)
        assert first.returncode == 0, first.stdout + first.stderr
        again = subprocess.run(
            [
                ENGINE,
                "build",
                "--tag",
                ref,
                "--tag",
                f"localhost/pods-test-{ctx.name}:latest",
                "--file",
                str(ctx / "Containerfile"),
                str(ctx),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert again.returncode == 0
        pod = ctx.name
        assert f"pods: {pod}: key {key[:12]} exists locally; build skipped" in again.stdout
        image = engine("image", "inspect", "--format", "{{.Id}}", ref).stdout.strip()
        assert again.stdout.strip().splitlines()[-1] == f"Successfully built {image}"
        # Every tag Pants asked for names the image, though nothing was built.
        assert (
            engine(
                "image", "inspect", "--format", "{{.Id}}", f"localhost/pods-test-{ctx.name}:latest"
            ).stdout.strip()
            == image
        )
        labels = json.loads(engine("image", "inspect", "--format", "{{json .Labels}}", ref).stdout)
        assert labels["io.github.bazzite-ai.pods.key"] == key
    finally:
        engine("rmi", "--force", ref, check=False)
