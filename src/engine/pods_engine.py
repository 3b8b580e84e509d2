"""Content-addressed builds and safe pushes behind the `docker` wrapper (see ./docker).

Pants 2.17 runs `docker build` and `docker push` for every image on every invocation; it
has no notion of "this image already exists" (pants issue #22390). This module adds it,
as a pipeline of small stages, each its own module:

    build:  request -> existing_image (no hashing) -> pod_lock -> exclusions (probe)
            -> input_key -> [key lock] existing_image (by key) -> cache_registry (pull)
            -> build_image -> image_config (settle) -> rechunk (layers by owner)
            -> cache_registry (push)
            -> local_index (record)
    push:   push (one tag, safely; registry_state) -> supply_chain (SBOM, signature)

engine_binary runs every podman and skopeo process; records reads and writes every
record. Pants' contract: after a build or a skip, `Successfully built <id>`; errors are
one `pods: error: ...` line.

Standard library only: it runs on the host's python3 under Pants' `env -i`.
"""

from __future__ import annotations

import os
import re
import shutil
import sys

from build_image import BuildStopped, build_image
from cache_registry import pull_from_cache, push_to_cache
from engine_binary import ENGINE, EngineError, say, split_ref
from exclusions import exclusions
from existing_image import adopt, find_existing, report_built
from image_config import settle_config
from input_key import input_key
from local_index import record_image
from pod_lock import check_lock
from rechunk import plain_tag, rechunk
from push import push
from records import key_lock
from request import parse_build

# Pants' content tag ({pants.hash}): the tag SBOMs and signatures hang off.
KEY_RE = re.compile(r"[0-9a-f]{64}")


def build(argv: list[str], secrets: list[str]) -> int:
    # The caller's --iidfile is the wrapper's to write: it passes one of its own to podman,
    # and an adopted image is never built at all.
    argv, iidfile = take_option(argv, "--iidfile")
    request = parse_build(argv)
    # The no-op path: Pants asks for every image on every run; nothing is hashed here.
    existing = find_existing(request)
    if existing:
        return adopt(request, existing, iidfile)
    # The inputs changed: a bad or stale lock or setting stops here, in one line.
    keep_plain = plain_setting()
    check_lock(request)
    # What is left out (PODS_EXCLUSIONS=auto probes the vendor upstreams) is part of the key.
    plan = exclusions(request)
    key = input_key(request, plan.key_args())
    with key_lock(request.pod, key):
        existing = find_existing(request, key) or pull_from_cache(request, key)
        if existing:
            return adopt(request, existing, iidfile)
        try:
            built = build_image(request, key, argv, secrets, plan)
        except BuildStopped as stopped:
            return stopped.code
        # Same inputs, same image ID: the config without what only this build had.
        plain = settle_config(built, (plain_tag(request.repository, key),), "")
        plain_images = (plain, built)
        # Layers by owner: an update moves the layers of what changed, not the whole pod.
        built = rechunk(
            plain,
            request.parent(),
            request.pod,
            request.tags,
            f"{request.repository}:pods-chunking",
        )
        if built == plain:
            ENGINE.podman("untag", plain, plain_tag(request.repository, key))
        else:
            drop_plain(plain_tag(request.repository, key), plain_images, keep_plain)
        push_to_cache(request, key, built)
        record_image(request.tags, built, key)
    return report_built(built, iidfile)


def plain_setting() -> str:
    """PODS_PLAIN=drop: the plain build goes once laid out (half the disk, for small CI runners;
    no layer cache for the next build, no filesystem-identity test). keep (the default) keeps it."""
    setting = os.environ.get("PODS_PLAIN") or "keep"
    if setting not in ("keep", "drop"):
        raise EngineError(f"PODS_PLAIN={setting}: expected keep or drop; unset it to keep the plain build")
    return setting


def drop_plain(tag: str, images: tuple[str, ...], setting: str) -> None:
    """Remove the settled plain image, then the build's own (podman takes its step images with
    it): only then are the plain layers' bytes freed."""
    if setting == "drop":
        ENGINE.podman("rmi", tag)
        for image in images[1:]:
            if image.removeprefix("sha256:") != images[0].removeprefix("sha256:"):
                ENGINE.podman("rmi", image, check=False)
        say(f"dropped the plain build {tag} and its step images (PODS_PLAIN=drop)")


def take_option(argv: list[str], name: str) -> tuple[list[str], str | None]:
    """argv without `name VALUE` / `name=VALUE`, and the (last) value it had."""
    rest: list[str] = []
    value = None
    i = 0
    while i < len(argv):
        if argv[i] == name and i + 1 < len(argv):
            value, i = argv[i + 1], i + 2
            continue
        if argv[i].startswith(f"{name}="):
            value = argv[i].split("=", 1)[1]
        else:
            rest.append(argv[i])
        i += 1
    return rest, value


def publish(ref: str) -> int:
    pushed = push(ref)
    repository, tag = split_ref(ref)
    if KEY_RE.fullmatch(tag):
        # SBOM, signature and attestation go to the key tag's digest. Imported here: a
        # build (every image, every run) does not need it.
        import supply_chain

        supply_chain.publish_supply_chain(ref, repository, pushed.image_id, pushed.manifest_digest)
    return 0


def main(argv: list[str]) -> int:
    try:
        if argv and argv[0] == "build":
            secrets = []
            while len(argv) > 2 and argv[1] == "--pods-secret":
                secrets += ["--secret", argv[2]]
                argv = [argv[0], *argv[3:]]
            return build(argv[1:], secrets)
        if len(argv) == 2 and argv[0] == "push":
            return publish(argv[1])
        raise EngineError(f"pods_engine: unsupported command {' '.join(argv[:2])}")
    except EngineError as e:
        print(f"pods: error: {e}", file=sys.stderr, flush=True)
        return 1


def cli() -> int:
    """The wrapper's entry point. The wrapper imports this module rather than running it as
    a script, so Python reuses its compiled bytecode: ~35 ms less on every image check."""
    if shutil.which("podman") is None:
        print("pods: error: podman is not on PATH; run ./pants once as root to install it", file=sys.stderr)
        return 127
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(cli())
