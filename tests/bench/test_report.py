"""Target lines, and the Markdown section the bench writes from its own results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from bench.report import (
    BEGIN,
    END,
    Timing,
    console_table,
    markdown_section,
    replace_section,
    run_record,
    target_lines,
    write_json,
    write_markdown,
)

RESULTS = {
    "cold full build": Timing(666.6, 737.0, 1.6, 2.1),
    "no-op rebuild": Timing(1.64, 0.46, 2.0, 2.0),
    "leaf edit (jupyter)": Timing(1.4, 3.1, 2.2, 2.2),
    "re-publish unchanged": Timing(2.6, 3.5, 2.7, 2.0),
    "base edit": Timing(300.0, 250.0, 1.9, 1.8),
}
DOC = f"# Benchmarks\n\nintro\n\n{BEGIN}\nold run\n{END}\n\n## Earlier runs (hand-transcribed)\n\n| 13.2 |\n"


def record(results=RESULTS) -> dict:
    return run_record(
        results,
        date="2026-12-01 20:00 UTC",
        commit="abc1234",
        machine="vm: 2 CPUs",
        pods=["rootfs", "base", "nvidia", "nvidia-python", "jupyter"],
        command="python3 tests/bench/bench.py --markdown docs/benchmarks.md",
        targets=target_lines(results, images=5),
        notes=["re-publish: each side pushed the same 12 tags of 5 images"],
    )


def test_each_target_line_says_its_figure_and_whether_it_was_met() -> None:
    assert target_lines(RESULTS, images=5) == [
        "target no-op <= 1/5 of the baseline's: 0.28 -> MISSED",
        "target leaf <= baseline + 3 s: baseline + 1.7 s -> met",
        "target re-publish < 2 s per image: 0.7 s -> met",
        "target base edit <= 0.8 of the sequential time: 0.83 -> MISSED",
    ]


def test_the_base_edit_target_is_met_at_exactly_four_fifths() -> None:
    lines = target_lines({"base edit": Timing(100.0, 80.0, 1.0, 1.0)}, images=8)
    assert lines == ["target base edit <= 0.8 of the sequential time: 0.80 -> met"]


def test_no_target_line_for_a_scenario_that_did_not_run() -> None:
    assert target_lines({"cold full build": RESULTS["cold full build"]}, images=5) == []


def test_the_console_table_lists_every_scenario_in_order() -> None:
    lines = console_table(RESULTS)
    assert lines[0].split() == ["scenario", "baseline", "s", "ours", "s", "ours/baseline"]
    assert [line.split()[-3:] for line in lines[1:3]] == [
        ["666.6", "737.0", "1.11"],
        ["1.64", "0.46", "0.28"],
    ]


def test_the_section_holds_every_row_and_the_target_lines_as_printed() -> None:
    section = markdown_section(record())
    assert "| no-op rebuild | 1.64 | 0.46 | 0.28 | 2.0 / 2.0 |" in section
    assert "| base edit | 300.0 | 250.0 | 0.83 | 1.9 / 1.8 |" in section
    assert "| leaf edit (jupyter) | 1.40 | 3.10 | 2.21 | 2.2 / 2.2 |" in section
    for line in target_lines(RESULTS, images=5):
        assert f"    {line}\n" in section
    assert "- re-publish: each side pushed the same 12 tags of 5 images\n" in section
    for fact in (
        "`abc1234`",
        "`vm: 2 CPUs`",
        "rootfs, base, nvidia, nvidia-python, jupyter",
        "2026-12-01 20:00 UTC",
    ):
        assert fact in section


def test_replacing_the_section_keeps_everything_outside_the_markers() -> None:
    out = replace_section(DOC, "new run\n", "docs/benchmarks.md")
    assert out == DOC.replace(f"{BEGIN}\nold run\n{END}", f"{BEGIN}\nnew run\n{END}")
    assert replace_section(out, "new run\n", "docs/benchmarks.md") == out


@pytest.mark.parametrize(
    "text", ["no markers", f"{END}\nx\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n", f"{BEGIN}\nx\n"]
)
def test_missing_or_misordered_markers_are_one_line_naming_the_file(text: str) -> None:
    with pytest.raises(ValueError) as e:
        replace_section(text, "new\n", "docs/benchmarks.md")
    assert str(e.value).startswith("docs/benchmarks.md: expected one `<!-- bench:begin -->`")
    assert "\n" not in str(e.value)


def test_markdown_and_json_come_from_the_same_run(tmp_path: Path) -> None:
    doc, out = tmp_path / "benchmarks.md", tmp_path / "bench.json"
    doc.write_text(DOC)
    os.chmod(doc, 0o664)
    run = record()
    write_markdown(doc, run)
    write_json(out, run)
    written = doc.read_text()
    assert "old run" not in written and "| 13.2 |" in written
    assert markdown_section(json.loads(out.read_text())) in written
    assert json.loads(out.read_text())["results"]["no-op rebuild"]["ratio"] == pytest.approx(0.2805, abs=1e-4)
    assert oct(doc.stat().st_mode & 0o777) == oct(0o664)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench.json", "benchmarks.md"]


def test_a_failed_write_leaves_the_document_as_it_was(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("no markers here\n")
    with pytest.raises(ValueError):
        write_markdown(doc, record())
    assert doc.read_text() == "no markers here\n"
    assert [p.name for p in tmp_path.iterdir()] == ["benchmarks.md"]
