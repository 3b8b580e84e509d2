"""The config stage: the same inputs give the same image config, so the same image ID.

podman's docker-format config records three things that only one build ever had: the
working container's ID (`container`, and its hostname in `container_config`), the
intermediate image the last step committed on (`parent`), and, per step, a `FROM
<intermediate ID>` comment. Two builds of the same inputs in two storages therefore give
two image IDs over identical layers. This stage writes the config again without them and
stores it as a new image over the same layers: skopeo finds each layer already in storage by
its diff ID and copies none, so the stage costs a config write, not a copy of the image.

What a user sees is unchanged: `podman history` keeps every step, its date and command; only
the IDs of throwaway intermediates go.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

from engine_binary import ENGINE, EngineError

# Fields that name this one build's working container or intermediates.
BUILD_ONLY_FIELDS = ("container", "container_config", "parent")
DIR_TRANSPORT_VERSION = "Directory Transport Version: 1.1\n"


def settled_config(config: dict) -> dict:
    """`config` without what only this build had; everything else as it was."""
    settled = {k: v for k, v in config.items() if k not in BUILD_ONLY_FIELDS}
    if settled.get("config", {}).get("Hostname"):
        settled["config"] = {**settled["config"], "Hostname": ""}
    history = []
    for step in settled.get("history", []):
        if str(step.get("comment", "")).startswith("FROM "):
            step = {k: v for k, v in step.items() if k != "comment"}
        history.append(step)
    if history:
        settled["history"] = history
    return settled


def config_bytes(config: dict) -> bytes:
    # One spelling of the JSON, so the digest depends on content alone.
    return json.dumps(config, separators=(",", ":"), sort_keys=True).encode()


def settle_config(image: str, tags: tuple[str, ...], scratch_name: str) -> str:
    """The ID of `image` with a settled config, tagged with `tags` (a new image over the same
    layers; `image` itself keeps podman's layer cache). `scratch_name` names the copy when
    there are no tags."""
    image = image.removeprefix("sha256:")
    source = f"containers-storage:{image}"
    manifest = json.loads(ENGINE.skopeo("inspect", "--raw", source).stdout)
    config = json.loads(ENGINE.skopeo("inspect", "--raw", "--config", source).stdout)
    raw = config_bytes(settled_config(config))
    digest = hashlib.sha256(raw).hexdigest()
    if digest == image:
        if tags:
            ENGINE.podman("tag", image, *tags)
        return image
    manifest["config"] = {**manifest["config"], "digest": f"sha256:{digest}", "size": len(raw)}
    name = tags[0] if tags else scratch_name
    with tempfile.TemporaryDirectory(prefix="pods-config-") as tmp:
        # A dir: image with the manifest and config only: skopeo takes every layer from the
        # storage (the manifest names them by diff ID) and never opens the missing files.
        Path(tmp, "version").write_text(DIR_TRANSPORT_VERSION)
        Path(tmp, "manifest.json").write_text(json.dumps(manifest))
        Path(tmp, digest).write_bytes(raw)
        ENGINE.skopeo("copy", "--quiet", f"dir:{tmp}", f"containers-storage:{name}")
    if len(tags) > 1:
        ENGINE.podman("tag", digest, *tags[1:])
    if not tags:
        ENGINE.podman("untag", digest, name)
    settled = ENGINE.local_image(digest)
    if settled is None or settled.id != digest:
        raise EngineError(f"{name}: the image with the settled config {digest[:12]} is not in storage")
    return digest
