"""The pull stage: a shared registry (PODS_CACHE_REGISTRY) as a cache of built images.

An image is stored there under `<name>:<input key>`; a runner that finds its key there
pulls instead of building, and a fresh build is pushed there for the next runner.
"""

from __future__ import annotations

import os

from engine_binary import ENGINE, PUSH_COMPRESSION, last_line, say, tls_args
from existing_image import Existing
from request import BuildRequest


def cache_ref(request: BuildRequest, key: str) -> str | None:
    registry = os.environ.get("PODS_CACHE_REGISTRY", "").rstrip("/")
    if not registry:
        return None
    return f"{registry}/{request.repository.rsplit('/', 1)[-1]}:{key}"


def pull_from_cache(request: BuildRequest, key: str) -> Existing | None:
    ref = cache_ref(request, key)
    if not ref:
        return None
    result = ENGINE.podman("pull", "--quiet", *tls_args(ref), ref, check=False)
    if result.returncode != 0:
        reason = last_line(result)
        if "manifest unknown" not in reason and "not found" not in reason:
            say(f"cache registry: could not pull {ref} ({reason}); building instead")
        return None
    image = ENGINE.local_image(ref)
    if not image:
        return None
    return Existing(image.id, key, how=f"pulled from {ref.rsplit('/', 1)[0]}")


def push_to_cache(request: BuildRequest, key: str, image: str) -> None:
    ref = cache_ref(request, key)
    if not ref:
        return
    result = ENGINE.podman("push", "--quiet", *PUSH_COMPRESSION, *tls_args(ref), image, ref, check=False)
    if result.returncode == 0:
        say(f"cache registry: pushed {ref}")
    else:
        say(f"cache registry: could not push {ref} ({last_line(result)}); continuing")
