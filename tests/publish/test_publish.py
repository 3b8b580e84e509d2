"""Publishing through the engine wrapper against a real registry on loopback.

`./pants publish` runs `docker push <tag>` once per tag, key tag first; these tests call
the same wrapper the same way, on the rootfs image Pants built for them.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import engine
from publish.registry import CuttingRelay, Registry, env_without_auth, running_registry

REPOSITORY = "bazzite-ai/bazzite-ai-pod-rootfs"


def push(ref: str) -> subprocess.CompletedProcess:
    """`./pants publish`'s push of one tag, through the engine wrapper."""
    return engine("push", ref, check=False)


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("pods: error:")]


@pytest.fixture(scope="module")
def rootfs() -> dict:
    info = json.loads(Path("pods/rootfs.docker-info.json").read_text())
    (key,) = (t["tag"] for t in info["registries"][0]["tags"] if t["template"] == "{pants.hash}")
    return {"id": info["image_id"], "key": key}


class Staged:
    """Local tags naming one image in a test registry; removed afterwards."""

    def __init__(self, image: str, registry: Registry, repository: str = REPOSITORY) -> None:
        self.image, self.registry, self.repository = image, registry, repository
        self.refs: list[str] = []

    def tag(self, *tags: str) -> list[str]:
        refs = [self.registry.ref(self.repository, t) for t in tags]
        engine("tag", self.image, *refs)
        self.refs += refs
        return refs

    def cleanup(self) -> None:
        for ref in self.refs:
            engine("rmi", ref, check=False)


@pytest.fixture
def staged(rootfs: dict, registry: Registry) -> Iterator[Staged]:
    s = Staged(rootfs["id"], registry)
    yield s
    s.cleanup()


def derived_image(parent: str, label: str, payload_bytes: int = 0) -> str:
    """A small image on top of `parent`, built by the wrapper; returns its ID."""
    tag = f"localhost/pods-test-derived:{uuid.uuid4().hex[:12]}"
    lines = [f"FROM {parent}", f"LABEL {label}"]
    if payload_bytes:
        lines.append(f"RUN head -c {payload_bytes} /dev/urandom > /tmp/payload")
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    (ctx / "Containerfile").write_text("\n".join(lines) + "\n")
    out = engine("build", "--tag", tag, "--file", str(ctx / "Containerfile"), str(ctx)).stdout
    image = out.strip().splitlines()[-1].removeprefix("Successfully built ")
    return image


def test_tags_move_only_after_the_key_tag_is_pushed(rootfs: dict, registry: Registry, staged: Staged) -> None:
    key_ref, version_ref, latest_ref, stable_ref = staged.tag(rootfs["key"], "0.1.0", "latest", "stable")

    early = push(latest_ref)
    assert early.returncode == 1
    assert error_lines(early) == [
        f"pods: error: {latest_ref}: refusing to move `latest`: {key_ref}, {version_ref} not pushed yet; "
        "re-run `./pants publish`"
    ]
    assert registry.tags(REPOSITORY) == []

    for ref in (key_ref, version_ref, latest_ref, stable_ref):
        result = push(ref)
        assert result.returncode == 0, result.stderr
    # The registry serves exactly the image the tests ran against (the config digest is
    # podman's image ID), under every tag.
    assert registry.tags(REPOSITORY) == sorted([rootfs["key"], "0.1.0", "latest", "stable"])
    for tag in (rootfs["key"], "0.1.0", "latest", "stable"):
        assert registry.config_digest(REPOSITORY, tag) == f"sha256:{rootfs['id']}"


def test_republishing_an_unchanged_image_uploads_nothing(
    rootfs: dict, registry: Registry, staged: Staged
) -> None:
    refs = staged.tag(rootfs["key"], "0.1.0", "latest", "stable")
    for ref in refs:
        assert push(ref).returncode == 0
    blobs = registry.blob_count()
    assert blobs >= 2  # at least one layer and the config

    for ref in refs:
        again = push(ref)
        assert again.returncode == 0, again.stderr
        assert f"pods: {ref}: already points at {rootfs['id'][:12]}; nothing to upload" in again.stdout
    assert registry.blob_count() == blobs


def test_a_republish_reads_the_registry_once_per_image_not_once_per_tag(
    rootfs: dict, registry: Registry, staged: Staged
) -> None:
    # Pants runs one push per tag; on a re-publish each would ask the registry where its
    # tag points. The first asks for all of the image's tags at once; the rest ask nothing.
    for ref in staged.tag(rootfs["key"], "0.1.0", "latest", "stable"):
        assert push(ref).returncode == 0
    relay = CuttingRelay(int(registry.address.rsplit(":", 1)[1]))
    through = Staged(rootfs["id"], Registry(address=relay.address, storage=registry.storage))
    try:
        first, *others = through.tag(rootfs["key"], "0.1.0", "latest", "stable")
        again = push(first)
        assert again.returncode == 0, again.stderr
        assert f"pods: {first}: already points at {rootfs['id'][:12]}; nothing to upload" in again.stdout
        assert relay.connections > 0
        read = relay.connections
        for ref in others:
            again = push(ref)
            assert again.returncode == 0, again.stderr
            assert f"pods: {ref}: already points at {rootfs['id'][:12]}; nothing to upload" in again.stdout
        assert relay.connections == read
    finally:
        relay.close()
        through.cleanup()


def test_an_image_built_with_exclusions_is_never_stable_or_latest(rootfs: dict, registry: Registry) -> None:
    image = derived_image(
        rootfs["id"],
        'io.github.bazzite-ai.pods.exclusions=offline io.github.bazzite-ai.pods.excluded="dotnet-sdk,helm"',
    )
    staged = Staged(image, registry)
    try:
        key_ref, latest_ref, stable_ref = staged.tag("0" * 64, "latest", "stable")
        assert push(key_ref).returncode == 0
        for ref, tag in ((latest_ref, "latest"), (stable_ref, "stable")):
            refused = push(ref)
            assert refused.returncode == 1
            assert error_lines(refused) == [
                f"pods: error: {ref}: refusing to move `{tag}`: built without dotnet-sdk, helm (exclusion "
                "list offline); rebuild with PODS_EXCLUSIONS= where those upstreams are reachable"
            ]
        assert registry.tags(REPOSITORY) == ["0" * 64]
    finally:
        staged.cleanup()
        engine("rmi", "--force", image, check=False)


def test_a_registry_that_refuses_authentication_gets_one_line_and_no_tags(
    rootfs: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_registry(auth=("ci", "s3cret-not-used")) as registry:
        staged = Staged(rootfs["id"], registry)
        try:
            (key_ref,) = staged.tag(rootfs["key"])
            monkeypatch.setenv("REGISTRY_AUTH_FILE", env_without_auth()["REGISTRY_AUTH_FILE"])
            result = push(key_ref)
            assert result.returncode == 1
            (line,) = error_lines(result)
            assert line.startswith(f"pods: error: {key_ref}: the registry refused our credentials (")
            assert line.endswith(f"log in with `podman login {registry.address}` or set REGISTRY_AUTH_FILE")
            assert "s3cret" not in result.stdout + result.stderr
        finally:
            staged.cleanup()


def test_a_push_cut_midway_leaves_every_tag_on_a_complete_image_and_a_rerun_finishes(
    rootfs: dict, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = CuttingRelay(int(registry.address.rsplit(":", 1)[1]))
    through = Registry(address=relay.address, storage=registry.storage)
    old, new = rootfs["id"], derived_image(rootfs["id"], "pods.test=new", payload_bytes=4 << 20)
    old_tags, new_tags = Staged(old, through), Staged(new, through)
    monkeypatch.setenv("PODS_PUSH_ATTEMPTS", "2")
    try:
        # Yesterday's release, complete.
        for ref in old_tags.tag("1" * 64, "latest"):
            assert push(ref).returncode == 0

        # Today's push dies in the middle of its new layer.
        key_ref, latest_ref = new_tags.tag("2" * 64, "latest")
        relay.cut_after = 256 << 10
        cut = push(key_ref)
        assert cut.returncode == 1
        assert relay.cuts >= 2  # both attempts were cut
        (line,) = error_lines(cut)
        assert line.startswith(f"pods: error: {key_ref}: push failed after 2 attempts (")
        refused = push(latest_ref)
        assert refused.returncode == 1
        relay.cut_after = None
        assert registry.config_digest(REPOSITORY, "latest") == f"sha256:{old}"
        assert registry.config_digest(REPOSITORY, "2" * 64) is None

        # A re-run finishes the job.
        for ref in (key_ref, latest_ref):
            assert push(ref).returncode == 0
        assert registry.config_digest(REPOSITORY, "latest") == f"sha256:{new}"
        assert registry.config_digest(REPOSITORY, "1" * 64) == f"sha256:{old}"
    finally:
        relay.close()
        old_tags.cleanup()
        new_tags.cleanup()
        engine("rmi", "--force", new, check=False)
