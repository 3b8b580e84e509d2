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
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src/engine"))
sys.path.insert(0, str(REPO / "src/python"))
from bench.bench import commit, loopback_registry, machine, parents, step  # noqa: E402
from bench.report import replace_section, write_atomically, write_json  # noqa: E402
from bench.sides import ENGINE_DIR, Baseline, StepFailed, clone, drop_images, run  # noqa: E402
from bench.update_report import (  # noqa: E402
    BEGIN,
    END,
    MB,
    Blob,
    Release,
    Row,
    console_lines,
    markdown_section,
    row,
    storage_line,
    target_lines,
)

DEBIAN_PACKAGE = "tree"
WHEEL_POD = "nvidia-python"
WHEEL = "networkx"
SCRIPT = "build_files/jupyter/start-jupyter.sh"


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    pod: str  # whose inputs change
    edit: Callable[[Path], tuple[str, int | None]]  # -> (what changed, wheel size or None)
    relock: bool


def add_debian_package(repo: Path) -> tuple[str, int | None]:
    path = repo / "build_files/base/pod.yaml"
    text = path.read_text()
    edited = re.sub(r"(?m)^(debian:\n  packages:\n)", rf"\1    - {DEBIAN_PACKAGE}\n", text, count=1)
    if edited == text:
        raise StepFailed(f"{path}: no `debian:` / `  packages:` lines to add {DEBIAN_PACKAGE} under")
    path.write_text(edited)
    return f"`{DEBIAN_PACKAGE}` added to base's Debian packages; base and its descendants re-locked.", None


def pin_wheel_back(repo: Path) -> tuple[str, int | None]:
    lock = json.loads((repo / f"build_files/{WHEEL_POD}/pod.lock.json").read_text())
    locked = next(p["version"] for p in lock["pypi"]["packages"] if p["name"] == WHEEL)
    # The versions for the pod's Python, not this script's.
    target = ["--python-version", str(lock["pypi"]["python"]), "--only-binary=:all:"]
    versions = pip(["index", "versions", WHEEL, *target]).split("Available versions:", 1)[-1].split("\n")[0]
    older = [v.strip() for v in versions.split(",") if re.fullmatch(r"[0-9.]+", v.strip())]
    key = lambda v: tuple(int(x) for x in v.split("."))  # noqa: E731
    below = sorted((v for v in older if key(v) < key(locked)), key=key)
    if not below:
        raise StepFailed(f"the package index lists no {WHEEL} release before {locked}")
    version = below[-1]
    path = repo / f"build_files/{WHEEL_POD}/pod.yaml"
    text = path.read_text()
    edited = re.sub(r"(?m)^(  packages:\n(    - .*\n)+)", rf"\g<1>    - {WHEEL}=={version}\n", text, count=1)
    path.write_text(edited)
    with tempfile.TemporaryDirectory() as tmp:
        pip(["download", "--quiet", "--no-deps", *target, "-d", tmp, f"{WHEEL}=={version}"])
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    return (
        f"`{WHEEL}` pinned from {locked} to {version} in {WHEEL_POD} (wheel {size / MB:.1f} MB); re-locked.",
        size,
    )


def edit_script(repo: Path) -> tuple[str, int | None]:
    with open(repo / SCRIPT, "a") as f:
        f.write("# update-cost bench: one line more\n")
    return f"a comment line appended to `{SCRIPT}`.", None


SCENARIOS = (
    Scenario("debian", "One Debian package in base", "base", add_debian_package, relock=True),
    Scenario("wheel", "One wheel pin in nvidia-python", WHEEL_POD, pin_wheel_back, relock=True),
    Scenario("script", "jupyter's start script", "jupyter", edit_script, relock=False),
)


def pip(args: list[str]) -> str:
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise StepFailed(f"`pip {' '.join(args[:2])}` failed: {done.stderr.strip().splitlines()[-1:]}")
    return done.stdout


def engine_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return dict(
        os.environ,
        CONTAINERS_CONF=str(ENGINE_DIR / "containers.conf"),
        CONTAINERS_REGISTRIES_CONF=str(ENGINE_DIR / "registries.conf"),
        **(extra or {}),
    )


class Side:
    """One way of building, its clone, storage and images in the registry."""

    def __init__(self, name: str, pods: list[str], repo: Path, env: dict[str, str], registry: str, log: Path):
        self.name, self.pods, self.repo, self.env, self.log = name, pods, repo, env, log
        self.registry = f"{registry}/{name}"
        self.pushed: dict[str, dict[str, Release]] = {}  # release -> pod -> manifest

    def push(self, release: str, images: dict[str, str]) -> None:
        sizes = uncompressed_sizes(self.env)
        self.pushed[release] = {}
        for pod, image in images.items():
            ref = f"{self.registry}/{pod}:{release}"
            cmd = [
                "podman",
                "push",
                "--quiet",
                "--tls-verify=false",
                "--compression-format",
                "gzip",
                image,
                ref,
            ]
            run(cmd, self.env, self.repo, self.log)
            self.pushed[release][pod] = manifest(ref, self.env, sizes)


def manifest(ref: str, env: dict[str, str], sizes: dict[str, int]) -> Release:
    def skopeo(*args: str) -> dict:
        done = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", *args, f"docker://{ref}"],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode != 0:
            raise StepFailed(f"`skopeo inspect {ref}`: {done.stderr.strip()}")
        return json.loads(done.stdout)

    layers = skopeo("--raw")["layers"]
    diff_ids = skopeo("--raw", "--config")["rootfs"]["diff_ids"]
    return Release(
        tuple(
            Blob(layer["digest"], layer["size"], sizes.get(d))
            for layer, d in zip(layers, diff_ids, strict=True)
        )
    )


def uncompressed_sizes(env: dict[str, str]) -> dict[str, int]:
    """diff ID -> bytes, from the storage's layer records."""
    info = subprocess.run(
        ["podman", "info", "--format", "{{.Store.GraphRoot}}"], capture_output=True, text=True, env=env
    )
    records = Path(info.stdout.strip()) / "overlay-layers/layers.json"
    try:
        return {
            r["diff-digest"]: r["diff-size"] for r in json.loads(records.read_text()) if "diff-digest" in r
        }
    except (OSError, ValueError):
        return {}


def ours_images(side: Side, pods: list[str]) -> dict[str, str]:
    return {
        pod: json.loads((side.repo / f"dist/pods/{pod}.docker-info.json").read_text())["image_id"]
        for pod in pods
    }


def ours_package(side: Side, registry: str, pods: list[str] | None = None) -> None:
    option = f"--docker-registries={repr({'bench': {'address': f'{registry}/ours', 'default': True}})}"
    targets = [f"build_files/{p}:{p}" for p in (side.pods if pods is None else pods)]
    run([str(side.repo / "pants"), option, "package", *targets], side.env, side.repo, side.log)


def relock(side: Side, pods: list[str], registry: str) -> None:
    """Lock `pods`; a Debian child's closure is resolved inside its parent's image, the one
    this side built (PODS_PARENT_IMAGE names it by the bench's tags)."""
    env = dict(side.env, PODS_PARENT_IMAGE=f"{registry}/ours/bazzite-ai-pod-{{pod}}:latest")
    run(
        [str(side.repo / "pants"), "run", "src/python/pods:pods", "--", "lock", *pods],
        env,
        side.repo,
        side.log,
    )


def release(side: Side, registry: str, tree: dict[str, str | None], scenario: Scenario) -> None:
    """Lock (if the change needs it) and build the affected pods a generation at a time, as
    a maintainer does: a child is locked inside its parent's new image. Then every pod,
    so each one's docker-info names its image."""
    changed = affected(tree, scenario.pod, side.pods)
    for depth in sorted({depth_of(tree, p) for p in changed}):
        wave = [p for p in changed if depth_of(tree, p) == depth]
        if scenario.relock:
            relock(side, wave, registry)
        ours_package(side, registry, wave)
    ours_package(side, registry)


def depth_of(tree: dict[str, str | None], pod: str) -> int:
    depth, parent = 0, tree[pod]
    while parent is not None:
        depth, parent = depth + 1, tree[parent]
    return depth


def pods_diff(side: Side, pod: str, old: str, new: str) -> str:
    """What `pods diff` prints for one pod's two releases in the registry."""
    refs = [f"docker://{side.registry}/{pod}:{tag}" for tag in (old, new)]
    cmd = [str(side.repo / "pants"), "run", "src/python/pods:pods", "--", "diff", pod, *refs]
    done = subprocess.run(cmd, env=side.env, cwd=side.repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise StepFailed(
            f"`pods diff {pod}` exited {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"
        )
    return done.stdout.strip()


def changed_files(repo: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(repo), "status", "--porcelain"], capture_output=True, text=True)
    return [line[3:] for line in out.stdout.splitlines() if line[3:].startswith("build_files/")]


def limit_for(scenario: Scenario, pod: str, new: Release, wheel: int | None) -> tuple[int | None, str]:
    if scenario.name == "debian":
        return int(0.05 * new.size), "5% of the pod's download"
    if scenario.name == "wheel" and wheel is not None:
        return wheel + 50 * MB, f"the wheel's {wheel / MB:.1f} MB + 50 MB"
    if scenario.name == "script" and pod == "jupyter":
        return 5 * MB, "5 MB"
    return None, ""


def affected(tree: dict[str, str | None], pod: str, among: list[str]) -> list[str]:
    def below(p: str | None) -> bool:
        while p is not None:
            if p == pod:
                return True
            p = tree[p]
        return False

    return [p for p in among if below(p)]


def arguments(tree: dict[str, str | None]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", default=",".join(tree), help="ours: pods to build (parent-closed)")
    p.add_argument("--baseline-pods", default="rootfs,base,githubrunner", help="the plain chain")
    p.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS))
    p.add_argument("--out", type=Path)
    p.add_argument("--markdown", type=Path)
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


def remove_bench_images(side: Side) -> None:
    """Untag every image named in the bench's registry; an image only the bench named goes.
    Children before parents: passes repeat while one still removes something."""
    listing = subprocess.run(
        ["podman", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        capture_output=True,
        text=True,
        env=side.env,
    )
    names = [n for n in listing.stdout.split() if n.startswith(side.registry.rsplit("/", 1)[0])]
    while names:
        left = [
            n
            for n in names
            if subprocess.run(["podman", "rmi", n], capture_output=True, env=side.env).returncode
        ]
        if len(left) == len(names):
            break
        names = left


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tree = parents()
    args = arguments(tree)
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
        "command": " ".join(["python3 tests/bench/update_cost.py", *sys.argv[1:]]),
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
    if args.markdown:
        text = replace_section(
            args.markdown.read_text(), markdown_section(run_data), str(args.markdown), BEGIN, END
        )
        write_atomically(args.markdown, text)
        print(f"update-cost: wrote its section of {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
