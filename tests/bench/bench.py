#!/usr/bin/env python3
"""Benchmark: the Pants graph against plain sequential `podman build`, in one run.

The baseline is what an upstream user runs (`just pod build`): a checkout, and a plain
`podman build` of each pod's Containerfile in dependency order, layer cache on, with the
build args pants.toml gives (the same POD_VERSION and POD_SOURCE, and PODS_EXCLUDE from the
same probe of each vendor upstream) and the CA secret the Containerfiles mount. Ours is
`./pants package` / `./pants publish` through the engine wrapper. Each side works in its own
clone of this repo's HEAD with its own empty podman storage; ours has its own Pants caches.

Scenarios, each timed for both sides:
  cold      full build from empty storage (the baseline makes rootfs.tar as Pants does)
  noop      the same build again, nothing changed
  leaf      a script COPY'd by the leaf pod changed (jupyter's start-jupyter.sh)
  base      base's Containerfile changed: base and every descendant rebuild
  republish pushing the same tags of every image again to a loopback registry, unchanged

The baseline's no-op, found inflated (13.2 s for the jupyter chain against 1.6 s for a
hand-run of the four pod Containerfiles): it also rebuilt rootfs's Containerfile, and podman
processes the whole archive of its `ADD rootfs.tar /` on every build, cached or not. Measured
here (podman 4.3, private storage, load ~5): a cached build of `FROM scratch` + `ADD` of a
62 MB, 4,700-file tar took 2.9-4.1 s; a cached Containerfile of COPYs took 0.4-0.5 s; the
real rootfs.tar is about twice that tar. Nothing else in its commands cost time (its
copies and rootfs.tar were made before the timing; `--format docker` costs nothing once
cached). Upstream never builds its root: it pulls a base image. So the baseline builds
rootfs in the cold step only, as upstream pulls its base once, and every later step runs
`podman build` of the pods on it and nothing else; the no-op scenario still times the
rootfs rebuild alone, once, and reports it beside the table.

Re-publish, like for like: ours refuses `latest`/`stable` for an image whose
pods_contract.EXCLUDED_LABEL names a component. After the cold build the bench reads each
of ours' images' tags (Pants' docker-info.json) and that label, and both sides push exactly
the same tags: the key and version tags, plus `latest`/`stable` only for images that lack
nothing. Ours runs `./pants publish` for the images that lack nothing and, for the others,
the same per-tag `docker push <ref>` Pants would run, through the engine wrapper, for their
key and version tags only (a `./pants publish` of them would fail on the refused tags). The
withheld moving tags are counted apart from the pushes.

A failing step ends the bench: one line naming the step, a non-zero exit, no target lines.

Usage: python3 tests/bench/bench.py [--pods rootfs,base,githubrunner] [--scenarios noop,leaf]
       [--out bench.json] [--markdown docs/benchmarks.md]
It prints a table of seconds, ratios (ours / baseline) and target lines; --out writes the
run as JSON and --markdown replaces the section between the bench markers of that file.
Run it on an idle machine: it takes as long as two cold builds plus two base rebuilds.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# The tests' own helpers (private storage, loopback registry, config) and this folder's
# modules (the `bench` package) are imported from here.
sys.path.insert(0, str(REPO / "tests"))
# The engine's modules: how long a push reuses what an earlier push read of the registry,
# the vendor probe.
sys.path.insert(0, str(REPO / "src/engine"))
# The family tree, as `pods` reads it from the Containerfiles; the contract.
sys.path.insert(0, str(REPO / "src/python"))
from bench.report import (  # noqa: E402
    Timing,
    console_table,
    replace_section,
    run_record,
    target_lines,
    write_json,
    write_markdown,
)
from bench.sides import Baseline, Ours, StepFailed, drop_images, vendor_items  # noqa: E402
from bench.tags import PublishPlan, components_problem, summary, summary_line  # noqa: E402
from pods.graph import load_graph  # noqa: E402
from registry_state import REMOTE_TRUST_SECONDS  # noqa: E402

LEAF_FILES = {  # a file each leaf pod COPYs after its install step
    "jupyter": "build_files/jupyter/start-jupyter.sh",
    "playwright": "build_files/playwright/start-vnc.sh",
    "githubrunner": "build_files/githubrunner/runner-entrypoint.sh",
}


def parents() -> dict[str, str | None]:
    """Every pod's parent, parents first."""
    graph = load_graph(REPO)
    return {pod: graph.parent_of(pod) for pod in graph.topological()}


def step(label: str, fn):
    """Run one step; its failure ends the bench in one line naming the step."""
    try:
        return fn()
    except StepFailed as e:
        raise SystemExit(f"bench: step '{label}' failed: {e}") from None


def timed(label: str, fn) -> tuple[float, float]:
    """(seconds, load average at the end) of one step."""
    print(f"bench: {label} ...", flush=True)
    started = time.monotonic()
    step(label, fn)
    took = time.monotonic() - started
    # The load average says how busy the machine was; compare ratios only at similar load.
    load = os.getloadavg()[0]
    print(f"bench: {label}: {took:.1f} s (load average {load:.1f})", flush=True)
    return took, load


def checked_plans(base_line: Baseline, ours: Ours) -> list[PublishPlan]:
    """The tags both sides push, once both are known to lack the same components."""
    plans = ours.plans()
    declared = [item["name"] for item in vendor_items(ours.pods)]
    problem = components_problem(plans, base_line.excluded, declared)
    if problem:
        raise StepFailed(problem)
    return plans


def pair(baseline: tuple[float, float], ours: tuple[float, float]) -> Timing:
    return Timing(baseline=baseline[0], ours=ours[0], load_baseline=baseline[1], load_ours=ours[1])


@contextlib.contextmanager
def edited(paths: list[Path], line: str):
    """Append `line` to each file; always put the original bytes back."""
    originals = {p: p.read_bytes() for p in paths}
    try:
        for p in paths:
            p.write_bytes(originals[p] + line.encode())
        yield
    finally:
        for p, data in originals.items():
            p.write_bytes(data)


@contextlib.contextmanager
def loopback_registry():
    from publish.registry import running_registry

    with running_registry() as registry:
        yield registry


def emptied(registry) -> None:
    """Delete what the re-publish pushed. Nothing pushes to the registry after it, and the
    base edit's second copy of base and its descendants needs that disk (both sides' pushes
    of the whole family are ~10 GB here)."""

    shutil.rmtree(registry.storage, ignore_errors=True)


SCENARIOS = ("noop", "leaf", "republish", "base")


def no_op(base_line: Baseline, ours: Ours, notes: list[str]) -> Timing:
    timing = pair(timed("baseline no-op", base_line.build), timed("ours no-op", ours.package))
    # For the record: what the baseline's no-op cost before, when it rebuilt the root too.
    root = next(pod for pod in base_line.pods if pod not in base_line.rebuilt)
    took, _ = timed(f"baseline rebuild of {root} alone, unchanged", lambda: base_line.build([root]))
    notes.append(
        f"baseline rebuild of {root} alone, unchanged: {took:.1f} s (not in the baseline's no-op: "
        "upstream pulls its root image instead of building it)"
    )
    return timing


def leaf_edit(base_line: Baseline, ours: Ours, leaf: str) -> Timing:
    nonce = f"\n# bench {time.time_ns()}\n"
    with edited([base_line.repo / LEAF_FILES[leaf]], nonce):
        b = timed(f"baseline leaf edit ({leaf})", lambda: base_line.build([leaf]))
    with edited([ours.repo / LEAF_FILES[leaf]], nonce):
        o = timed(f"ours leaf edit ({leaf})", ours.package)
    # Back to HEAD's leaf on both sides, untimed: the re-publish pushes the leaf's version
    # tag as it stands locally, and it must be HEAD's image, not the edited one.
    step("rebuild the unedited leaf", lambda: (base_line.build([leaf]), ours.package()))
    return pair(b, o)


def republish_unchanged(base_line: Baseline, ours: Ours, registry: str, plans: list[PublishPlan]) -> Timing:
    step("baseline first publish", lambda: base_line.push(plans, registry))
    b = timed("baseline re-publish", lambda: base_line.push(plans, registry))
    step("ours first publish", lambda: ours.publish(plans))
    # A re-publish happens in a later run: past the minute for which the engine
    # reuses what the first publish read of the registry (REMOTE_TRUST_SECONDS).
    time.sleep(REMOTE_TRUST_SECONDS + 1)
    o = timed("ours re-publish", lambda: ours.publish(plans))
    return pair(b, o)


def base_edit(base_line: Baseline, ours: Ours, pods: list[str]) -> Timing:
    below_base = [pod for pod in pods if pod not in ("rootfs", "base")]
    step(
        "drop base's descendants",
        lambda: (drop_images(base_line.env, below_base), drop_images(ours.env, below_base)),
    )
    label = f"\nLABEL io.github.bazzite-ai.bench={time.time_ns()}\n"
    with edited([base_line.repo / "build_files/base/Containerfile"], label):
        b = timed("baseline base edit", base_line.build)
    with edited([ours.repo / "build_files/base/Containerfile"], label):
        o = timed("ours base edit", ours.package)
    return pair(b, o)


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    podman = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{platform.node()}: {cpus} CPUs, {mem:.0f} GiB RAM, {platform.platform()}, {podman}"


def commit() -> str:
    """HEAD, which both sides clone; uncommitted changes are not benchmarked, and said so."""
    git = ["git", "-C", str(REPO)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "build_files", "src"], capture_output=True, text=True
    )
    return head + (
        " (uncommitted changes in the checkout were not benchmarked)" if dirty.stdout.strip() else ""
    )


def arguments(tree: dict[str, str | None]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", default=",".join(tree), help="pods to build, a parent-closed subset")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"which to run after the cold build, comma-separated (default all: {','.join(SCENARIOS)})",
    )
    p.add_argument("--out", type=Path, help="also write the run as JSON here (e.g. bench.json)")
    p.add_argument(
        "--markdown", type=Path, help="replace the bench section of this file (docs/benchmarks.md)"
    )
    args = p.parse_args()
    args.wanted = set(args.scenarios.split(","))
    if args.wanted - set(SCENARIOS):
        raise SystemExit(f"bench: --scenarios: unknown {', '.join(sorted(args.wanted - set(SCENARIOS)))}")
    args.pods = [pod for pod in tree if pod in args.pods.split(",")]
    missing = [pod for pod in args.pods if tree[pod] and tree[pod] not in args.pods]
    if missing:
        raise SystemExit(f"bench: --pods: {', '.join(missing)} need their parents in the list too")
    args.leaf = next((pod for pod in reversed(args.pods) if pod in LEAF_FILES), None)
    if args.leaf is None:
        raise SystemExit(f"bench: --pods: include one of {', '.join(LEAF_FILES)} for the leaf edit")
    if args.markdown:  # before hours of building, not after
        try:
            replace_section(args.markdown.read_text(), "", str(args.markdown))
        except (OSError, ValueError) as e:
            raise SystemExit(f"bench: --markdown: {e}") from None
    return args


def clean_up(base_line: Baseline, ours: Ours) -> None:
    for env in (base_line.env, ours.env):
        # Only the bench's own storages (CONTAINERS_STORAGE_CONF); the folder goes with the
        # temporary directory.
        subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True)
    # The clone's pantsd (Pants 2.17 has no kill-pantsd goal).
    subprocess.run(["pkill", "-f", f"pantsd \\[{ours.repo}\\]"], capture_output=True)


def main() -> int:
    # A stopped benchmark still removes its storages and its pantsd (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tree = parents()
    args = arguments(tree)
    # What both sides clone, read now: a commit made while the bench runs is not benchmarked.
    head = commit()
    ca = os.environ.get("PODS_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt"
    # Logs outlive the run, so the line of a failed step can point at them.
    logs = Path(tempfile.mkdtemp(prefix="pods-bench-logs-"))
    print(f"bench: logs in {logs}", flush=True)
    results: dict[str, Timing] = {}
    pushed: dict = {}
    notes: list[str] = []  # figures that are not a scenario's pair, printed and written too
    with contextlib.ExitStack() as stack:
        work = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="pods-bench-", dir=os.environ.get("PODS_BENCH_DIR"))
            )
        )
        registry = stack.enter_context(loopback_registry())
        base_line = Baseline(args.pods, tree, work, logs, ca)
        ours = Ours(args.pods, work, logs, registry.address)
        try:
            b = timed("baseline cold", lambda: (base_line.rootfs_tar(), base_line.build(args.pods)))
            results["cold full build"] = pair(b, timed("ours cold", ours.package))
            plans = step("read each image's tags and excluded label", lambda: checked_plans(base_line, ours))
            if "noop" in args.wanted:
                results["no-op rebuild"] = no_op(base_line, ours, notes)
            if "leaf" in args.wanted:
                results[f"leaf edit ({args.leaf})"] = leaf_edit(base_line, ours, args.leaf)
            # Re-publish before the base edit: the registry then holds one copy of the
            # family, not two.
            if "republish" in args.wanted:
                republish = republish_unchanged(base_line, ours, registry.address, plans)
                pushed = summary(plans)
                notes.append(summary_line(pushed))
                emptied(registry)
            if "base" in args.wanted:
                results["base edit"] = base_edit(base_line, ours, args.pods)
            if "republish" in args.wanted:
                results["re-publish unchanged"] = republish
        finally:
            clean_up(base_line, ours)
    return report(results, args, pushed, notes, head)


def report(
    results: dict[str, Timing], args: argparse.Namespace, pushed: dict, notes: list[str], head: str
) -> int:
    targets = target_lines(results, images=len(args.pods))
    run_data = run_record(
        results,
        date=datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        commit=head,
        machine=machine(),
        pods=args.pods,
        command=" ".join(["python3 tests/bench/bench.py", *sys.argv[1:]]),
        targets=targets,
        republish=pushed,
        notes=notes,
    )
    print(f"\nmachine: {run_data['machine']}\npods: {', '.join(args.pods)}\ncommit: {run_data['commit']}")
    print("\n".join(console_table(results)))
    print("\n".join(notes))
    print("\n".join(targets))
    if args.out:
        write_json(args.out, run_data)
    if args.markdown:
        write_markdown(args.markdown, run_data)
        print(f"bench: wrote its section of {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
