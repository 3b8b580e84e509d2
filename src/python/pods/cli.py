"""Command line: `pods lock`, `pods check`, `pods affected`, `pods ci-matrix`, `pods graph`, `pods gc`,
`pods kube`, `pods diff` and `pods verify`."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from pods_contract import repo_lock_path

from pods import chart, diff, kube, lockfile, matrix, prelude, sizes, verify
from pods.affected import affected_pods, changed_files, image_test_targets, pod_target
from pods.container import Engine
from pods.errors import PodsError
from pods.gc import collect_garbage
from pods.graph import PodGraph, load_graph
from pods.locker import check_names, default_derivers, load_specs, lock_pods
from pods.settings import Settings, load_settings


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pods", description="Pin what each pod installs (docs/lockfile.md), and plan what CI builds."
    )
    sub = p.add_subparsers(dest="command", required=True)
    for add in (
        _lock_parser,
        _plan_parsers,
        _graph_parser,
        _gc_parser,
        _check_parser,
        kube.add_parser,
        diff.add_parser,
        verify.add_parser,
    ):
        add(sub)
    return p


def _repo_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")


def _lock_parser(sub: argparse._SubParsersAction) -> None:
    lock = sub.add_parser("lock", help="resolve pod.yaml files into pod.lock.json files")
    lock.add_argument("pods", nargs="*", metavar="POD", help="pods to lock (default: every pod)")
    lock.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 naming every stale lock (offline: hashes and each part's own check)",
    )
    lock.add_argument(
        "--upgrade",
        action="store_true",
        help="move pins forward instead of keeping the ones that still satisfy pod.yaml",
    )
    _repo_argument(lock)


def _plan_parsers(sub: argparse._SubParsersAction) -> None:
    affected = sub.add_parser("affected", help="the pods a change affects, as Pants targets")
    _selection_arguments(affected)
    affected.add_argument(
        "--print",
        dest="what",
        choices=("targets", "tests", "pods"),
        default="targets",
        help="targets: build_files/<pod>:<pod> (default); tests: every image test target of "
        "those pods (tests/images/<ancestor>:<pod>); pods: bare names",
    )
    affected.add_argument(
        "--format", choices=("lines", "json"), default="lines", help="one per line (default) or a JSON list"
    )
    ci = sub.add_parser("ci-matrix", help="the affected pods as CI waves, as JSON (README.md, CI)")
    _selection_arguments(ci)
    ci.add_argument(
        "--github-output",
        type=Path,
        metavar="FILE",
        help="also append matrix=... and wave1..waveN=... lines to FILE (GitHub's $GITHUB_OUTPUT)",
    )


def _graph_parser(sub: argparse._SubParsersAction) -> None:
    graph = sub.add_parser("graph", help="the family tree as a Mermaid flowchart with image sizes")
    graph.add_argument(
        "--measure",
        action="store_true",
        help=f"first measure every pod image the engine has and record the sizes in {sizes.SIZES_FILE}",
    )
    graph.add_argument(
        "--write-readme", action="store_true", help=f"also write the chart into {chart.README}'s block"
    )
    graph.add_argument(
        "--write-prelude",
        action="store_true",
        help=f"also write the family tree into {prelude.PRELUDE}'s POD_PARENTS table",
    )
    _repo_argument(graph)


def _gc_parser(sub: argparse._SubParsersAction) -> None:
    gc = sub.add_parser("gc", help="remove local pod images no current input key names")
    gc.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    _repo_argument(gc)
    gc.add_argument(
        "--info-dir",
        type=Path,
        help="where the last package run wrote docker-info files (default: dist/pods)",
    )


def _check_parser(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="validate every declaration (family tree, pod.yaml files, lock freshness); offline, "
        "writes nothing (the same as `lock --check`)",
    )
    check.add_argument(
        "pods", nargs="*", metavar="POD", help="pods whose locks to check (default: every pod)"
    )
    _repo_argument(check)


def _selection_arguments(p: argparse.ArgumentParser) -> None:
    since = p.add_mutually_exclusive_group(required=True)
    since.add_argument(
        "--changed-since",
        metavar="REF",
        help="git ref to compare with (`git diff REF...`), plus uncommitted and untracked files",
    )
    since.add_argument("--all", action="store_true", help="every pod, as if every file changed")
    _repo_argument(p)


def say(line: str) -> None:
    print(f"pods: {line}", file=sys.stderr, flush=True)


def check(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    check_names(graph, args.pods)
    specs = load_specs(settings, graph)  # an invalid pod.yaml fails the check too
    stale = lockfile.stale_locks(settings, graph, default_derivers(), args.pods or None, specs)
    for item in stale:
        print(f"stale: {item}")
    if stale:
        listed = ", ".join(f"{repo_lock_path(s.pod)} ({s.reason})" for s in stale)
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
        stale = lockfile.stale_locks(settings, graph, default_derivers())
        stale = [s.pod for s in stale if s.pod not in args.pods]
        if stale:
            say(f"now stale: {', '.join(stale)}; run `pods lock` to re-lock them")
    return 1 if run.deferred else 0


def gc(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    result = collect_garbage(
        Engine(settings.engine), args.info_dir or settings.repo / "dist/pods", dry_run=args.dry_run, say=say
    )
    verb = "would remove" if args.dry_run else "removed"
    say(
        f"gc: kept {len(result.kept)} current image(s), {verb} {len(result.removed)} superseded"
        + (f" ({result.freed_bytes / 1e9:.1f} GB)" if result.freed_bytes else "")
        + (f", left {len(result.in_use)} in use" if result.in_use else "")
    )
    return 0


def _selected(settings: Settings, graph: PodGraph, args: argparse.Namespace) -> tuple[str, ...]:
    if args.all:
        return graph.topological()
    return affected_pods(graph, changed_files(settings.repo, args.changed_since))


def affected(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    pods = _selected(settings, graph, args)
    if args.what == "pods":
        out = list(pods)
    elif args.what == "targets":
        out = [pod_target(pod) for pod in pods]
    else:
        out = [t for pod in pods for t in image_test_targets(graph, pod, settings.repo)]
    if args.format == "json":
        print(json.dumps(out))
    elif out:
        # Nothing at all when nothing is affected, so `./pants package $(pods affected ...)` is a no-op.
        print("\n".join(out))
    return 0


def ci_matrix(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    plan = matrix.ci_matrix(graph, _selected(settings, graph, args), settings.repo)
    print(json.dumps(plan, indent=2))
    if args.github_output:
        with args.github_output.open("a") as f:
            f.write(matrix.github_outputs(plan))
    return 0


def measure_sizes(settings: Settings, graph: PodGraph) -> None:
    recorded, engine = sizes.read_sizes(settings.repo), Engine(settings.engine)
    for pod in graph.topological():
        image = sizes.local_image(settings.repo, engine, pod, settings.parent_image.format(pod=pod))
        if image is None:
            say(f"not measured: {pod}: the engine has no image of it; keeping the recorded size")
            continue
        say(f"measuring {pod} ({image})")
        try:
            recorded[pod] = sizes.measure(engine, image)
        except (OSError, subprocess.SubprocessError, PodsError) as e:
            detail = str(getattr(e, "stderr", None) or e).strip()
            raise PodsError(
                f"pod {pod}: size", f"measuring {image} failed ({detail}); nothing was recorded"
            ) from None
    lockfile.write_files_atomically([(settings.repo / sizes.SIZES_FILE, sizes.sizes_text(recorded))])


def family_chart(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    graph = load_graph(settings.repo)
    if args.measure:
        measure_sizes(settings, graph)
    descriptions = {pod: spec.description for pod, spec in load_specs(settings, graph).items()}
    text = chart.mermaid(graph, descriptions, sizes.read_sizes(settings.repo))
    written = []
    if args.write_readme:
        readme = settings.repo / chart.README
        written.append((readme, chart.with_block(readme.read_text(), text)))
    if args.write_prelude:
        path = settings.repo / prelude.PRELUDE
        written.append((path, prelude.with_table(path.read_text(), prelude.pod_parents(graph))))
    lockfile.write_files_atomically(written)
    print(text, end="")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "gc":
            return gc(args)
        if args.command == "affected":
            return affected(args)
        if args.command == "ci-matrix":
            return ci_matrix(args)
        if args.command == "graph":
            return family_chart(args)
        if args.command == "kube":
            return kube.run(args)
        if args.command == "diff":
            return diff.run(args)
        if args.command == "verify":
            return verify.run(args)
        return check(args) if args.command == "check" or args.check else lock(args)
    except PodsError as e:
        print(f"pods: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
