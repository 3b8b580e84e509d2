"""Command line: `pods lock [POD...] [--check] [--upgrade]`, `pods gc [--dry-run]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pods import lockfile
from pods.errors import PodsError
from pods.gc import collect_garbage
from pods.graph import load_graph
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
    gc = sub.add_parser("gc", help="remove local pod images no current input key names")
    gc.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    gc.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")
    gc.add_argument(
        "--info-dir", type=Path, help="where the last package run wrote docker-info files (default: dist/pods)"
    )
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
        print(
            f"{len(stale)} stale lock(s): run "
            f"`./pants run src/python/pods:pods -- lock {' '.join(s.pod for s in stale)}`"
        )
        return 1
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


def gc(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    result = collect_garbage(
        settings.engine, args.info_dir or settings.repo / "dist/pods", dry_run=args.dry_run, say=say
    )
    verb = "would remove" if args.dry_run else "removed"
    say(
        f"gc: kept {len(result.kept)} current image(s), {verb} {len(result.removed)} superseded"
        + (f" ({result.freed_bytes / 1e9:.1f} GB)" if result.freed_bytes else "")
        + (f", left {len(result.in_use)} in use" if result.in_use else "")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "gc":
            return gc(args)
        return check(args) if args.check else lock(args)
    except PodsError as e:
        print(f"pods: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
