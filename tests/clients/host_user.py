"""A non-root host user running rootless podman in a storage of its own: the way the client
tools that refuse root (distrobox, the Dev Containers CLI) are run by the tests."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from images.harness import ENGINE, Pod, engine


@dataclass(frozen=True)
class HostUser:
    name: str
    uid: int
    gid: int
    home: Path
    env: dict[str, str]
    cwd: Path

    def run(self, *command: str, stdin=None, timeout: float = 900) -> subprocess.CompletedProcess:
        env = [f"{k}={v}" for k, v in self.env.items()]
        return subprocess.run(
            ["runuser", "-u", self.name, "--", "env", "-i", *env, *command],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.cwd,
        )


def ensure_user(name: str, subids: str, test: str) -> pwd.struct_passwd:
    """`name`, with a home and the subordinate ID range `subids`, made once on this machine."""
    if os.geteuid() != 0:
        pytest.fail(f"{test} makes a host user with useradd: run it as root, as CI does")
    if not shutil.which("newuidmap"):
        pytest.fail("newuidmap missing: install Debian's uidmap (./pants and .ci/run install it)")
    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    for table, option in (("/etc/subuid", "--add-subuids"), ("/etc/subgid", "--add-subgids")):
        text = Path(table).read_text() if Path(table).exists() else ""
        if not re.search(rf"^{re.escape(name)}:", text, re.M):
            subprocess.run(["usermod", option, subids, name], check=True)
    return pwd.getpwnam(name)


def rootless_user(entry: pwd.struct_passwd, root: Path, extra_conf: str = "", **env: str) -> HostUser:
    """The user with podman's configuration and storage under `root` (the test's scratch
    folder, removed by the test); `extra_conf` goes into containers.conf's [containers]."""
    (root / "run").mkdir(mode=0o700)
    # Rootless podman 4.3 ignores graphroot and would use the user's home; runroot goes
    # under XDG_RUNTIME_DIR.
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\nrootless_storage_path = "{root}/graph"\n'
    )
    conf = (Path(ENGINE).parent / "containers.conf").read_text()
    (root / "containers.conf").write_text(conf.replace("[containers]\n", f"[containers]\n{extra_conf}", 1))
    for path in (root, root / "run", root / "storage.conf", root / "containers.conf"):
        os.chown(path, entry.pw_uid, entry.pw_gid)
    base_env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": entry.pw_dir,
        "USER": entry.pw_name,
        "XDG_RUNTIME_DIR": f"{root}/run",
        "CONTAINERS_CONF": f"{root}/containers.conf",
        "CONTAINERS_STORAGE_CONF": f"{root}/storage.conf",
    }
    return HostUser(entry.pw_name, entry.pw_uid, entry.pw_gid, Path(entry.pw_dir), {**base_env, **env}, root)


def stop_pause_process(user: HostUser) -> None:
    # Rootless podman leaves a pause process holding the user namespace; migrate stops it.
    user.run("podman", "system", "migrate", timeout=120)


def load_into(user: HostUser, pod: Pod) -> None:
    """The pod into the user's storage through an archive in the user's folder, removed after
    (a piped `save` killed midway leaves its own 3 GB temporary file behind)."""
    archive = user.cwd / "pod.tar"
    try:
        engine("save", "--output", str(archive), pod.image_id, timeout=900)
        archive.chmod(0o644)
        loaded = user.run("podman", "load", "--input", str(archive))
        assert loaded.returncode == 0, f"rootless podman load of {pod.name}:\n{loaded.stderr}"
    finally:
        archive.unlink(missing_ok=True)
