"""Settings `pods` takes from the environment, so no mirror or registry is written in code.

Every upstream defaults to what the machine's own tool configuration says (apt sources
inside the parent image, uv's and npm's built-in defaults); a PODS_* variable overrides
it, e.g. to point a test at a loopback server.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pods.errors import PodsError


@dataclass(frozen=True)
class Settings:
    repo: Path
    engine: str  # the podman/docker wrapper (src/engine/docker)
    parent_image: str  # template with {pod}
    debian_mirror: str | None  # rootfs only: mmdebstrap's mirror; else the machine's apt config
    pypi_index_url: str | None  # None: uv's default index
    npm_registry: str | None  # None: npm's default registry
    ca_bundle: str | None  # PEM bundle for a TLS-intercepting proxy
    github_api_url: str  # vendor `github_release` sources
    conda_channel: str  # what pixi.toml and pixi.lock name as the conda channel
    pixi_pods: tuple[str, ...]  # pods that also get pixi.toml and pixi.lock
    timeout: float  # seconds before an upstream that does not answer is an error


def find_repo(start: Path) -> Path:
    """The repo root: the nearest folder holding pants.toml and build_files/."""
    for folder in (start, *start.parents):
        if (folder / "pants.toml").is_file() and (folder / "build_files").is_dir():
            return folder
    raise PodsError(
        str(start),
        "not inside the pods repo (no pants.toml with build_files/ above it); "
        "run from the repo or pass --repo",
    )


def load_settings(repo: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    if repo is None:
        repo = Path(env["PODS_REPO"]) if env.get("PODS_REPO") else find_repo(Path.cwd())
    root = repo.resolve()
    ca = env.get("PODS_CA_BUNDLE") or env.get("SSL_CERT_FILE")
    if not ca and Path("/etc/ssl/certs/ca-certificates.crt").is_file():
        ca = "/etc/ssl/certs/ca-certificates.crt"
    return Settings(
        repo=root,
        engine=env.get("PODS_ENGINE_WRAPPER") or str(root / "src/engine/docker"),
        parent_image=env.get("PODS_PARENT_IMAGE", "ghcr.io/bazzite-ai/bazzite-ai-pod-{pod}:latest"),
        debian_mirror=env.get("PODS_DEBIAN_MIRROR") or None,
        pypi_index_url=env.get("PODS_PYPI_INDEX_URL") or None,
        npm_registry=env.get("PODS_NPM_REGISTRY") or None,
        ca_bundle=ca or None,
        github_api_url=env.get("PODS_GITHUB_API_URL", "https://api.github.com").rstrip("/"),
        # By name, as pixi users write it; pixi.lock records the URL rattler makes of it.
        conda_channel=env.get("PODS_CONDA_CHANNEL", "conda-forge"),
        pixi_pods=tuple(
            p.strip() for p in env.get("PODS_PIXI_PODS", "nvidia-python,jupyter").split(",") if p.strip()
        ),
        timeout=float(env.get("PODS_TIMEOUT", "60")),
    )
