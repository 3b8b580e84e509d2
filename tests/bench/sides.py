"""The two sides of the bench: upstream's plain `podman build` (Baseline) and ours
(`./pants` through the engine wrapper), each in its own clone with its own podman storage.
Used by bench.py, which puts tests/, src/engine and src/python on sys.path first.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

from bench.tags import PublishPlan, plan_from_docker_info
from pods_contract import EXCLUDED_LABEL, read_lock, repo_lock_path

REPO = Path(__file__).resolve().parents[2]
ENGINE_DIR = REPO / "src/engine"
# Build args the Containerfiles declare and pants.toml sets (PODS_EXCLUSIONS is the
# engine's, turned into PODS_EXCLUDE; BASE_IMAGE is the parent, set per pod).
CONTAINERFILE_ARGS = ("POD_VERSION", "POD_SOURCE")


class StepFailed(Exception):
    """A command of a bench step failed; the message says which and where its log is."""


def engine_conf(env: dict[str, str]) -> dict[str, str]:
    """`env` with the engine's own configuration (runc, the loopback registry as insecure)."""
    return dict(
        env,
        CONTAINERS_CONF=str(ENGINE_DIR / "containers.conf"),
        CONTAINERS_REGISTRIES_CONF=str(ENGINE_DIR / "registries.conf"),
    )


def storage_env(root: Path) -> dict[str, str]:
    from images.harness import private_storage

    return engine_conf(private_storage(root))


def run(cmd: list[str], env: dict[str, str], cwd: Path, log: Path) -> None:
    with open(log, "a") as out:
        result = subprocess.run(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise StepFailed(f"`{' '.join(cmd[:4])} ...` exited {result.returncode}; see {log}")


def clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(into)], check=True)
    return into


def vendor_items(pods: list[str]) -> list[dict]:
    """The vendor components the pods' locks declare."""
    return [item for pod in pods for item in read_lock(str(REPO / repo_lock_path(pod))).get("vendor", [])]


def baseline_exclusions(pods: list[str]) -> list[str]:
    """What the baseline leaves out: what ours does (the same list, or under `auto`, the
    same probe of each vendor upstream), so both sides build the same components."""
    name = os.environ.get("PODS_EXCLUSIONS", "auto")
    if name in ("", "none"):
        return []
    if name != "auto":
        return sorted(tomllib.loads((REPO / "build_files/exclusions.toml").read_text()).get(name, {}))
    from vendor_probe import probe_all

    items = vendor_items(pods)
    probes = probe_all([item["url"] for item in items])
    return sorted({item["name"] for item in items if probes[item["url"]].unreachable})


def configured_args() -> list[str]:
    """`--build-arg` flags for the Containerfile args pants.toml sets, read from it."""
    from publish.config import build_args

    with contextlib.chdir(REPO):
        args = build_args()
    return [f for name in CONTAINERFILE_ARGS if name in args for f in ("--build-arg", f"{name}={args[name]}")]


class Baseline:
    """Upstream's way: `podman build` of each Containerfile in order, in a checkout."""

    def __init__(self, pods: list[str], tree: dict[str, str | None], work: Path, logs: Path, ca: str) -> None:
        self.pods, self.tree, self.ca = pods, tree, ca
        # The root stands for the base image upstream pulls: built once, in the cold step.
        self.rebuilt = [pod for pod in pods if tree[pod]]
        self.env = storage_env(work / "storage-baseline")
        self.repo = clone(work / "baseline-repo")
        self.log = logs / "baseline.log"
        self.excluded = baseline_exclusions(pods)
        self.args = [*configured_args(), "--build-arg", f"PODS_EXCLUDE={','.join(self.excluded)}"]

    def rootfs_tar(self) -> None:
        out = self.repo / "build_files/rootfs/rootfs.tar"
        run(
            [sys.executable, str(self.repo / "build_files/rootfs/mkrootfs.py"), str(out)],
            self.env,
            self.repo,
            self.log,
        )

    def build(self, pods: list[str] | None = None) -> None:
        for pod in self.rebuilt if pods is None else pods:
            # Docker format, as ours: OCI image configs drop HEALTHCHECK.
            cmd = ["podman", "build", "--format", "docker", "--secret", f"id=ca,src={self.ca}", *self.args]
            if self.tree[pod]:
                cmd += ["--build-arg", f"BASE_IMAGE=localhost/bench/{self.tree[pod]}:latest"]
            cmd += [
                "--tag",
                f"localhost/bench/{pod}:latest",
                "--file",
                f"build_files/{pod}/Containerfile",
                ".",
            ]
            run(cmd, self.env, self.repo, self.log)

    def push(self, plans: list[PublishPlan], registry: str) -> None:
        for plan in plans:
            for tag in plan.tags:
                ref = plan.ref(f"{registry}/baseline", tag)
                cmd = ["podman", "push", "--tls-verify=false", f"localhost/bench/{plan.pod}:latest", ref]
                run(cmd, self.env, self.repo, self.log)


class Ours:
    """`./pants package` / `./pants publish` through the engine wrapper, in a clone of the
    repo (its own buildroot, pantsd and .pods/engine.env, so a developer's runs in the
    working tree cannot switch its podman storage mid-benchmark)."""

    def __init__(self, pods: list[str], work: Path, logs: Path, registry: str) -> None:
        self.pods = pods
        self.repo = clone(work / "repo")
        # Every command names the same registries: an option change restarts pantsd
        # (~15 s), which would land inside whichever scenario came after the first publish.
        self.options = [
            f"--docker-registries={repr({'bench': {'address': f'{registry}/ours', 'default': True}})}"
        ]
        self.targets = {pod: f"build_files/{pod}:{pod}" for pod in pods}
        # Pants' caches start empty too (its own store and named caches), and stay the
        # same for every run so that pantsd is never restarted by an option change.
        self.env = dict(
            storage_env(work / "storage-ours"),
            PANTS_LOCAL_STORE_DIR=str(work / "pants-store"),
            PANTS_NAMED_CACHES_DIR=str(work / "pants-named-caches"),
        )
        self.log = logs / "ours.log"
        self.registry = registry

    def pants(self, *args: str) -> None:
        run([str(self.repo / "pants"), *self.options, *args], self.env, cwd=self.repo, log=self.log)

    def package(self) -> None:
        self.pants("package", *self.targets.values())

    def plans(self) -> list[PublishPlan]:
        """Each image's tags (Pants' docker-info.json) and what it lacks (its label)."""
        try:
            return [self.plan(pod) for pod in self.pods]
        except (OSError, ValueError, KeyError) as e:  # a missing or malformed docker-info.json
            raise StepFailed(f"{type(e).__name__}: {e}") from None

    def plan(self, pod: str) -> PublishPlan:
        return read_plan(pod, self.repo, self.env)

    def publish(self, plans: list[PublishPlan]) -> None:
        complete = [self.targets[p.pod] for p in plans if not p.withheld]
        if complete:
            self.pants("publish", *complete)
        for plan in (p for p in plans if p.withheld):
            push_tags(plan, f"{self.registry}/ours", self.repo, self.env, self.log)


def read_plan(pod: str, repo: Path, env: dict[str, str]) -> PublishPlan:
    """The pod's tags (Pants' docker-info.json in `repo`) and what its image lacks (its label)."""
    info = json.loads((repo / f"dist/pods/{pod}.docker-info.json").read_text())
    inspect = subprocess.run(
        ["podman", "image", "inspect", info["image_id"]], env=env, capture_output=True, text=True
    )
    if inspect.returncode != 0:
        raise StepFailed(f"{pod}: `podman image inspect {info['image_id'][:12]}`: {inspect.stderr.strip()}")
    labels = json.loads(inspect.stdout)[0].get("Labels") or {}
    return plan_from_docker_info(pod, info, labels.get(EXCLUDED_LABEL, ""))


def push_tags(plan: PublishPlan, registry_path: str, repo: Path, env: dict[str, str], log: Path) -> None:
    """The plan's tags (for an image that lacks components: its key and version tags), each
    pushed by the engine command Pants runs for it."""
    for tag in plan.tags:
        run([str(repo / "src/engine/docker"), "push", plan.ref(registry_path, tag)], env, repo, log)


def drop_images(env: dict[str, str], pods: list[str]) -> None:
    """Remove the named pods' images from one side's storage (outside any timing).

    Before the base edit: every descendant of base is rebuilt from scratch on both sides
    anyway (its FROM changed), and two copies of the family at once may not fit on disk.
    """
    listing = subprocess.run(
        ["podman", "images", "--format", "{{.ID}} {{.Repository}}"], env=env, capture_output=True, text=True
    )
    if listing.returncode != 0:
        raise StepFailed(f"`podman images`: {listing.stderr.strip()}")
    names = {*(f"bazzite-ai-pod-{p}" for p in pods), *pods}
    rows = [line.split() for line in listing.stdout.splitlines() if line.strip()]
    ids = sorted({row[0] for row in rows if len(row) > 1 and row[1].rsplit("/", 1)[-1] in names})
    for cmd in ([["podman", "rmi", "--force", *ids]] if ids else []) + [
        ["podman", "image", "prune", "--force"]
    ]:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise StepFailed(f"`{' '.join(cmd[:3])}`: {done.stderr.strip()}")
