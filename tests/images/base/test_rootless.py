"""Rootless podman, as Bazzite users run pods: README.md's rootless run line, run by a non-root
host user on the pod loaded into that user's own storage, gives jovian a /workspace it can
write, and what jovian writes belongs to the host user. Without keep-id the write fails.

Base's promise, run on base alone: loading a descendant into a second storage takes minutes
and proves the same thing (descendants keep base's user and workspace).
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from images.harness import ENGINE, Pod

USER = "podtest-rootless"
KEEP_ID = "--userns=keep-id:uid=1000,gid=1000"
# This kind of machine has no rootless networking (no slirp4netns or pasta); writing a file
# needs no network.
NO_NETWORK = "--network=none"
WRITE = ["bash", "-c", "touch /workspace/from-pod && id -un"]

pytestmark = pytest.mark.skipif(
    os.environ.get("POD_UNDER_TEST") != "base",
    reason="rootless is tested on base alone: a descendant keeps base's user and workspace",
)


@dataclass(frozen=True)
class RootlessUser:
    name: str
    uid: int
    gid: int
    env: dict[str, str]
    cwd: Path

    def podman(self, *args: str, stdin=None, timeout: float = 900) -> subprocess.CompletedProcess:
        command = ["runuser", "-u", self.name, "--", "env", "-i", *(f"{k}={v}" for k, v in self.env.items())]
        return subprocess.run(
            [*command, "podman", *args],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.cwd,
        )


def readme_rootless_line() -> list[str]:
    """The words of README.md's rootless `podman run` line, as a user would paste it."""
    lines = [
        line
        for line in Path("README.md").read_text().splitlines()
        if line.startswith("podman run ") and KEEP_ID in line and "/workspace" in line
    ]
    assert lines, f"README.md: no `podman run {KEEP_ID} -v ...:/workspace` line for rootless podman"
    return shlex.split(lines[0])


def as_run(words: list[str], workspace: Path, image_id: str) -> list[str]:
    """The README's words with this test's workspace and image, and no terminal."""
    out = [NO_NETWORK]
    for word in words[2:]:
        if word in ("-it", "-ti", "-t", "-i"):
            continue
        out.append(image_id if word.startswith("ghcr.io/") else word.replace("$PWD", str(workspace)))
    assert image_id in out, f"README.md's rootless line names no ghcr.io/ image: {shlex.join(words)}"
    return ["run", *out, *WRITE]


def ensure_user() -> tuple[int, int]:
    """A non-root host user with subordinate ID ranges, made once on this machine."""
    if os.geteuid() != 0:
        pytest.fail("test_rootless.py makes a host user with useradd: run it as root, as CI does")
    if not shutil.which("newuidmap") or not shutil.which("newgidmap"):
        pytest.fail("newuidmap/newgidmap missing: install Debian's uidmap (./pants and .ci/run install it)")
    try:
        entry = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", USER], check=True)
        entry = pwd.getpwnam(USER)
    for table, option in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        text = Path(table).read_text() if Path(table).exists() else ""
        if not re.search(rf"^{re.escape(USER)}:", text, re.M):
            subprocess.run(["usermod", option, "400000-465535", USER], check=True)
    return entry.pw_uid, entry.pw_gid


@pytest.fixture(scope="module")
def rootless(pod: Pod) -> Iterator[RootlessUser]:
    """The user, with its own storage (overlay) holding the pod under test; removed after."""
    uid, gid = ensure_user()
    root = Path(tempfile.mkdtemp(prefix="podtest-rootless-"))
    try:
        (root / "run").mkdir(mode=0o700)
        # Rootless podman 4.3 reads rootless_storage_path, not graphroot: without it the pod
        # would land (and stay, 3.5 GB a run) in the user's home.
        (root / "storage.conf").write_text(
            f'[storage]\ndriver = "overlay"\nrootless_storage_path = "{root}/graph"\n'
            f'graphroot = "{root}/graph"\nrunroot = "{root}/run/storage"\n'
        )
        # The sandbox is not readable by the user: its copy of the engine's containers.conf
        # (runc, and ulimits within this host's limits) goes beside the storage.
        shutil.copy(Path(ENGINE).parent / "containers.conf", root / "containers.conf")
        for path in [root, *root.iterdir()]:
            os.chown(path, uid, gid)
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": pwd.getpwnam(USER).pw_dir,
            "XDG_RUNTIME_DIR": f"{root}/run",
            "CONTAINERS_CONF": f"{root}/containers.conf",
            "CONTAINERS_STORAGE_CONF": f"{root}/storage.conf",
        }
        user = RootlessUser(name=USER, uid=uid, gid=gid, env=env, cwd=root)
        with subprocess.Popen([ENGINE, "save", pod.image_id], stdout=subprocess.PIPE) as save:
            loaded = user.podman("load", stdin=save.stdout)
        assert save.returncode == 0 and loaded.returncode == 0, f"save | rootless load:\n{loaded.stderr}"
        yield user
        # Rootless podman leaves a pause process holding the user namespace; migrate stops it.
        user.podman("system", "migrate", timeout=120)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def workspace_of(user: RootlessUser, name: str) -> Path:
    workspace = user.cwd / name
    workspace.mkdir()
    (workspace / "mine").touch()
    for path in (workspace, workspace / "mine"):
        os.chown(path, user.uid, user.gid)
    return workspace


def test_readme_rootless_line_lets_jovian_write_files_the_host_user_owns(pod: Pod, rootless: RootlessUser):
    workspace = workspace_of(rootless, "with-keep-id")
    result = rootless.podman(*as_run(readme_rootless_line(), workspace, pod.image_id))
    assert result.returncode == 0, f"README's rootless line failed:\n{result.stderr}"
    assert result.stdout.split()[-1] == "jovian"
    written = (workspace / "from-pod").stat()
    assert (written.st_uid, written.st_gid) == (rootless.uid, rootless.gid)


def test_without_keep_id_jovian_cannot_write_the_workspace(pod: Pod, rootless: RootlessUser):
    workspace = workspace_of(rootless, "without-keep-id")
    words = [w for w in readme_rootless_line() if w != KEEP_ID]
    result = rootless.podman(*as_run(words, workspace, pod.image_id))
    assert result.returncode != 0
    assert "Permission denied" in result.stderr
    assert not (workspace / "from-pod").exists()
