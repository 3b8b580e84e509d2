"""Every test case Pants ran, from its JUnit reports: each skip with its reason, then the
plain `N passed, M failed, K skipped` line CI reads.

Pants prints one line per test *target*; a skipped test inside a passing target is
otherwise silent. `./pants test --test-report` writes one JUnit file per target, for
cached results too, so this reads the whole run.

    python3 .ci/summary.py dist/test/reports [.ci-logs/test.log]

A target that failed without writing a report (a timeout, a crash, a failed image build)
is counted as one failed test, from Pants' own `✕ target` line in the log.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def cases(report_dir: Path):
    for path in sorted(report_dir.rglob("*.xml")):
        for case in ET.parse(path).getroot().iter("testcase"):
            yield path.stem.removesuffix(".xml"), case


def outcome(case: ET.Element) -> tuple[str, str]:
    for kind in ("failure", "error", "skipped"):
        found = case.find(kind)
        if found is not None:
            return ("skipped" if kind == "skipped" else "failed"), (found.get("message") or "").strip()
    return "passed", ""


def failed_without_report(log: Path, report_dir: Path) -> list[str]:
    reported = {p.name for p in report_dir.rglob("*.xml")}
    out = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("✕ "):
            target = line.split()[1]
            if target.replace("/", ".").replace(":", ".") + ".xml" not in reported:
                out.append(target)
    return out


def main(argv: list[str]) -> int:
    report_dir = Path(argv[1] if len(argv) > 1 else "dist/test/reports")
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for target, case in cases(report_dir):
        kind, message = outcome(case)
        counts[kind] += 1
        if kind != "passed":
            name = f"{case.get('classname')}::{case.get('name')}"
            reason = message.splitlines()[0] if message else "no reason given"
            print(f"{kind.upper()}: {name} ({target}): {reason}")
    if len(argv) > 2:
        for target in failed_without_report(Path(argv[2]), report_dir):
            counts["failed"] += 1
            print(f"FAILED: {target}: no test report (it failed before its tests ran; see its log above)")
    if not any(counts.values()):
        print(f"no test reports under {report_dir}", file=sys.stderr)
        return 1
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
