"""A real registry on loopback for publish tests: Debian's `docker-registry` (distribution 2.x),
plus a TCP relay that can cut a push in the middle.

Each fixture instance gets its own port and storage folder, so tests can run side by side.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from images.harness import free_port


@dataclass(frozen=True)
class Registry:
    address: str  # host:port
    storage: Path

    def ref(self, repository: str, tag: str) -> str:
        return f"{self.address}/{repository}:{tag}"

    def tags(self, repository: str, attachments: bool = False) -> list[str]:
        """The repository's tags; cosign's `sha256-<digest>.{sbom,sig,att}` only if asked."""
        try:
            with urllib.request.urlopen(f"http://{self.address}/v2/{repository}/tags/list", timeout=10) as r:
                tags = sorted(json.load(r).get("tags") or [])
                return tags if attachments else [t for t in tags if not t.startswith("sha256-")]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return []
            raise

    def config_digest(self, repository: str, tag: str) -> str | None:
        """What a tag points at, as the image's config digest (podman's image ID)."""
        request = urllib.request.Request(
            f"http://{self.address}/v2/{repository}/manifests/{tag}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as r:
                return json.load(r)["config"]["digest"]
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise

    def blob_count(self) -> int:
        blobs = self.storage / "docker/registry/v2/blobs"
        return sum(1 for p in blobs.rglob("data")) if blobs.exists() else 0


def _htpasswd(user: str, password: str) -> str:
    # The registry only accepts bcrypt; libcrypt provides it through the crypt module.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    return f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n"


@contextlib.contextmanager
def running_registry(auth: tuple[str, str] | None = None) -> Iterator[Registry]:
    with tempfile.TemporaryDirectory(prefix="pods-registry-") as tmp:
        root = Path(tmp)
        port = free_port()
        lines = [
            "version: 0.1",
            "log: {level: error}",
            "storage:",
            f"  filesystem: {{rootdirectory: {root / 'data'}}}",
            "  delete: {enabled: true}",
            f"http: {{addr: '127.0.0.1:{port}'}}",
        ]
        if auth:
            (root / "htpasswd").write_text(_htpasswd(*auth))
            lines += ["auth:", "  htpasswd:", "    realm: pods-test", f"    path: {root / 'htpasswd'}"]
        (root / "config.yml").write_text("\n".join(lines) + "\n")
        log = open(root / "registry.log", "w")
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(root / "config.yml")], stdout=log, stderr=log
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2)
                    break
                except urllib.error.HTTPError as e:
                    if e.code == 401:  # up, and asking for credentials
                        break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"docker-registry did not start: {(root / 'registry.log').read_text()}"
                    )
                time.sleep(0.2)
            yield Registry(address=f"127.0.0.1:{port}", storage=root / "data")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            log.close()


class CuttingRelay:
    """Relays loopback TCP to a registry; once armed, drops every connection after
    `cut_after` bytes sent upstream, the way a registry that dies mid-push looks.
    `connections` counts what reached the registry through it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_after: int | None = None
        self.cuts = 0
        self.connections = 0
        self._server = socket.socket()
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            budget = [self.cut_after]
            threading.Thread(target=self._pipe, args=(client, upstream, budget), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, [None]), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, budget: list) -> None:
        try:
            while data := src.recv(65536):
                if budget[0] is not None:
                    budget[0] -= len(data)
                    if budget[0] < 0:
                        self.cuts += 1
                        raise OSError("cut")
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._server.close()


def env_without_auth() -> dict[str, str]:
    """An environment whose engine has no stored credentials (a throwaway auth file)."""
    env = dict(os.environ)
    fd, path = tempfile.mkstemp(suffix=".json")
    os.write(fd, b"{}")
    os.close(fd)
    env["REGISTRY_AUTH_FILE"] = path
    return env
