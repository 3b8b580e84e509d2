#!/usr/bin/env python3
"""Peak disk of each job of the GitHub workflow, measured by running the job's steps here.

The jobs are the ones `.github/workflows/pods.yml` runs when every pod is affected
(`pods ci-matrix --all`), in wave order. Each starts as a fresh runner does: a clone of
HEAD, an empty podman storage, empty Pants caches, `PODS_PLAIN=drop` as pod.yml sets it,
and `PODS_CACHE_REGISTRY` on a loopback registry that earlier jobs filled, so a job pulls
its parent by input key exactly as on GitHub. Its steps are pod.yml's: build
(`./pants package <target>`), test (`./pants test <its image tests>`) and publish
(`./pants publish <target>`, to the same loopback registry). When a job ends, its storage,
caches and clone are deleted before the next one starts.

What a job needs is sampled every second as the filesystem's used bytes (statvfs) minus
what was used when the job started, minus what the loopback registry grew by (on GitHub the
registry is elsewhere). Everything the job writes counts: the storage, podman's spool files
in /var/tmp, the engine's layer tars, Pants' caches. So the machine must be otherwise idle:
anything else writing to the disk is counted too. Pants itself (the launcher's install under
~/.cache) is shared with this machine and not counted.

Usage: python3 tests/bench/job_disk.py [--pods rootfs,base] [--steps build,test,publish] [--test-in jupyter]
       [--out docs/job-disk.json] [--markdown docs/scaling.md]
A failing step ends the run: one line naming the job and step, a non-zero exit.

A job cannot be run alone with its parent taken from this machine's storage: a child's input
key covers its parent's docker-info.json, which names the registries the run publishes to,
so the keys here (a loopback registry) are not the keys of the machine's own images.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "src/engine"))
sys.path.insert(0, str(REPO / "src/python"))
from bench.bench import commit, loopback_registry, machine  # noqa: E402
from bench.job_disk_report import BEGIN, END, Job, console_lines, markdown_section  # noqa: E402
from bench.report import replace_section, write_json, write_section  # noqa: E402
from bench.sides import StepFailed, clone, push_tags, read_plan, run, storage_env  # noqa: E402
from pods.graph import load_graph  # noqa: E402
from pods.matrix import ci_matrix  # noqa: E402

STEPS = ("build", "test", "publish")


def used_bytes() -> int:
    st = os.statvfs("/")
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def tree_bytes(path: Path) -> int:
    """Bytes on disk under `path` (du's count: hardlinks once, sparse files as stored)."""
    if not path.exists():
        return 0
    out = subprocess.run(["du", "-sB1", str(path)], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else 0


class Sampler:
    """The job's disk, sampled every second on a thread: the peak, and the step it came in."""

    def __init__(self, registry_dir: Path) -> None:
        self.registry_dir = registry_dir
        self.start = used_bytes() - tree_bytes(registry_dir)
        self.step = ""
        self.peak = 0
        self.peak_step = ""
        self.step_peaks: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        now = used_bytes() - tree_bytes(self.registry_dir) - self.start
        if now > self.peak:
            self.peak, self.peak_step = now, self.step
        if self.step:
            self.step_peaks[self.step] = max(self.step_peaks.get(self.step, 0), now)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self.sample()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def jobs(pods: list[str]) -> list[dict]:
    graph = load_graph(REPO)
    matrix = ci_matrix(graph, tuple(p for p in graph.topological() if p in pods), REPO)
    return [dict(job, wave=i + 1) for i, wave in enumerate(matrix["waves"]) for job in wave["include"]]


def image_bytes(env: dict[str, str], repo: Path, pod: str) -> int:
    """The pod's image as podman counts it (uncompressed, parents' layers included)."""
    info = json.loads((repo / f"dist/pods/{pod}.docker-info.json").read_text())
    size = subprocess.run(
        ["podman", "image", "inspect", "--format", "{{.Size}}", info["image_id"]],
        env=env,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return int(size) if size.isdigit() else 0


def publish(pod: str, repo: Path, env: dict[str, str], registries: str, address: str, log: Path) -> None:
    """pod.yml's publish step. Here some components are left out, and `./pants publish` then
    refuses `latest`/`stable` (as it should) and fails; an image that lacks something gets
    its key and version tags pushed by the same engine command Pants runs, as the bench does.
    On GitHub (PODS_EXCLUSIONS=none) every image is full and takes the first path."""
    plan = read_plan(pod, repo, env)
    if plan.withheld:
        push_tags(plan, address, repo, env, log)
    else:
        run([str(repo / "pants"), registries, "publish", f"build_files/{pod}:{pod}"], env, repo, log)


def run_job(job: dict, steps: list[str], test_in: list[str], work: Path, registry, logs: Path) -> Job:
    home = work / f"job-{job['pod']}"
    repo = clone(home / "repo")
    env = dict(
        storage_env(home / "storage"),
        PANTS_LOCAL_STORE_DIR=str(home / "pants-store"),
        PANTS_NAMED_CACHES_DIR=str(home / "pants-named-caches"),
        PODS_CACHE_REGISTRY=f"{registry.address}/cache",
        PODS_PLAIN="drop",
    )
    registries = (
        f"--docker-registries={repr({'jobs': {'address': f'{registry.address}/publish', 'default': True}})}"
    )
    commands = {
        "build": ["package", job["target"]],
        "test": ["test", *job["tests"].split()],
    }
    log = logs / f"{job['pod']}.log"
    seconds: dict[str, float] = {}
    try:
        with Sampler(registry.storage) as sampler:
            for name in steps:
                if name == "test" and test_in and job["pod"] not in test_in:
                    continue  # the report says "not run", not a figure
                sampler.step = name
                print(f"job-disk: {job['pod']}: {name} ...", flush=True)
                started = time.monotonic()
                try:
                    if name == "publish":
                        publish(job["pod"], repo, env, registries, f"{registry.address}/publish", log)
                    else:
                        run([str(repo / "pants"), registries, *commands[name]], env, repo, log)
                except StepFailed as e:
                    raise SystemExit(f"job-disk: job {job['pod']}, step {name} failed: {e}") from None
                seconds[name] = time.monotonic() - started
        storage = tree_bytes(home / "storage")
        image = image_bytes(env, repo, job["pod"])
    finally:
        subprocess.run(["podman", "rmi", "--all", "--force"], env=env, capture_output=True)
        subprocess.run(["pkill", "-f", f"pantsd \\[{repo}\\]"], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
    result = Job(
        pod=job["pod"],
        wave=job["wave"],
        parent=job["parent"],
        peak=sampler.peak,
        peak_step=sampler.peak_step,
        step_peaks=sampler.step_peaks,
        seconds=seconds,
        storage_at_end=storage,
        image=image,
    )
    print(console_lines([result])[-1], flush=True)
    return result


def arguments() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pods", default="", help="a parent-closed subset, comma-separated (default: all)")
    p.add_argument("--steps", default=",".join(STEPS), help="which of pod.yml's steps to run")
    p.add_argument(
        "--test-in",
        default="",
        help="run the test step only in these jobs, comma-separated (default: every job); "
        "the test step of all jobs is the whole image test suite",
    )
    p.add_argument("--out", type=Path, help="write the run as JSON here (after every job)")
    p.add_argument("--from-json", type=Path, help="write --markdown from a run's JSON, building nothing")
    p.add_argument("--markdown", type=Path, help="replace the job-disk section of this file")
    args = p.parse_args()
    graph = load_graph(REPO)
    args.pods = [p for p in graph.topological() if not args.pods or p in args.pods.split(",")]
    orphans = [p for p in args.pods if graph.parent_of(p) and graph.parent_of(p) not in args.pods]
    if orphans:
        raise SystemExit(f"job-disk: --pods: {', '.join(orphans)} need their parents in the list too")
    args.steps = [s for s in STEPS if s in args.steps.split(",")]
    args.test_in = [p for p in args.test_in.split(",") if p]
    unknown = [p for p in args.test_in if p not in args.pods]
    if unknown:
        raise SystemExit(f"job-disk: --test-in: {', '.join(unknown)} is not one of the jobs run")
    if args.markdown:  # before an hour of building, not after
        try:
            replace_section(args.markdown.read_text(), "", str(args.markdown), BEGIN, END)
        except (OSError, ValueError) as e:
            raise SystemExit(f"job-disk: --markdown: {e}") from None
    return args


def main() -> int:
    args = arguments()
    if args.from_json:
        return write_markdown(json.loads(args.from_json.read_text()), args.markdown)
    head = commit()  # what the clones are made from, read before the hour of building
    logs = Path(tempfile.mkdtemp(prefix="pods-job-disk-logs-"))
    print(f"job-disk: logs in {logs}", flush=True)
    planned = jobs(args.pods)
    run_data = {
        "command": " ".join(["python3 tests/bench/job_disk.py", *sys.argv[1:]]),
        "date": "",
        "commit": head,
        "machine": machine(),
        "steps": args.steps,
        "test_in": args.test_in or args.pods,
        "exclusions": os.environ.get("PODS_EXCLUSIONS", "auto"),
        "jobs": [],
        "jobs_not_run": [job["pod"] for job in planned],
    }
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pods-job-disk-")))
        registry = stack.enter_context(loopback_registry())
        for job in planned:
            done = run_job(job, args.steps, args.test_in, work, registry, logs)
            run_data["jobs"].append(done.as_dict())
            run_data["jobs_not_run"].remove(job["pod"])
            run_data["date"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
            # After every job: a run stopped part-way still has what it measured.
            if args.out:
                write_json(args.out, run_data)
    print("\n".join(console_lines([Job(**j) for j in run_data["jobs"]])))
    return write_markdown(run_data, args.markdown)


def write_markdown(run_data: dict, markdown: Path | None) -> int:
    if markdown:
        write_section(markdown, markdown_section(run_data), BEGIN, END)
        print(f"job-disk: wrote its section of {markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
