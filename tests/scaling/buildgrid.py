"""BuildGrid, a REAPI server, on loopback: the remote cache the scaling tests share results through."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Hash-pinned (versions and hashes only); in the sandbox through 3rdparty/tools:buildgrid.
REQUIREMENTS = Path("3rdparty/tools/buildgrid.txt")
# BuildGrid 0.9 requires it.
PYTHON = "3.13"

# The smallest server Pants' remote cache needs: the action cache (allow-updates, or Pants
# can only read), the CAS and ByteStream (outputs larger than a gRPC batch) on one disk store.
# BuildGrid sizes its gRPC pool by the CPU count (5 threads per CPU) and refuses what does
# not fit ("ResourceExhausted: Concurrent RPC limit exceeded"): on a two-core runner, 10.
# Pants sends up to 128 store and 128 cache RPCs at once, and treats a refused lookup as a
# read error (it re-runs the process). So the pool is fixed, and RPCs beyond it wait in
# gRPC's queue instead of being refused, as a cache sized for its clients would.
CONFIG = """\
thread-pool-size: 32
maximum-concurrent-rpcs: 512
server:
  - !channel
    address: "127.0.0.1:{port}"
{channel_security}
{authorization}
storages:
  - !disk-storage &cas
    path: "{storage}"
caches:
  - !lru-action-cache &action-cache
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
instances:
  - name: ""
    services:
      - !action-cache
        cache: *action-cache
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
"""
INSECURE = "    insecure-mode: true"
TLS = """\
    insecure-mode: false
    credentials:
      tls-server-key: "{key}"
      tls-server-cert: "{cert}"
"""
JWT = """\
authorization:
  method: jwt
  secret: "{secret}"
  algorithm: hs256
"""


@dataclass(frozen=True)
class Credentials:
    """What a site's cache would hand out: a CA to trust and a bearer token (JWT)."""

    ca: Path
    server_key: Path
    server_cert: Path
    secret: Path
    token: str


def make_credentials(venv: Path, workdir: Path) -> Credentials:
    """A throwaway CA, a server certificate for `localhost` signed by it, and a signed token."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca, ca_key = workdir / "ca.crt", workdir / "ca.key"
    key, csr, cert = workdir / "server.key", workdir / "server.csr", workdir / "server.crt"
    # A leaf certificate, not a self-signed one: Pants' TLS stack refuses a CA certificate as
    # the server's ("CAUsedAsEndEntity"), and refuses an IP address as the server name.
    extensions = workdir / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n"
    )
    days = ["-days", "2"]
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", *days]
        + ["-keyout", ca_key, "-out", ca, "-subj", "/CN=pods-test-ca"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            "openssl",
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key,
            "-out",
            csr,
            "-subj",
            "/CN=localhost",
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", *days]
        + ["-out", cert, "-extfile", extensions],
        check=True,
        capture_output=True,
    )
    secret = workdir / "jwt.secret"
    secret.write_text(secrets.token_hex(32))
    # BuildGrid insists on an expiry; PyJWT comes with BuildGrid.
    sign = (
        "import jwt, sys, time; "
        "print(jwt.encode({'sub': 'pods-ci', 'exp': int(time.time()) + 86400}, sys.argv[1], 'HS256'))"
    )
    token = subprocess.run(
        [venv / "bin" / "python", "-c", sign, secret.read_text()], check=True, capture_output=True, text=True
    ).stdout.strip()
    return Credentials(ca=ca, server_key=key, server_cert=cert, secret=secret, token=token)


def cache_dir() -> Path:
    """Where ./pants keeps its setup; BuildGrid's venv lives beside it."""
    if os.environ.get("PODS_CACHE_DIR"):
        return Path(os.environ["PODS_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pods"


def find_python() -> str:
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    candidates = [
        shutil.which(f"python{PYTHON}"),
        *sorted(str(p) for p in pyenv_root.glob(f"versions/{PYTHON}*/bin/python{PYTHON}")),
        f"/usr/bin/python{PYTHON}",
    ]
    for candidate in filter(None, candidates):
        probe = [
            candidate,
            "-c",
            f"import sys, venv; assert sys.version_info[:2] == {tuple(map(int, PYTHON.split('.')))}",
        ]
        if subprocess.run(probe, capture_output=True).returncode == 0:
            return candidate
    raise RuntimeError(f"BuildGrid needs CPython {PYTHON}: none on PATH or under pyenv ({pyenv_root})")


def installed(requirements: Path = REQUIREMENTS) -> Path:
    """A venv holding exactly `requirements`, built once per requirements file and reused.

    Built in a scratch directory and renamed into place, so a run that dies half-way or a
    second run at the same time never leaves a half-built venv that looks ready.
    """
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = cache_dir() / f"buildgrid-{digest}"
    if (venv / ".ready").exists():
        return venv
    venv.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".buildgrid-", dir=venv.parent))
    try:
        subprocess.run([find_python(), "-m", "venv", scratch], check=True)
        # The machine's own pip configuration says where packages come from; the hashes say
        # what may be installed. Wheels only: pycurl's sdist would need libcurl's headers.
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1")
        if os.environ.get("PODS_CA_BUNDLE"):
            env["PIP_CERT"] = os.environ["PODS_CA_BUNDLE"]
        pip = [scratch / "bin" / "python", "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps"]
        subprocess.run([*pip, "--only-binary", ":all:", "-r", requirements.resolve()], check=True, env=env)
        (scratch / ".ready").touch()
        try:
            scratch.rename(venv)
        except OSError:
            if not (venv / ".ready").exists():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return venv


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    venv: Path, workdir: Path, credentials: Credentials | None = None, startup_timeout: float = 120
) -> Iterator[str]:
    """Run `bgd server start` with CONFIG; yield the address Pants takes.

    Plain gRPC, or with `credentials` TLS and a required JWT; then the address names
    `localhost`, because Pants does not accept an IP address as a TLS server name.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = workdir / "buildgrid.yml"
    if credentials:
        security = TLS.format(key=credentials.server_key, cert=credentials.server_cert)
        authorization = JWT.format(secret=credentials.secret)
    else:
        security, authorization = INSECURE, ""
    config.write_text(
        CONFIG.format(
            port=port, storage=workdir / "cas", channel_security=security, authorization=authorization
        )
    )
    log_path = workdir / "buildgrid.log"
    # `python -c` rather than bin/bgd: the venv was renamed after pip wrote bgd's shebang.
    bgd = "import sys; from buildgrid.server.app import cli; sys.argv[0] = 'bgd'; sys.exit(cli())"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [venv / "bin" / "python", "-c", bgd, "server", "start", config],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + startup_timeout
        while not _listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"BuildGrid did not start on 127.0.0.1:{port}:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield f"grpcs://localhost:{port}" if credentials else f"grpc://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        print(f"BuildGrid log ({log_path}):\n{log_path.read_text()[-2000:]}", file=sys.stderr)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0
