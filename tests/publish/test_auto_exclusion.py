"""PODS_EXCLUSIONS=auto and none on a real build: a small pod FROM the rootfs image Pants
built, whose lock names one vendor component downloaded from a closed loopback port.

With `auto` the wrapper probes the upstream, leaves the component out and says so; the
image is labelled, its SBOM does not list the component, and publishing refuses `stable`
in one line while the key tag pushes. With `none` the same build fails in one line naming
the upstream, before podman builds anything.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pods_contract

from images.harness import engine
from publish.registry import Registry

sys.path.insert(0, str(Path("src/engine").resolve()))
import sbom  # noqa: E402  (the engine's module, run from the checkout)

POD = "demo"
COMPONENT = "demo-tool"
REPOSITORY = "bazzite-ai/bazzite-ai-pod-demo"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed on return: connecting is refused


def demo_context(port: int) -> Path:
    """build_files/demo/{Containerfile,pod.lock.json}, as Pants lays out a pod's context."""
    rootfs = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    pod_dir = ctx / pods_contract.BUILD_FILES / POD
    pod_dir.mkdir(parents=True)
    vendor = {
        "name": COMPONENT,
        "version": "1.0.0",
        "url": f"http://127.0.0.1:{port}/{COMPONENT}-1.0.0.tar.gz",
        "sha256": "0" * 64,
    }
    lock = {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": POD,
        "parent": "rootfs",
        "vendor": [vendor],
    }
    (pod_dir / "pod.lock.json").write_text(json.dumps(lock))
    (pod_dir / "Containerfile").write_text(
        f"FROM {rootfs}\nCOPY {pods_contract.repo_lock_path(POD)} {pods_contract.image_lock_path(POD)}\n"
    )
    return ctx


def build(ctx: Path, mode: str) -> subprocess.CompletedProcess:
    """The wrapper's build as Pants calls it: PODS_EXCLUSIONS comes from the environment."""
    tag = f"localhost/pods-test-auto:{uuid.uuid4().hex[:12]}"
    containerfile = ctx / pods_contract.BUILD_FILES / POD / "Containerfile"
    args = ("build", "--tag", tag, "--build-arg", "PODS_EXCLUSIONS", "--file", str(containerfile), str(ctx))
    return engine(*args, check=False, env={"PODS_EXCLUSIONS": mode})


def pods_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("pods:")]


def test_auto_leaves_out_an_unreachable_component_and_never_publishes_it_as_stable(
    registry: Registry,
) -> None:
    port = closed_port()
    built = build(demo_context(port), "auto")
    assert built.returncode == 0, built.stderr
    assert (
        f"pods: {POD}: without {COMPONENT}: its upstream is unreachable (127.0.0.1: Connection refused)"
        in (pods_lines(built.stdout))
    )
    image = built.stdout.strip().splitlines()[-1].removeprefix("Successfully built ")
    refs: list[str] = []
    try:
        labels = json.loads(engine("image", "inspect", "--format", "{{json .Labels}}", image).stdout)
        assert labels[pods_contract.LIST_LABEL] == "auto"
        assert labels[pods_contract.EXCLUDED_LABEL] == COMPONENT
        key = labels[pods_contract.KEY_LABEL]

        document = json.loads(sbom.sbom_for_image(image))
        assert [c for c in document["components"] if c["name"] == COMPONENT] == []
        properties = [(p["name"], p["value"]) for p in document["metadata"]["component"]["properties"]]
        assert (pods_contract.EXCLUDED_LABEL, COMPONENT) in properties

        refs = [registry.ref(REPOSITORY, tag) for tag in (key, "stable")]
        engine("tag", image, *refs)
        pushed = engine("push", refs[0], check=False)
        assert pushed.returncode == 0, pushed.stderr
        refused = engine("push", refs[1], check=False)
        assert refused.returncode == 1
        assert [line for line in refused.stderr.splitlines() if line.strip()] == [
            f"pods: error: {refs[1]}: refusing to move `stable`: built without {COMPONENT} (exclusion list "
            "auto); rebuild with PODS_EXCLUSIONS= where those upstreams are reachable"
        ]
        assert registry.tags(REPOSITORY) == [key]
    finally:
        for ref in refs:
            engine("rmi", ref, check=False)
        engine("rmi", "--force", image, check=False)


def test_none_fails_in_one_line_naming_the_unreachable_upstream_before_podman_builds() -> None:
    port = closed_port()
    failed = build(demo_context(port), "none")
    assert failed.returncode == 1
    assert "Successfully built" not in failed.stdout
    assert [line for line in failed.stderr.splitlines() if line.strip()] == [
        f"pods: error: {POD}: PODS_EXCLUSIONS=none builds every component, but {COMPONENT}'s upstream "
        "127.0.0.1 is unreachable (Connection refused); build where it answers, or set "
        "PODS_EXCLUSIONS=auto to leave out what cannot be reached"
    ]
    assert not any(line.startswith(f"pods: {POD}: key ") for line in failed.stdout.splitlines())
