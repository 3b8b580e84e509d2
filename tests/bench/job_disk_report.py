"""What a job-disk run says: console lines, and the section it writes into docs/scaling.md.
Nothing here runs a build."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

BEGIN = "<!-- job-disk:begin -->"
END = "<!-- job-disk:end -->"
GB = 1e9


@dataclass(frozen=True)
class Job:
    pod: str
    wave: int
    parent: str | None
    peak: int  # bytes the job had on disk at its worst
    peak_step: str
    step_peaks: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    storage_at_end: int = 0  # the podman storage when the last step ended
    image: int = 0  # the pod's image, uncompressed, parents' layers included

    def as_dict(self) -> dict:
        return asdict(self)


def gb(n: int) -> str:
    return f"{n / GB:.1f} GB"


def console_lines(jobs: list[Job]) -> list[str]:
    lines = [f"{'job':<22} {'peak':>9} {'in step':<8} {'storage at end':>15} {'image':>9}"]
    for j in jobs:
        name = f"wave{j.wave} {j.pod}"
        lines.append(
            f"{name:<22} {gb(j.peak):>9} {j.peak_step:<8} {gb(j.storage_at_end):>15} {gb(j.image):>9}"
        )
    return lines


def markdown_section(run: dict) -> str:
    jobs = [Job(**j) for j in run["jobs"]]
    steps = run["steps"]
    out = [
        f"Written by `{run['command']}` on {run['date']}; do not edit by hand (re-run it).",
        "",
        f"- commit: `{run['commit']}`",
        f"- machine: `{run['machine']}`",
        f"- steps run: {', '.join(steps)}"
        + (f" (test only in: {', '.join(run['test_in'])})" if "test" in steps else "")
        + f"; exclusions: `{run['exclusions']}`",
        "",
        "| job | parent | peak disk | in step | "
        + " | ".join(f"peak in {s}" for s in steps)
        + " | storage at end | image (uncompressed) | "
        + " | ".join(f"{s} s" for s in steps)
        + " |",
        "| --- | --- | ---: | --- | "
        + " | ".join("---:" for _ in steps)
        + " | ---: | ---: | "
        + " | ".join("---:" for _ in steps)
        + " |",
    ]
    for j in jobs:
        out.append(
            f"| wave{j.wave} {j.pod} | {j.parent or '-'} | {gb(j.peak)} | {j.peak_step} | "
            + " | ".join(gb(j.step_peaks[s]) if s in j.step_peaks else "not run" for s in steps)
            + f" | {gb(j.storage_at_end)} | {gb(j.image)} | "
            + " | ".join(f"{j.seconds[s]:.0f}" if s in j.seconds else "-" for s in steps)
            + " |"
        )
    if run.get("jobs_not_run"):
        out += ["", f"Stopped before these jobs ran: {', '.join(run['jobs_not_run'])}."]
    worst = max(jobs, key=lambda j: j.peak)
    out += [
        "",
        f"The most any job needed: {gb(worst.peak)} "
        f"(wave{worst.wave} {worst.pod}, in its {worst.peak_step} step).",
    ]
    return "\n".join(out) + "\n"
