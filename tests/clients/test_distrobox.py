"""distrobox, the way Bazzite users enter a pod: `distrobox create --image <pod>` then
`distrobox enter <box> -- <command>`, run by a non-root host user on rootless podman.

distrobox refuses to run as root (even with --root: that flag means "call podman through
sudo"), so the test makes a host user, loads base into that user's own storage and runs
distrobox as that user, as tests/images/base/test_rootless.py runs podman. distrobox creates
its boxes with the host's network, so the missing rootless networking of these machines
does not matter here.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from clients.host_user import HostUser, ensure_user, load_into, rootless_user, stop_pause_process
from images.harness import Pod, engine

USER = "podtest-distrobox"
SUBIDS = "500000-565535"
# What distrobox-init looks for at a box's first start; when one is missing it installs a
# fixed list of packages, some under names Debian 13 no longer has (distrobox 1.4).
INIT_CHECKS = ("find", "mount", "passwd", "sudo", "useradd", "diff", "pinentry", "wget", "curl")
INIT_CHECKS += ("less", "bc", "time", "lsof")


def distrobox() -> str:
    found = shutil.which("distrobox")
    if not found:
        pytest.skip("no distrobox on this machine: ./pants and .ci/run install Debian's distrobox")
    return found


@pytest.fixture(scope="module")
def user() -> Iterator[HostUser]:
    """The host user, with a podman storage of its own under a scratch folder (removed after)."""
    entry = ensure_user(USER, SUBIDS, "test_distrobox.py")
    root = Path(tempfile.mkdtemp(prefix="podtest-distrobox-"))
    try:
        # No prompts: a test has no terminal to answer them.
        user = rootless_user(entry, root, DBX_NON_INTERACTIVE="1")
        yield user
        stop_pause_process(user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def box(user: HostUser) -> Iterator[str]:
    """A distrobox made from base (loaded into the user's storage by reference), removed after."""
    pod = Pod.under_test()
    run = uuid.uuid4().hex[:10]
    image, name = f"localhost/pods-distrobox/{pod.name}:{run}", f"pods-dbx-{run}"
    load_into(user, pod)
    tagged = user.run("podman", "tag", pod.image_id, image)
    assert tagged.returncode == 0, tagged.stderr
    try:
        created = user.run(distrobox(), "create", "--yes", "--no-entry", "--name", name, "--image", image)
        assert created.returncode == 0, f"distrobox create exited {created.returncode}:\n{created.stderr}"
        # The first enter starts the box, and distrobox-init sets it up for the host user.
        first = user.run(distrobox(), "enter", name, "--", "true")
        if first.returncode != 0:
            explain_first_start(user, name, pod)
        yield name
    finally:
        user.run(distrobox(), "rm", "--force", name, timeout=300)
        user.run("podman", "rmi", image, timeout=300)


def explain_first_start(user: HostUser, name: str, pod: Pod) -> None:
    """Fail with the box's log, naming what the image lacks when that is the cause."""
    log = user.run("podman", "logs", name).stderr[-3000:]
    probe = "; ".join(f"command -v {c} >/dev/null || echo {c}" for c in INIT_CHECKS)
    missing = engine("run", "--rm", "--entrypoint", "sh", pod.image_id, "-c", probe).stdout.split()
    if missing:
        # distrobox-init installs what is missing at first start, under Debian package names
        # that Debian 13 dropped (libegl1-mesa, libgl1-mesa-glx): base carries them instead.
        raise AssertionError(
            f"{pod.name} lacks {' '.join(missing)}, which distrobox-init needs; add their packages "
            f"to build_files/base/pod.yaml. The box's log:\n{log}"
        )
    raise AssertionError(f"distrobox enter {name}: the box did not start; its log:\n{log}")


def enter(user: HostUser, box: str, *command: str) -> str:
    # distrobox-enter joins the command's words and evals them on the host, so each command
    # here is plain words with no shell syntax.
    result = user.run(distrobox(), "enter", box, "--", *command, timeout=300)
    assert (
        result.returncode == 0
    ), f"distrobox enter -- {' '.join(command)} exited {result.returncode}:\n{result.stderr}"
    return result.stdout.strip()


def test_enter_is_the_host_user_with_the_host_home(user: HostUser, box: str) -> None:
    assert enter(user, box, "id", "-un") == user.name
    assert enter(user, box, "id", "-u") == str(user.uid)
    assert enter(user, box, "id", "-g") == str(user.gid)
    assert enter(user, box, "printenv", "HOME") == str(user.home)


def test_a_file_written_in_the_box_home_is_the_host_users(user: HostUser, box: str) -> None:
    written = user.home / f"from-{box}"
    try:
        enter(user, box, "touch", str(written))
        assert (written.stat().st_uid, written.stat().st_gid) == (user.uid, user.gid)
    finally:
        written.unlink(missing_ok=True)


def test_the_pods_tools_run_in_the_box(user: HostUser, box: str) -> None:
    assert re.match(r"starship \d+\.\d+", enter(user, box, "starship", "--version"))
