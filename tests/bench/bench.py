#!/usr/bin/env python3
"""Benchmark: the Pants graph against plain sequential `podman build`, in one run.

The baseline is what upstream's `just pod build all` does: `podman build` of each
Containerfile in dependency order, every time, relying on podman's layer cache. Ours is
`./pants package` (and `./pants publish`) with the engine wrapper's input keys. Each side
gets its own empty podman storage, so neither reuses the other's layers, and both build
the same Containerfiles from the same files with the same build args and exclusions.

Scenarios, each timed for both sides:
  cold      full build from empty storage (ours with an empty Pants store too)
  noop      the same build again, nothing changed
  leaf      a script COPY'd by the leaf pod changed (jupyter's start-jupyter.sh)
  base      base's Containerfile changed: base and every descendant rebuild
  republish pushing every tag of every image again to a loopback registry, unchanged

Usage: python3 tests/bench/bench.py [--pods rootfs,base,devops,githubrunner] [--out FILE]
It prints a table of seconds and ratios (ours / baseline); docs/benchmarks.md records one.
Run it on an idle machine: it takes as long as two cold builds plus two base rebuilds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ENGINE_DIR = REPO / "src/engine"
# The tests' own helpers (private storage, loopback registry) are imported from here.
sys.path.insert(0, str(REPO / "tests"))
# How long a push reuses what an earlier push read of the registry.
sys.path.insert(0, str(ENGINE_DIR))
from pods_contract import read_lock, repo_lock_path  # noqa: E402
from registry_state import REMOTE_TRUST_SECONDS  # noqa: E402

# The family tree, as `pods` reads it from the Containerfiles.
sys.path.insert(0, str(REPO / "src/python"))
from pods.graph import load_graph  # noqa: E402

LEAF_FILES = {  # a file each leaf pod COPYs after its install step
    "jupyter": "build_files/jupyter/start-jupyter.sh",
    "playwright": "build_files/playwright/start-vnc.sh",
    "githubrunner": "build_files/githubrunner/runner-entrypoint.sh",
}


def parents() -> dict[str, str | None]:
    """Every pod's parent, parents first."""
    graph = load_graph(REPO)
    return {pod: graph.parent_of(pod) for pod in graph.topological()}


def storage_env(root: Path) -> dict[str, str]:
    from images.harness import private_storage

    return dict(
        private_storage(root),
        CONTAINERS_CONF=str(ENGINE_DIR / "containers.conf"),
        CONTAINERS_REGISTRIES_CONF=str(ENGINE_DIR / "registries.conf"),
    )


def timed(label: str, fn) -> float:
    print(f"bench: {label} ...", flush=True)
    started = time.monotonic()
    fn()
    took = time.monotonic() - started
    # The load average says how busy the machine was; compare ratios only at similar load.
    print(f"bench: {label}: {took:.1f} s (load average {os.getloadavg()[0]:.1f})", flush=True)
    return took


def run(cmd: list[str], env: dict[str, str], cwd: Path, log: Path | None = None) -> None:
    out = open(log, "a") if log else subprocess.DEVNULL
    try:
        result = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    finally:
        if log:
            out.close()
    if result.returncode != 0:
        raise SystemExit(f"bench: `{' '.join(cmd[:4])} ...` exited {result.returncode}; see {log}")


def baseline_exclusions(pods: list[str]) -> list[str]:
    """What the baseline leaves out: what ours does (the same list, or under `auto`, the
    same probe of each vendor upstream), so both sides build the same components."""
    name = os.environ.get("PODS_EXCLUSIONS", "auto")
    if name in ("", "none"):
        return []
    if name != "auto":
        return sorted(tomllib.loads((REPO / "build_files/exclusions.toml").read_text()).get(name, {}))
    from vendor_probe import probe_all

    items = [item for pod in pods for item in read_lock(str(REPO / repo_lock_path(pod))).get("vendor", [])]
    probes = probe_all([item["url"] for item in items])
    return sorted({item["name"] for item in items if probes[item["url"]].unreachable})


class Baseline:
    """Sequential `podman build` of each Containerfile, as upstream's justfile does."""

    def __init__(self, pods: list[str], tree: dict[str, str | None], work: Path, ca: str) -> None:
        self.pods, self.tree, self.ca = pods, tree, ca
        self.env = storage_env(work / "storage-baseline")
        self.ctx = work / "ctx"
        self.log = work / "baseline.log"
        shutil.copytree(REPO / "build_files", self.ctx / "build_files")
        self.exclude = ",".join(baseline_exclusions(pods))

    def rootfs_tar(self) -> None:
        out = self.ctx / "build_files/rootfs/rootfs.tar"
        run(
            [sys.executable, str(self.ctx / "build_files/rootfs/mkrootfs.py"), str(out)],
            self.env,
            self.ctx,
            self.log,
        )

    def build(self, pods: list[str] | None = None) -> None:
        for pod in pods or self.pods:
            cmd = [
                "podman",
                "build",
                "--format",
                "docker",
                "--secret",
                f"id=ca,src={self.ca}",
                "--build-arg",
                "POD_VERSION=0.1.0",
                "--build-arg",
                f"PODS_EXCLUDE={self.exclude}",
                "--tag",
                f"localhost/bench/{pod}:latest",
                "--file",
                f"build_files/{pod}/Containerfile",
            ]
            if self.tree[pod]:
                cmd += ["--build-arg", f"BASE_IMAGE=localhost/bench/{self.tree[pod]}:latest"]
            run([*cmd, "."], self.env, self.ctx, self.log)

    def push(self, registry: str) -> None:
        for pod in self.pods:
            for tag in ("0.1.0", "latest", "stable"):
                run(
                    [
                        "podman",
                        "push",
                        "--tls-verify=false",
                        f"localhost/bench/{pod}:latest",
                        f"{registry}/baseline/bazzite-ai-pod-{pod}:{tag}",
                    ],
                    self.env,
                    self.ctx,
                    self.log,
                )


class Ours:
    """`./pants package` / `./pants publish` through the engine wrapper, in a clone of the
    repo (its own buildroot, pantsd and .pods/engine.env, so a developer's runs in the
    working tree cannot switch its podman storage mid-benchmark)."""

    def __init__(self, pods: list[str], work: Path, registry: str) -> None:
        self.repo = work / "repo"
        # Every command names the same registries: an option change restarts pantsd
        # (~15 s), which would land inside whichever scenario came after the first publish.
        self.options = [
            f"--docker-registries={repr({'bench': {'address': f'{registry}/ours', 'default': True}})}"
        ]
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(self.repo)], check=True)
        self.targets = [f"build_files/{pod}:{pod}" for pod in pods]
        # Pants' caches start empty too (its own store and named caches), and stay the
        # same for every run so that pantsd is never restarted by an option change.
        self.env = dict(
            storage_env(work / "storage-ours"),
            PANTS_LOCAL_STORE_DIR=str(work / "pants-store"),
            PANTS_NAMED_CACHES_DIR=str(work / "pants-named-caches"),
        )
        self.log = work / "ours.log"

    def pants(self, *args: str) -> None:
        run([str(self.repo / "pants"), *self.options, *args], self.env, cwd=self.repo, log=self.log)

    def package(self) -> None:
        self.pants("package", *self.targets)

    def publish(self) -> None:
        self.pants("publish", *self.targets)


def drop_images(env: dict[str, str], pods: list[str]) -> None:
    """Remove the named pods' images from one side's storage (outside any timing).

    Before the base edit: every descendant of base is rebuilt from scratch on both sides
    anyway (its FROM changed), and two copies of the family at once may not fit on disk.
    """
    listing = subprocess.run(
        ["podman", "images", "--format", "{{.ID}} {{.Repository}}"], env=env, capture_output=True, text=True
    ).stdout.split("\n")
    ids = {
        line.split()[0]
        for line in listing
        if line and line.split()[1].rsplit("/", 1)[-1] in {*(f"bazzite-ai-pod-{p}" for p in pods), *pods}
    }
    if ids:
        subprocess.run(["podman", "rmi", "--force", *sorted(ids)], env=env, capture_output=True)
    subprocess.run(["podman", "image", "prune", "--force"], env=env, capture_output=True)


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
        yield registry.address


SCENARIOS = ("noop", "leaf", "republish", "base")


def leaf_edit(base_line: Baseline, ours: Ours, leaf: str) -> tuple[float, float]:
    nonce = f"\n# bench {time.time_ns()}\n"
    with edited([base_line.ctx / LEAF_FILES[leaf]], nonce):
        b = timed(f"baseline leaf edit ({leaf})", lambda: base_line.build([leaf]))
    with edited([ours.repo / LEAF_FILES[leaf]], nonce):
        o = timed(f"ours leaf edit ({leaf})", ours.package)
    return b, o


def republish_unchanged(base_line: Baseline, ours: Ours, registry: str) -> tuple[float, float]:
    base_line.push(registry)
    b = timed("baseline re-publish", lambda: base_line.push(registry))
    try:
        ours.publish()
    except SystemExit as e:  # excluded pods refuse stable/latest; still timed below
        print(f"bench: first publish: {e}")
    # A re-publish happens in a later run: past the minute for which the engine
    # reuses what the first publish read of the registry (REMOTE_TRUST_SECONDS).
    time.sleep(REMOTE_TRUST_SECONDS + 1)
    started = time.monotonic()
    try:
        ours.publish()
    except SystemExit as e:
        print(f"bench: re-publish: {e}")
    o = time.monotonic() - started
    print(f"bench: ours re-publish: {o:.1f} s", flush=True)
    return b, o


def base_edit(base_line: Baseline, ours: Ours, pods: list[str]) -> tuple[float, float]:
    below_base = [pod for pod in pods if pod not in ("rootfs", "base")]
    drop_images(base_line.env, below_base)
    drop_images(ours.env, below_base)
    label = f"\nLABEL io.github.bazzite-ai.bench={time.time_ns()}\n"
    with edited([base_line.ctx / "build_files/base/Containerfile"], label):
        b = timed("baseline base edit", base_line.build)
    with edited([ours.repo / "build_files/base/Containerfile"], label):
        o = timed("ours base edit", ours.package)
    return b, o


def machine() -> str:
    cpus = os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    podman = subprocess.run(["podman", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{platform.node()}: {cpus} CPUs, {mem:.0f} GiB RAM, {platform.platform()}, {podman}"


def main() -> int:
    # A stopped benchmark still removes its storages and its pantsd (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tree = parents()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", default=",".join(tree), help="pods to build, a parent-closed subset")
    p.add_argument("--out", type=Path, help="also write the results as JSON here")
    p.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"which to run after the cold build, comma-separated (default all: {','.join(SCENARIOS)})",
    )
    args = p.parse_args()
    wanted = set(args.scenarios.split(","))
    if wanted - set(SCENARIOS):
        raise SystemExit(f"bench: --scenarios: unknown {', '.join(sorted(wanted - set(SCENARIOS)))}")
    pods = [pod for pod in tree if pod in args.pods.split(",")]
    missing = [pod for pod in pods if tree[pod] and tree[pod] not in pods]
    if missing:
        raise SystemExit(f"bench: --pods: {', '.join(missing)} need their parents in the list too")
    leaf = next((pod for pod in reversed(pods) if pod in LEAF_FILES), None)
    if leaf is None:
        raise SystemExit(f"bench: --pods: include one of {', '.join(LEAF_FILES)} for the leaf edit")
    ca = os.environ.get("PODS_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt"
    results: dict[str, tuple[float, float]] = {}
    with contextlib.ExitStack() as stack:
        work = Path(
            stack.enter_context(
                tempfile.TemporaryDirectory(prefix="pods-bench-", dir=os.environ.get("PODS_BENCH_DIR"))
            )
        )
        registry = stack.enter_context(loopback_registry())
        base_line, ours = Baseline(pods, tree, work, ca), Ours(pods, work, registry)
        try:
            b = timed("baseline cold", lambda: (base_line.rootfs_tar(), base_line.build()))
            o = timed("ours cold", ours.package)
            results["cold full build"] = (b, o)
            if "noop" in wanted:
                results["no-op rebuild"] = (
                    timed("baseline no-op", base_line.build),
                    timed("ours no-op", ours.package),
                )
            if "leaf" in wanted:
                results[f"leaf edit ({leaf})"] = leaf_edit(base_line, ours, leaf)
            # Re-publish before the base edit: the registry then holds one copy of the
            # family, not two.
            if "republish" in wanted:
                republish = republish_unchanged(base_line, ours, registry)
            if "base" in wanted:
                results["base edit"] = base_edit(base_line, ours, pods)
            if "republish" in wanted:
                results["re-publish unchanged"] = republish
        finally:
            for env in (base_line.env, ours.env):
                # Only the bench's own storages (CONTAINERS_STORAGE_CONF); the folder goes
                # with the temporary directory.
                subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True)
            # The clone's pantsd (Pants 2.17 has no kill-pantsd goal).
            subprocess.run(["pkill", "-f", f"pantsd \\[{ours.repo}\\]"], capture_output=True)
    return report(results, pods, args.out)


def report(results: dict[str, tuple[float, float]], pods: list[str], out: Path | None) -> int:
    print(f"\nmachine: {machine()}\npods: {', '.join(pods)}")
    print(f"{'scenario':<24} {'baseline s':>11} {'ours s':>9} {'ours/baseline':>14}")
    for name, (b, o) in results.items():
        print(f"{name:<24} {b:>11.1f} {o:>9.1f} {o / b:>14.2f}")
    # The targets of the incremental-build issue.
    if "no-op rebuild" in results:
        b, o = results["no-op rebuild"]
        print(f"target no-op <= 1/5 of the baseline's: {o / b:.2f} -> {'met' if o <= b / 5 else 'MISSED'}")
    leaf_name = next((n for n in results if n.startswith("leaf edit")), None)
    if leaf_name:
        b, o = results[leaf_name]
        print(
            f"target leaf <= baseline + 3 s: baseline + {o - b:.1f} s -> {'met' if o <= b + 3 else 'MISSED'}"
        )
    if "re-publish unchanged" in results:
        per_image = results["re-publish unchanged"][1] / len(pods)
        met = "met" if per_image < 2 else "MISSED"
        print(f"target re-publish < 2 s per image: {per_image:.1f} s -> {met}")
    if out:
        out.write_text(json.dumps({"machine": machine(), "pods": pods, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
