"""What the checked-in command lines (workflow, justfile, README) may call, and a checker.

A command that names a Pants goal no backend in pants.toml provides, a `pods` subcommand
or option the CLI does not have, or a repo file that is not there, fails a unit test here
rather than a CI run later.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

from pods.cli import parser

# The backend that gives each goal something to do in this repo (core goals included: a
# `package` with no packageable target type does nothing).
GOAL_BACKENDS = {
    "package": "pants.backend.docker",
    "publish": "pants.backend.docker",
    "test": "pants.backend.python",
    "run": "pants.backend.python",
    "lint": "pants.backend.python.lint.black",
    "fmt": "pants.backend.python.lint.black",
}
PODS_BINARY = "src/python/pods:pods"
_REPO_PATH = re.compile(r"^(?:\./)?(?:src|build_files|tests|docs|\.github)/[\w./-]+$")


def backends() -> set[str]:
    return set(tomllib.loads(Path("pants.toml").read_text())["GLOBAL"]["backend_packages"])


def pods_options() -> dict[str, set[str]]:
    sub = next(a for a in parser()._actions if a.dest == "command")
    return {
        name: {o for action in p._actions for o in action.option_strings}
        for name, p in sub.choices.items()  # type: ignore[union-attr]
    }


def commands(script: str) -> list[list[str]]:
    """Each `./pants ...` or repo-file command line of a shell script, split into words."""
    out = []
    for line in script.replace("\\\n", " ").splitlines():
        line = line.split(" #", 1)[0].strip()
        if line.startswith("#") or not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for i, word in enumerate(words):
            if word == "./pants" or _REPO_PATH.match(word):
                out.append(words[i:])
                break
    return out


def problems(script: str, where: str) -> list[str]:
    """Everything wrong with the commands in `script`, as readable lines."""
    found = []
    options = pods_options()
    for words in commands(script):
        if words[0] != "./pants":
            if not Path(words[0]).exists():
                found.append(f"{where}: runs {words[0]}, which is not in the repo")
            continue
        goals = [w for w in words[1:] if not w.startswith("-")]
        goal = goals[0] if goals else None
        if goal not in GOAL_BACKENDS:
            found.append(f"{where}: ./pants {goal}: not a goal this repo uses")
        elif GOAL_BACKENDS[goal] not in backends():
            found.append(f"{where}: ./pants {goal}: needs {GOAL_BACKENDS[goal]} in pants.toml")
        if PODS_BINARY in words:
            rest = words[words.index(PODS_BINARY) + 1 :]
            rest = rest[1:] if rest[:1] == ["--"] else rest
            command = rest[0] if rest else None
            if command not in options:
                found.append(f"{where}: pods {command}: no such subcommand")
                continue
            for word in rest[1:]:
                flag = word.split("=", 1)[0]
                if flag.startswith("--") and flag not in options[command]:
                    found.append(f"{where}: pods {command} {flag}: no such option")
    return found
