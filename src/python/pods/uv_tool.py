"""uv, run isolated: the one way `pods` calls it (the PyPI resolver and pixi.lock both do).

No uv.toml, no pip.conf and no UV_*/PIP_* variables of the caller reach it: only the
settings (index, CA bundle, timeout).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from pods.settings import Settings

# The platform of every pod (Debian 13, glibc 2.41, x86_64).
PYTHON_PLATFORM = "x86_64-manylinux_2_28"


def uv_binary() -> str:
    try:
        import uv  # the PyPI package carries the binary, so the version is our lock's

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        return "uv"


def uv_version() -> str:
    out = subprocess.run([uv_binary(), "--version"], capture_output=True, text=True).stdout.split()
    return out[1] if len(out) > 1 else "unknown"


def isolated_env(settings: Settings, cache: str | None = None) -> dict[str, str]:
    """The environment uv sees: nothing of the caller's uv/pip configuration."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_", "VIRTUAL_ENV", "CONDA_"))}
    env.update(
        UV_NO_CONFIG="1",
        PIP_CONFIG_FILE=os.devnull,
        UV_HTTP_TIMEOUT=str(int(settings.timeout)),
        UV_PYTHON_DOWNLOADS="never",
        NO_COLOR="1",
    )
    if settings.ca_bundle:
        env["SSL_CERT_FILE"] = settings.ca_bundle
    if cache:
        env["UV_CACHE_DIR"] = cache
    return env


def uv_compile(
    folder: Path, python: str, settings: Settings, args: list[str]
) -> subprocess.CompletedProcess[str] | None:
    """`uv pip compile ARGS` in folder for the pods' platform, isolated; None on timeout."""
    argv = [uv_binary(), "pip", "compile", *args, "--quiet", "--no-config", "--native-tls"]
    argv += ["--python-version", python, "--python-platform", PYTHON_PLATFORM]
    if settings.pypi_index_url:
        argv += ["--index-url", settings.pypi_index_url]
    try:
        return subprocess.run(
            argv,
            cwd=folder,
            env=isolated_env(settings),
            capture_output=True,
            text=True,
            timeout=settings.timeout * 10,
        )
    except subprocess.TimeoutExpired:
        return None
