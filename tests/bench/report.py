"""What a bench run says, from its own results: the console table, the target lines, the
JSON record and the Markdown section of docs/benchmarks.md. Nothing here runs a build.

The Markdown section sits between BEGIN and END in the document; bench replaces only what is
between them, so the figures in the docs are the ones a run printed, never retyped.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"


@dataclass(frozen=True)
class Timing:
    baseline: float  # seconds
    ours: float
    load_baseline: float  # 1-minute load average when the step ended
    load_ours: float

    @property
    def ratio(self) -> float:
        return self.ours / self.baseline if self.baseline else float("inf")


def seconds(value: float) -> str:
    """Two decimals under 10 s (a no-op's figures), one above."""
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def target_lines(results: dict[str, Timing], images: int) -> list[str]:
    """The targets of the incremental-build issues, each with its figure and met/MISSED."""
    lines = []
    if "no-op rebuild" in results:
        t = results["no-op rebuild"]
        lines.append(
            f"target no-op <= 1/5 of the baseline's: {t.ratio:.2f} -> {verdict(t.ours <= t.baseline / 5)}"
        )
    leaf = next((n for n in results if n.startswith("leaf edit")), None)
    if leaf:
        t = results[leaf]
        extra = t.ours - t.baseline
        lines.append(f"target leaf <= baseline + 3 s: baseline + {extra:.1f} s -> {verdict(extra <= 3)}")
    if "re-publish unchanged" in results:
        per_image = results["re-publish unchanged"].ours / images
        lines.append(f"target re-publish < 2 s per image: {per_image:.1f} s -> {verdict(per_image < 2)}")
    if "base edit" in results:
        # The baseline builds the family one image after another; ours runs independent
        # branches side by side.
        t = results["base edit"]
        lines.append(
            f"target base edit <= 0.8 of the sequential time: {t.ratio:.2f} -> {verdict(t.ratio <= 0.8)}"
        )
    return lines


def console_table(results: dict[str, Timing]) -> list[str]:
    lines = [f"{'scenario':<24} {'baseline s':>11} {'ours s':>9} {'ours/baseline':>14}"]
    for name, t in results.items():
        lines.append(f"{name:<24} {seconds(t.baseline):>11} {seconds(t.ours):>9} {t.ratio:>14.2f}")
    return lines


def run_record(results: dict[str, Timing], **facts) -> dict:
    """One run as data: what --out writes and what the Markdown is made from."""
    return {
        **facts,
        "results": {name: {**asdict(t), "ratio": round(t.ratio, 4)} for name, t in results.items()},
    }


def run_header(run: dict) -> list[str]:
    """The lines every bench section opens with: how it was written, what and where."""
    return [
        f"Written by `{run['command']}` on {run['date']}; do not edit by hand (re-run the bench).",
        "",
        f"- commit: `{run['commit']}`",
        f"- machine: `{run['machine']}`",
    ]


def markdown_section(run: dict) -> str:
    """The section bench writes between BEGIN and END, from a run_record()."""
    out = [
        *run_header(run),
        f"- pods: {', '.join(run['pods'])}",
        "",
        "| scenario | baseline s | ours s | ours / baseline | load (baseline / ours) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for name, r in run["results"].items():
        out.append(
            f"| {name} | {seconds(r['baseline'])} | {seconds(r['ours'])} | {r['ratio']:.2f} "
            f"| {r['load_baseline']:.1f} / {r['load_ours']:.1f} |"
        )
    out += ["", "Targets, as the bench printed them:", ""]
    out += [f"    {line}" for line in run["targets"]] or ["    (no target scenario ran)"]
    if run.get("notes"):
        out += ["", "Also measured:", ""] + [f"- {note}" for note in run["notes"]]
    return "\n".join(out) + "\n"


def replace_section(text: str, section: str, display: str, begin: str = BEGIN, end: str = END) -> str:
    """`text` with what is between `begin` and `end` replaced by `section`."""
    begins, ends = text.count(begin), text.count(end)
    start, stop = text.find(begin), text.find(end)
    if begins != 1 or ends != 1 or stop < start:
        raise ValueError(
            f"{display}: expected one `{begin}` line followed by one `{end}` line "
            f"(found {begins} and {ends}); add them where the bench writes its run"
        )
    return text[: start + len(begin)] + "\n" + section + text[stop:]


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target, then rename over it: a reader sees the old or the new file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        # mkstemp makes the file private; keep the mode the document had.
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, run: dict) -> None:
    write_atomically(path, json.dumps(run, indent=2) + "\n")


def write_markdown(path: Path, run: dict) -> None:
    write_section(path, markdown_section(run))


def write_section(path: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace what is between `begin` and `end` in the document at `path`."""
    write_atomically(path, replace_section(path.read_text(), section, str(path), begin, end))
