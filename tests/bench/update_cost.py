#!/usr/bin/env python3
"""Update cost: what a user who holds the previous release downloads to update each pod.

Releases are pushed to a registry on loopback, gzip as every push is, and each figure is read
back from it: the compressed blobs of the new manifest that the old one lacks, at the sizes
the registry lists (uncompressed beside them, from the storage's layer records). Scenarios
run in order, each one a release on top of the last:

  debian  one Debian package added to base's pod.yaml (`tree`, whose dependencies base
          already has), every pod re-locked: base and every descendant rebuild
  wheel   one wheel of nvidia-python pinned one release back (the release before the
          locked one, asked of the machine's package index), re-locked: nvidia-python and
          jupyter rebuild
  script  a line appended to jupyter's start script: jupyter rebuilds

Targets (ours): debian at most 5% of each pod's download size, base and every descendant;
wheel at most that wheel's size plus 50 MB; script at most 5 MB.

Ours is `./pants package` through the engine (layers by owner) in a clone of HEAD, on the
machine's storage, so the first release adopts the images already built there by input key
(a cold family build is not what this measures); its tags name the loopback registry, and
PODS_PLAIN=drop keeps its new images to one copy on disk. The baseline is the same
Containerfiles and locks built the plain way (`podman build` of each in order, layers as
built, as upstream does) for one chain, in an empty storage of its own, cold first.

A failing step ends the run in one line naming it; nothing is written then.

Usage: python3 tests/bench/update_cost.py [--pods ...] [--baseline-pods rootfs,base,githubrunner]
       [--scenarios debian,wheel,script] [--out docs/update-cost.json] [--markdown docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src/engine"))
sys.path.insert(0, str(REPO / "src/python"))
from bench.bench import commit, loopback_registry, machine, parents, step  # noqa: E402
from bench.report import replace_section, write_json, write_section  # noqa: E402
from bench.sides import Baseline, clone, drop_images  # noqa: E402
from bench.update_report import (  # noqa: E402
    BEGIN,
    END,
    Row,
    console_lines,
    markdown_section,
    row,
    storage_line,
    target_lines,
)
from bench.update_scenarios import SCENARIOS, limit_for  # noqa: E402
from bench.update_sides import (  # noqa: E402
    Side,
    affected,
    changed_files,
    engine_env,
    ours_images,
    ours_package,
    pods_diff,
    release,
    remove_bench_images,
)


def arguments(tree: dict[str, str | None]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", default=",".join(tree), help="ours: pods to build (parent-closed)")
    p.add_argument("--baseline-pods", default="rootfs,base,githubrunner", help="the plain chain")
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    p.add_argument("--out", type=Path)
    p.add_argument("--markdown", type=Path)
    p.add_argument(
        "--from-json",
        type=Path,
        help="build nothing: write --markdown again from a run's --out (after a change to its layout)",
    )
    args = p.parse_args()
    args.pods = [pod for pod in tree if pod in args.pods.split(",")]
    args.baseline_pods = [pod for pod in tree if pod in args.baseline_pods.split(",")]
    for flag, pods in (("--pods", args.pods), ("--baseline-pods", args.baseline_pods)):
        missing = [pod for pod in pods if tree[pod] and tree[pod] not in pods]
        if missing:
            raise SystemExit(f"update-cost: {flag}: {', '.join(missing)} need their parents in the list too")
    names = args.scenarios.split(",")
    unknown = set(names) - {s.name for s in SCENARIOS}
    if unknown:
        raise SystemExit(f"update-cost: --scenarios: unknown {', '.join(sorted(unknown))}")
    args.scenarios = [s for s in SCENARIOS if s.name in names]
    for s in args.scenarios:
        if s.pod not in args.pods:
            raise SystemExit(f"update-cost: scenario {s.name} changes {s.pod}; add it to --pods")
    if args.markdown:
        try:
            replace_section(args.markdown.read_text(), "", str(args.markdown), BEGIN, END)
        except (OSError, ValueError) as e:
            raise SystemExit(f"update-cost: --markdown: {e}") from None
    return args


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tree = parents()
    args = arguments(tree)
    if args.from_json:
        run_data = json.loads(args.from_json.read_text())
        run_data["command"] = shown_command(run_data["command"].split()[2:])
        if args.out:
            write_json(args.out, run_data)
        return write_markdown(run_data, args.markdown)
    ca = os.environ.get("PODS_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt"
    logs = Path(tempfile.mkdtemp(prefix="pods-update-cost-logs-"))
    print(f"update-cost: logs in {logs}", flush=True)
    rows: list[Row] = []
    described = []
    with contextlib.ExitStack() as stack:
        work = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="pods-update-cost-", dir="/var/tmp"))
        )
        registry = stack.enter_context(loopback_registry())
        ours = Side(
            "ours",
            args.pods,
            clone(work / "repo"),
            engine_env({"PODS_PLAIN": "drop"}),
            registry,
            logs / "ours.log",
        )
        plain = Baseline(args.baseline_pods, tree, work, logs, ca)
        base = Side("baseline", args.baseline_pods, plain.repo, plain.env, registry, logs / "baseline.log")
        stack.callback(remove_bench_images, ours)
        stack.callback(
            lambda: subprocess.run(["podman", "rmi", "--all", "--force"], env=plain.env, capture_output=True)
        )
        stack.callback(
            lambda: subprocess.run(["pkill", "-f", f"pantsd \\[{ours.repo}\\]"], capture_output=True)
        )
        step("ours: first release", lambda: ours_package(ours, registry))
        step("ours: push the first release", lambda: ours.push("r0", ours_images(ours, args.pods)))
        step("baseline: first release (cold)", lambda: (plain.rootfs_tar(), plain.build(args.baseline_pods)))
        step(
            "baseline: push",
            lambda: base.push("r0", {p: f"localhost/bench/{p}:latest" for p in args.baseline_pods}),
        )
        previous = "r0"
        images = {"r0": ours_images(ours, args.pods)}
        for scenario in args.scenarios:
            print(f"update-cost: {scenario.name} ...", flush=True)
            change, wheel = step(f"{scenario.name}: edit", lambda s=scenario: s.edit(ours.repo))
            step(f"ours: {scenario.name} release", lambda s=scenario: release(ours, registry, tree, s))
            # The baseline builds the very files ours built: the edit and the new locks.
            for path in changed_files(ours.repo):
                (plain.repo / path).write_bytes((ours.repo / path).read_bytes())
            images[scenario.name] = ours_images(ours, args.pods)
            step(f"ours: push {scenario.name}", lambda s=scenario: ours.push(s.name, images[s.name]))
            # Disk: what the last release built and this one replaced goes (the first
            # release's images are the machine's own, and stay).
            superseded = [
                images[previous][p]
                for p in reversed(args.pods)
                if images[previous][p] != images[scenario.name][p]
                and images[previous][p] not in images["r0"].values()
            ]
            for image in superseded:
                subprocess.run(["podman", "rmi", image], env=ours.env, capture_output=True)
            rebuilt = affected(tree, scenario.pod, args.baseline_pods)
            if rebuilt:
                # Its last release is in the registry; on disk it would only double the chain.
                step(f"baseline: drop {', '.join(rebuilt)}", lambda r=rebuilt: drop_images(plain.env, r))
                step(f"baseline: {scenario.name}", lambda r=rebuilt: plain.build(r))
                pushed = {p: f"localhost/bench/{p}:latest" for p in args.baseline_pods}
                step(f"baseline: push {scenario.name}", lambda s=scenario, p=pushed: base.push(s.name, p))
            shown = step(
                f"pods diff {scenario.pod}", lambda s=scenario, o=previous: pods_diff(ours, s.pod, o, s.name)
            )
            described.append(
                {"name": scenario.name, "title": scenario.title, "change": change, "diff": shown}
            )
            for side in (ours, base):
                if scenario.name not in side.pushed:
                    # Not rebuilt (the change is outside its chain): its last release stands.
                    side.pushed[scenario.name] = side.pushed[previous]
                    continue
                for pod in affected(tree, scenario.pod, side.pods):
                    old, new = side.pushed[previous][pod], side.pushed[scenario.name][pod]
                    limit, why = limit_for(scenario, pod, new, wheel) if side is ours else (None, "")
                    rows.append(row(scenario.name, side.name, pod, old, new, limit, why))
            print("\n".join(console_lines([r for r in rows if r.scenario == scenario.name])), flush=True)
            previous = scenario.name
    storage = [storage_line(side.name, side.pods, list(side.pushed.items())) for side in (ours, base)]
    targets = target_lines(rows)
    run_data = {
        "command": shown_command(sys.argv[1:]),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine(),
        "pods": args.pods,
        "baseline_pods": args.baseline_pods,
        "scenarios": described,
        "rows": [asdict(r) for r in rows],
        "storage": storage,
        "targets": targets,
        "layers": {pod: len(rel.layers) for pod, rel in ours.pushed[previous].items()},
    }
    print("\n".join(storage + targets))
    if args.out:
        write_json(args.out, run_data)
    return write_markdown(run_data, args.markdown)


def shown_command(argv: list[str]) -> str:
    """The command as anyone would type it in their checkout: a path into a checkout is
    written relative to that checkout's root, never as one machine's folder."""
    shown = []
    for arg in argv:
        path = Path(arg)
        if path.is_absolute():
            top = subprocess.run(
                ["git", "-C", str(path.parent), "rev-parse", "--show-toplevel"],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if top:
                arg = os.path.relpath(path, top)
        shown.append(arg)
    return " ".join(["python3 tests/bench/update_cost.py", *shown])


def write_markdown(run_data: dict, markdown: Path | None) -> int:
    if markdown:
        write_section(markdown, markdown_section(run_data), BEGIN, END)
        print(f"update-cost: wrote its section of {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
