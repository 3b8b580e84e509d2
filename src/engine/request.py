"""The build request: what Pants asked the `docker build` wrapper for, parsed once."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from engine_binary import split_ref

# PODS_EXCLUSIONS values that mean "build every component": empty (./pants' spelling) and
# `none` (for CI systems that cannot pass an empty variable).
NO_EXCLUSIONS = ("", "none")
FROM_LINE = re.compile(r"(?im)^\s*FROM\s+(?:--\S+\s+)*(\S+)")
ARG_DEFAULT = re.compile(r"(?m)^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)=(\S+)")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class BuildRequest:
    tags: tuple[str, ...]
    build_args: dict[str, str]
    containerfile: str
    context: str
    passthrough: tuple[str, ...]

    @property
    def repository(self) -> str:
        return split_ref(self.tags[0])[0] if self.tags else f"localhost/{self.pod}"

    @property
    def pod(self) -> str:
        return Path(self.containerfile).parent.name

    def parent(self) -> str | None:
        """The image the last stage is built FROM, build args (or ARG defaults) filled in;
        None for `scratch`."""
        try:
            text = Path(self.containerfile).read_text()
        except OSError:
            return self.build_args.get("BASE_IMAGE")
        defaults = dict(ARG_DEFAULT.findall(text))
        froms = FROM_LINE.findall(text)
        if not froms:
            return None
        ref = VARIABLE.sub(
            lambda m: self.build_args.get(m[1] or m[2], defaults.get(m[1] or m[2], "")), froms[-1]
        )
        return None if ref == "scratch" else ref


def parse_build(argv: list[str]) -> BuildRequest:
    tags: list[str] = []
    build_args: dict[str, str] = {}
    containerfile = "Containerfile"
    passthrough: list[str] = []
    i = 0
    while i < len(argv) - 1:
        arg = argv[i]
        value = argv[i + 1]
        if arg in ("--tag", "-t"):
            tags.append(value)
        elif arg == "--build-arg":
            # Pants passes `--build-arg NAME` for args taken from its environment, and
            # sets NAME in ours; the engine would read it from there, so do we.
            name, eq, val = value.partition("=")
            build_args[name] = val if eq else os.environ.get(name, "")
        elif arg in ("--file", "-f"):
            containerfile = value
        else:
            passthrough.append(arg)
            i += 1
            continue
        i += 2
    if build_args.get("PODS_EXCLUSIONS") in NO_EXCLUSIONS[1:]:
        build_args["PODS_EXCLUSIONS"] = ""  # one key for one meaning
    context = argv[-1] if argv else "."
    return BuildRequest(tuple(tags), build_args, containerfile, context, tuple(passthrough))
