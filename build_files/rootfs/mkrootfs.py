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

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOCK = os.path.join(HERE, "pod.lock.json")
# Fixed so that the tarball depends only on the lock (2025-11-30T00:00:00Z).
SOURCE_DATE_EPOCH = "1764460800"
USER, UID, HOME, WORKSPACE = "jovian", 1000, "/home/jovian", "/workspace"


def fail(msg: str) -> "NoReturn":  # noqa: F821
    print(f"rootfs: {msg}", file=sys.stderr)
    sys.exit(1)


def load_lock() -> dict:
    with open(LOCK) as f:
        lock = json.load(f)
    pkgs = lock.get("debian", {}).get("packages")
    if not pkgs:
        fail(f"{LOCK}: field debian.packages is empty; run `./pants run src/python/pods -- lock rootfs`")
    return lock


def _installer():
    """The in-image installer, for its apt index parser: one reading of `apt-cache show`."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("pods_install", os.path.join(HERE, "..", "pods-install.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def verify(root: str) -> None:
    lock = load_lock()
    want = {p["name"]: p for p in lock["debian"]["packages"]}
    installed = subprocess.run(
        ["chroot", root, "dpkg-query", "-W", "-f=${Package}\t${Version}\n"],
        check=True, capture_output=True, text=True,
    ).stdout.split("\n")
    got = dict(line.split("\t", 1) for line in installed if line)
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    if extra or missing:
        fail(f"installed closure differs from {LOCK}: extra={extra} missing={missing}; re-lock with `pods lock rootfs`")
    for name, pkg in want.items():
        if got[name] != pkg["version"]:
            fail(f"{LOCK}: {name} locked at {pkg['version']} but apt installed {got[name]}")
    shown = _installer().parse_stanzas(subprocess.run(
        ["chroot", root, "apt-cache", "show", "--no-all-versions",
         *(f"{n}={p['version']}" for n, p in sorted(want.items()))],
        check=True, capture_output=True, text=True,
    ).stdout)
    for name, pkg in sorted(want.items()):
        index_sha = shown.get(name, {}).get("SHA256")
        if index_sha != pkg["sha256"]:
            fail(f"{LOCK}: sha256 mismatch for {name} {pkg['version']}: lock has {pkg['sha256']}, archive index has {index_sha}")
    print(f"rootfs: verified {len(want)} packages against {os.path.basename(LOCK)}", file=sys.stderr)


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
        fail(f"mmdebstrap failed (exit {result.returncode}); if a locked version left the archive, run `pods lock --upgrade rootfs`")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--verify":
        verify(sys.argv[2])
    elif len(sys.argv) == 2:
        build(sys.argv[1])
    else:
        fail("usage: mkrootfs.py OUT.tar | --verify ROOT")
