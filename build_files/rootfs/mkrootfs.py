"""Build the Debian 13 root filesystem tarball from the pinned closure in pod.lock.json.

Run by the `rootfs-tar` shell_command with the system python3 (standard library only).
mmdebstrap installs exactly the locked `name=version` list (variant custom), and a
customize hook, run while apt's indexes are still inside the new root, checks that:
  - the installed set is exactly the locked set (apt pulled nothing else), and
  - each locked sha256 is the one in the signed archive index, which apt verified every
    downloaded .deb against; so a tampered lock or a re-uploaded package fails the build.
SOURCE_DATE_EPOCH makes the tarball byte-for-byte reproducible, so the same lock gives
the same image ID on every machine.
"""

from __future__ import annotations

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The contract (src/python:contract-file, an execution dependency of rootfs-tar): the same
# stanza parser and closure check pods-install runs in every image.
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "..", "src", "python")))
import pods_contract as contract  # noqa: E402

LOCK = os.path.join(HERE, contract.LOCK_NAME)
LOCK_PATH = contract.repo_lock_path("rootfs")
# The family's epoch, so that the tarball depends only on the lock.
SOURCE_DATE_EPOCH = str(contract.SOURCE_DATE_EPOCH)
USER, UID, HOME, WORKSPACE = "jovian", 1000, "/home/jovian", "/workspace"


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"rootfs: {msg}", file=sys.stderr)
    sys.exit(1)


def load_lock() -> dict:
    try:
        lock = contract.read_lock(LOCK, LOCK_PATH)
    except contract.ContractError as e:
        fail(str(e))
    if not lock.get("debian", {}).get("packages"):
        fail(f"{LOCK_PATH}: field debian.packages is empty; run `{contract.relock_command('rootfs')}`")
    return lock


def chroot_output(root: str, *argv: str) -> str:
    return subprocess.run(["chroot", root, *argv], check=True, capture_output=True, text=True).stdout


def verify(root: str) -> None:
    """The installed closure is the locked one, each .deb the one the signed index names."""
    pkgs = load_lock()["debian"]["packages"]
    installed = chroot_output(root, "dpkg-query", "-W", "-f=${Package}\t${Version}\n")
    found = dict(line.split("\t", 1) for line in installed.splitlines() if line)
    shown = chroot_output(
        root, "apt-cache", "show", "--no-all-versions", *(f"{p['name']}={p['version']}" for p in pkgs)
    )
    problem = contract.closure_problem(pkgs, found, contract.stanzas_by_package(shown))
    if problem:
        fail(f"{LOCK_PATH}: {problem}; expected exactly the locked closure: "
             f"re-lock with `{contract.relock_command('rootfs')}`")
    print(f"rootfs: verified {len(pkgs)} packages against {LOCK_PATH}", file=sys.stderr)


def build(out: str) -> None:
    lock = load_lock()
    deb = lock["debian"]
    include = ",".join(f"{p['name']}={p['version']}" for p in deb["packages"])
    me = os.path.abspath(__file__)
    user_setup = (
        f'chroot "$1" groupadd --gid {UID} {USER} && '
        f'chroot "$1" useradd --uid {UID} --gid {UID} --create-home --home-dir {HOME} --shell /bin/bash {USER} && '
        f'mkdir -p "$1{WORKSPACE}" && chown {UID}:{UID} "$1{WORKSPACE}"'
    )
    argv = [
        "mmdebstrap", "--quiet", "--variant=custom", f"--architectures={deb['architecture']}",
        f"--include={include}",
        f"--customize-hook=python3 {me} --verify \"$1\"",
        f"--customize-hook={user_setup}",
        deb["suite"], out,
    ]
    # The archive mirror: a setting, else the machine's own apt configuration.
    mirror = os.environ.get("PODS_DEBIAN_MIRROR")
    if mirror:
        argv.append(mirror)
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    result = subprocess.run(argv, env=env)
    if result.returncode != 0:
        fail(f"mmdebstrap failed (exit {result.returncode}); if a locked version left the archive, "
             f"run `{contract.relock_command('rootfs', upgrade=True)}`")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    elif len(sys.argv) == 2:
        build(sys.argv[1])
    else:
        fail("usage: mkrootfs.py OUT.tar | --verify ROOT")
