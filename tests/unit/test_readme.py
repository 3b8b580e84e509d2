"""README.md: its family chart is what `pods graph` prints, its CI commands exist, and its
run lines map jovian to the user where the engine runs rootless."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from unit.commands import problems

from pods import chart
from pods.cli import main

README = Path("README.md").read_text()


def section(title: str) -> str:
    match = re.search(rf"^## {title}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README.md: no section {title!r}"
    return match.group(1)


def test_family_chart_is_what_pods_graph_prints(capsys):
    assert main(["graph", "--repo", "."]) == 0
    printed = capsys.readouterr().out
    fix = "./pants run src/python/pods:pods -- graph --write-readme"
    assert chart.current_block(Path(".")) == printed, f"README.md's family chart is out of date: run `{fix}`"


def test_ci_section_commands_exist():
    blocks = re.findall(r"```sh\n(.*?)```", section("CI"), re.S)
    assert blocks
    assert [p for block in blocks for p in problems(block, "README.md, CI")] == []


KEEP_ID = "--userns=keep-id:uid=1000,gid=1000"


def run_lines() -> list[list[str]]:
    """The words of every README.md line that runs a pod (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", README)
    lines = [line for line in text.splitlines() if re.match(r"(sudo )?(podman|docker) run ", line)]
    return [shlex.split(line, comments=True) for line in lines]


def test_rootless_podman_lines_keep_the_users_id_and_rootful_lines_do_not():
    # Rootless podman maps the user to root in the pod: without keep-id, jovian (1000)
    # cannot write /workspace (tests/images/base/test_rootless.py runs both ways).
    lines = run_lines()
    assert {words[0] for words in lines} == {"podman", "sudo", "docker"}
    for words in lines:
        rootless = words[0] == "podman"
        assert (KEEP_ID in words) == rootless, shlex.join(words)


def test_each_run_line_says_which_engine_mode_it_is_for():
    # Each command is covered by the comment block above it (one block may cover two lines).
    [block, *_] = re.findall(r"```sh\n(.*?)```", section("Run a pod"), re.S)
    comment, after_command = "", False
    for line in block.splitlines():
        if line.startswith("#"):
            comment = line if after_command else f"{comment} {line}"
            after_command = False
        else:
            assert re.search(
                r"rootless|rootful|docker|apptainer", comment
            ), f"README.md: `{line}` says not what it is for"
            after_command = True
