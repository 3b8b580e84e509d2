"""README.md: its family chart is what `pods graph` prints, and its CI commands exist."""

from __future__ import annotations

import re
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
