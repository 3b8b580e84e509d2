"""The job-disk section: one row per job, every step's figure, the worst job named."""

from __future__ import annotations

from bench.job_disk_report import BEGIN, END, Job, console_lines, markdown_section
from bench.report import replace_section

RUN = {
    "command": "python3 tests/bench/job_disk.py --markdown docs/scaling.md",
    "date": "2026-12-02 12:00 UTC",
    "commit": "abc1234",
    "machine": "m: 2 CPUs",
    "steps": ["build", "test", "publish"],
    "test_in": ["base"],
    "exclusions": "auto",
    "jobs": [
        Job(
            "rootfs",
            1,
            None,
            900_000_000,
            "build",
            {"build": 900_000_000, "publish": 400_000_000},
            {"build": 60.0, "publish": 5.0},
            200_000_000,
            160_000_000,
        ).as_dict(),
        Job(
            "base",
            2,
            "rootfs",
            9_600_000_000,
            "build",
            {"build": 9_600_000_000, "test": 5_000_000_000, "publish": 4_000_000_000},
            {"build": 600.0, "test": 300.0, "publish": 80.0},
            3_700_000_000,
            3_630_000_000,
        ).as_dict(),
    ],
}


def test_a_row_per_job_with_each_steps_peak() -> None:
    text = markdown_section(RUN)
    assert (
        "| wave1 rootfs | - | 0.9 GB | build | 0.9 GB | not run | 0.4 GB | 0.2 GB | 0.2 GB | 60 | - | 5 |"
        in text
    )
    assert (
        "| wave2 base | rootfs | 9.6 GB | build | 9.6 GB | 5.0 GB | 4.0 GB | 3.7 GB | 3.6 GB "
        "| 600 | 300 | 80 |" in text
    )
    assert "The most any job needed: 9.6 GB (wave2 base, in its build step)." in text
    assert "steps run: build, test, publish (test only in: base); exclusions: `auto`" in text


def test_the_section_goes_between_its_markers_only() -> None:
    doc = f"# Scaling\n\n{BEGIN}\nold\n{END}\n\nafter\n"
    new = replace_section(doc, markdown_section(RUN), "docs/scaling.md", BEGIN, END)
    assert new.startswith("# Scaling\n\n") and new.endswith(f"{END}\n\nafter\n") and "old" not in new


def test_console_names_each_job() -> None:
    lines = console_lines([Job(**j) for j in RUN["jobs"]])
    assert lines[1].split()[:3] == ["wave1", "rootfs", "0.9"]
    assert lines[2].split()[:3] == ["wave2", "base", "9.6"]


def test_a_run_stopped_part_way_says_which_jobs_did_not_run() -> None:
    text = markdown_section(dict(RUN, jobs_not_run=["devops", "jupyter"]))
    assert "Stopped before these jobs ran: devops, jupyter." in text
    assert "Stopped before" not in markdown_section(dict(RUN, jobs_not_run=[]))
