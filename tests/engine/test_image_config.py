"""The config stage (src/engine/image_config.py): the same inputs give the same image ID,
built in two storages, from two folders, at two times; and nothing a user reads is lost.

Builds go through the wrapper as Pants calls it, on rootfs, each storage of the test's own.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from image_config import settled_config
from rechunk import HISTORY_COMMENT
from images.harness import engine
from images.private_rootfs import rootfs_in_private_storage


def build_in(root: Path, steps: list[str], tmp: Path) -> tuple[str, dict, list[dict]]:
    """Build `steps` on rootfs in an empty storage under `root`: (image ID, config, history)."""
    root.mkdir()
    with rootfs_in_private_storage(root) as storage:
        ctx = tmp / f"ctx-{uuid.uuid4().hex[:8]}"
        ctx.mkdir()
        (ctx / "Containerfile").write_text("\n".join([f"FROM {storage['TEST_ROOTFS']}", *steps]) + "\n")
        tag = f"localhost/pods-test-config/{ctx.name}:latest"
        out = engine("build", "--tag", tag, "--file", str(ctx / "Containerfile"), str(ctx))
        image = out.stdout.strip().splitlines()[-1].removeprefix("Successfully built ")
        assert engine("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip() == image
        # The config as stored and pushed, not podman's rendering of it.
        config = json.loads(
            subprocess.run(
                ["skopeo", "inspect", "--raw", "--config", f"containers-storage:{image}"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        history = json.loads(engine("image", "inspect", "--format", "{{json .History}}", image).stdout)
        return image, config, history


def test_two_cold_builds_in_two_storages_give_one_image_id(tmp_path: Path) -> None:
    steps = [f"RUN echo {secrets.token_hex(8)} > /tmp/step", "ENV POD_TEST=1", "RUN ls / > /tmp/listing"]
    first, config, history = build_in(tmp_path / "one", steps, tmp_path)
    time.sleep(1.1)  # another second on the clock: nothing may depend on it
    second, _, _ = build_in(tmp_path / "two", steps, tmp_path)
    assert first == second
    # What only one build had is gone; what a user reads of the history is all there.
    assert not {"container", "container_config", "parent"} & set(config)
    assert not [step for step in history if str(step.get("comment", "")).startswith("FROM ")]
    # The layout stage adds one step per layer it wrote, after the Containerfile's steps.
    chunks = [step for step in history if step.get("comment") == HISTORY_COMMENT]
    assert chunks and all(step["created_by"].startswith("pods: layer ") for step in chunks)
    steps_read = [step for step in history if step.get("comment") != HISTORY_COMMENT]
    own = [step["created_by"] for step in steps_read[-4:]]
    assert own[:3] == [
        f"/bin/sh -c {steps[0].removeprefix('RUN ')}",
        "/bin/sh -c #(nop) ENV POD_TEST=1",
        "/bin/sh -c ls / > /tmp/listing",
    ], own


def test_settling_drops_only_what_one_build_had() -> None:
    config = {
        "created": "2025-11-30T00:00:00Z",
        "container": "a80ae0503bc2",
        "container_config": {"Hostname": "a80ae0503bc2", "Cmd": ["/bin/sh"]},
        "parent": "sha256:2cc811935f89",
        "config": {"Hostname": "a80ae0503bc2", "Env": ["PATH=/usr/bin"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:1", "sha256:2"]},
        "history": [
            {"created": "2025-11-30T00:00:00Z", "created_by": "ADD rootfs.tar /", "comment": "imported"},
            {
                "created": "2025-11-30T00:00:00Z",
                "created_by": "/bin/sh -c true",
                "comment": "FROM 35eed4fa2d89",
            },
        ],
    }
    assert settled_config(config) == {
        "created": "2025-11-30T00:00:00Z",
        "config": {"Hostname": "", "Env": ["PATH=/usr/bin"], "Labels": {"a": "b"}},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:1", "sha256:2"]},
        "history": [
            {"created": "2025-11-30T00:00:00Z", "created_by": "ADD rootfs.tar /", "comment": "imported"},
            {"created": "2025-11-30T00:00:00Z", "created_by": "/bin/sh -c true"},
        ],
    }


@pytest.fixture(autouse=True)
def _fresh_records(temp_dir: Path) -> None:
    """The engine's machine-wide records in the test's own temp dir."""
