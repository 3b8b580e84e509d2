"""Image sizes as a user sees them: the gzip-compressed layers a registry would serve."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path


def compressed_size(image_id: str) -> int:
    """Bytes a user downloads for `image_id`: its layers gzip-compressed, as a push would make them.

    skopeo writes the image to a directory with compression forced on, which is what a push
    to a registry does; summing the layer blobs gives what `podman pull` fetches.
    """
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as out:
        subprocess.run(
            [
                shutil.which("skopeo", path=os.environ.get("PATH", "") + ":/usr/bin:/bin") or "skopeo",
                "copy",
                "--quiet",
                "--dest-compress",
                "--dest-compress-format",
                "gzip",
                f"containers-storage:{image_id}",
                f"dir:{out}",
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
        manifest = json.loads(Path(out, "manifest.json").read_text())
        return sum(layer["size"] for layer in manifest["layers"])
