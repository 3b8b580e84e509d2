"""The two sides of the update-cost bench (tests/bench/update_cost.py): how each builds and
locks a release, pushes it to the loopback registry and reads it back, and cleans up."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from bench.sides import StepFailed, engine_conf, run
from bench.update_report import Blob, Release
from bench.update_scenarios import Scenario


def engine_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return engine_conf({**os.environ, **(extra or {})})


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


def affected(tree: dict[str, str | None], pod: str, among: list[str]) -> list[str]:
    def below(p: str | None) -> bool:
        while p is not None:
            if p == pod:
                return True
            p = tree[p]
        return False

    return [p for p in among if below(p)]


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
