"""The build args Pants gives every image, read from where they are configured, so tests
that rebuild an image as Pants did (same input key) or check its version follow the config.

pants.toml's [docker].build_args holds `NAME=value` or a bare `NAME`, which Pants takes
from its environment: the test gets those from its own environment (the BUILD target
passes them), and PODS_EXCLUSIONS, which ./pants always exports, falls back to the
launcher's default.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

PANTS_TOML = Path("pants.toml")
LAUNCHER = Path("pants")


def launcher_default(name: str) -> str:
    """`export NAME="${NAME-default}"` in ./pants: the default it gives NAME."""
    found = re.search(rf'^export {name}="\$\{{{name}-([^}}]*)\}}"', LAUNCHER.read_text(), re.M)
    if not found:
        raise AssertionError(
            f'{LAUNCHER}: no `export {name}="${{{name}-...}}"` line to read the default from'
        )
    return found.group(1)


def build_args() -> dict[str, str]:
    """{NAME: value} of every build arg Pants passes to `docker build` here."""
    args: dict[str, str] = {}
    for entry in tomllib.loads(PANTS_TOML.read_text())["docker"]["build_args"]:
        name, eq, value = entry.partition("=")
        if not eq:
            value = os.environ[name] if name in os.environ else launcher_default(name)
        args[name] = value
    return args


def build_arg_flags() -> list[str]:
    return [flag for name, value in build_args().items() for flag in ("--build-arg", f"{name}={value}")]
