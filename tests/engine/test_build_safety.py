"""What the engine wrapper does with interrupted and simultaneous builds.

Builds here are small images on top of rootfs, made through the wrapper exactly as Pants
calls it (`docker build --tag <tag> ... --file <Containerfile> <context>`), in a podman
storage of their own: other builds on the machine come and go in the shared one, and
would blur "no working container is left behind".
"""

from __future__ import annotations

import datetime
import json
import os
import re
import secrets
import signal
import subprocess
import time
import uuid
from pathlib import Path


from images.harness import ENGINE, engine
from pods_contract import KEY_LABEL, SOURCE_DATE_EPOCH


def context(*lines: str) -> Path:
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "Containerfile").write_text("\n".join(lines) + "\n")
    return ctx


def build_argv(ctx: Path, *tags: str) -> list[str]:
    args = [ENGINE, "build"]
    for tag in tags or (f"localhost/pods-test-{ctx.name}:latest",):
        args += ["--tag", tag]
    return [*args, "--file", str(ctx / "Containerfile"), str(ctx)]


def working_containers() -> set[str]:
    return set(engine("ps", "--all", "--external", "--format", "{{.ID}}").stdout.split())


def test_ctrl_c_during_a_build_tags_nothing_and_leaves_no_working_container(storage: dict[str, str]) -> None:
    ctx = context(f"FROM {storage['TEST_ROOTFS']}", "RUN sleep 120")
    ref = f"localhost/pods-test-{ctx.name}:latest"
    assert working_containers() == set()
    proc = subprocess.Popen(
        build_argv(ctx),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=storage,
    )
    deadline = time.monotonic() + 120
    while not working_containers():  # the RUN step has started
        assert proc.poll() is None and time.monotonic() < deadline, "the build never started its RUN step"
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=120)

    assert proc.returncode != 0
    assert f"pods: {ctx.name}: build interrupted; nothing was tagged" in out
    assert engine("image", "exists", ref, check=False).returncode != 0
    assert working_containers() == set()


def test_two_builds_of_one_image_build_it_once(storage: dict[str, str]) -> None:
    ctx = context(f"FROM {storage['TEST_ROOTFS']}", f"RUN sleep 8 && echo {secrets.token_hex(8)} > /tmp/once")
    procs = []
    for _ in range(2):
        procs.append(
            subprocess.Popen(
                build_argv(ctx), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=storage
            )
        )
        time.sleep(2)
    outs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    built = [o for o in outs if re.search(r"key [0-9a-f]{12} built in", o)]
    skipped = [o for o in outs if "exists locally; build skipped" in o]
    assert len(built) == 1 and len(skipped) == 1, outs
    # The second either waited on the first's key lock, or found its image right away.
    ids = {o.strip().splitlines()[-1] for o in outs}
    assert len(ids) == 1 and ids.pop().startswith("Successfully built ")


def test_a_second_package_run_builds_nothing_and_says_so(storage: dict[str, str]) -> None:
    ctx = context(f"FROM {storage['TEST_ROOTFS']}", "LABEL pods.test=noop")
    content_tag = f"localhost/pods-test-{ctx.name}:{secrets.token_hex(32)}"
    latest = f"localhost/pods-test-{ctx.name}:latest"
    first = engine(*build_argv(ctx, content_tag)[1:])
    key = engine(
        "image", "inspect", "--format", f'{{{{index .Labels "{KEY_LABEL}"}}}}', content_tag
    ).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key) and f"key {key[:12]} built in" in first.stdout

    # A docker-style caller's --iidfile is written on the skip path too, as podman writes it.
    iidfile = (ctx / "iid").resolve()
    again = engine("build", "--iidfile", str(iidfile), *build_argv(ctx, content_tag, latest)[2:])
    said = rf"^pods: {ctx.name}: key {key[:12]} exists locally; build skipped"
    assert re.search(
        said + r" \(checked at [0-9:]+ in [0-9]+ ms\)$",
        again.stdout,
        re.M,
    ), again.stdout
    image = engine("image", "inspect", "--format", "{{.Id}}", content_tag).stdout.strip()
    assert again.stdout.strip().splitlines()[-1] == f"Successfully built {image}"
    assert iidfile.read_text() == f"sha256:{image}"
    # Every tag Pants asked for names the image, though nothing was built.
    assert engine("image", "inspect", "--format", "{{.Id}}", latest).stdout.strip() == image


def test_a_step_the_layer_cache_holds_from_a_clock_dated_build_is_built_again(
    storage: dict[str, str], plain_podman: tuple[str, dict[str, str]]
) -> None:
    # podman's layer cache does not know --timestamp: without the engine's check, a step a
    # plain `podman build` cached here would come back dated by the clock.
    ctx = context(f"FROM {storage['TEST_ROOTFS']}", f"RUN echo {secrets.token_hex(8)} > /tmp/cached")
    podman, env = plain_podman
    subprocess.run(
        # Docker format, as the engine builds: the layer cache matches steps of that format.
        [podman, "build", "--format", "docker", "--file", str(ctx / "Containerfile"), str(ctx)],
        env=env,
        check=True,
        capture_output=True,
    )
    out = engine(*build_argv(ctx)[1:]).stdout
    assert (
        "1 step(s) came from the layer cache dated by the clock; building again without the layer cache"
        in out
    )
    image = out.strip().splitlines()[-1].removeprefix("Successfully built ")
    history = json.loads(engine("image", "inspect", "--format", "{{json .History}}", image).stdout)
    epoch = datetime.datetime.fromtimestamp(SOURCE_DATE_EPOCH, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    run_step = [step for step in history if step.get("created_by", "").endswith("> /tmp/cached")]
    assert len(run_step) == 1 and run_step[0]["created"] == epoch, history
    assert {step["created"] for step in history} == {epoch}
