"""Command line: `pods lock [POD...] [--check] [--upgrade]` and `pods check [POD...]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pods import lockfile
from pods.errors import PodsError
from pods.graph import BUILD_FILES, load_graph
from pods.locker import check_names, derived_files_stale, load_specs, lock_pods
from pods.settings import load_settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pods", description="Pin what each pod installs (docs/lockfile.md).")
    sub = p.add_subparsers(dest="command", required=True)
    lock = sub.add_parser("lock", help="resolve pod.yaml files into pod.lock.json files")
    lock.add_argument("pods", nargs="*", metavar="POD", help="pods to lock (default: every pod)")
    lock.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming every stale lock (offline, hashes only)",
    )
    lock.add_argument(
        "--upgrade",
        action="store_true",
        help="move pins forward instead of keeping the ones that still satisfy pod.yaml",
    )
    lock.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")
    check = sub.add_parser(
        "check",
        help="validate every declaration (family tree, pod.yaml files, lock freshness); offline, "
        "writes nothing (the same as `lock --check`)",
    )
    check.add_argument(
        "pods", nargs="*", metavar="POD", help="pods whose locks to check (default: every pod)"
    )
    check.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")
    return p


def say(line: str) -> None:
    print(f"pods: {line}", file=sys.stderr, flush=True)


def check(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    check_names(graph, args.pods)
    load_specs(settings, graph)  # an invalid pod.yaml fails the check too
    texts = {pod: lockfile.read_bytes(lockfile.lock_path(settings.repo, pod)) for pod in graph.pods}
    stale = lockfile.stale_locks(
        settings.repo,
        graph,
        args.pods or None,
        extra=lambda pod: derived_files_stale(settings, graph, pod, texts),
    )
    for item in stale:
        print(f"stale: {item}")
    if stale:
        listed = ", ".join(f"{BUILD_FILES}/{s.pod}/{lockfile.LOCK_NAME} ({s.reason})" for s in stale)
        raise PodsError(
            f"{len(stale)} stale lock{'s' if len(stale) > 1 else ''}",
            f"{listed}; expected each lock to match its pod.yaml and parent lock; "
            f"run `./pants run src/python/pods:pods -- lock {' '.join(s.pod for s in stale)}`",
        )
    print(f"{len(args.pods or graph.pods)} lock(s) up to date")
    return 0


def lock(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    run = lock_pods(settings, graph, args.pods, args.upgrade, say=say)
    lockfile.write_files_atomically(run.files)
    for pod in run.locked:
        say(f"locked {pod}")
    if run.unchanged:
        say(f"up to date: {', '.join(run.unchanged)}")
    for pod, why in run.deferred:
        say(f"not locked: {pod}: {why}")
    if args.pods:
        # A re-locked parent makes its children stale; say so rather than re-lock them unasked.
        stale = [s.pod for s in lockfile.stale_locks(settings.repo, graph) if s.pod not in args.pods]
        if stale:
            say(f"now stale: {', '.join(stale)}; run `pods lock` to re-lock them")
    return 1 if run.deferred else 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return check(args) if args.command == "check" or args.check else lock(args)
    except PodsError as e:
        print(f"pods: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
