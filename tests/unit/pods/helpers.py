"""Shared test helpers: a throwaway pods repo on disk and a loopback HTTP server."""

from __future__ import annotations

import http.server
import importlib.util
import json
from types import ModuleType
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pods.cli import main
from pods.settings import Settings, load_settings

# The in-image installer; a hyphenated script, so tests load it by path.
INSTALLER = Path("build_files/pods-install.py")


def installer_module() -> ModuleType:
    """A fresh copy of build_files/pods-install.py as a module (tests patch its paths)."""
    spec = importlib.util.spec_from_file_location("pods_install", INSTALLER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The engine wrapper: the sandbox (Pants) and a checkout both hold it at this path.
ENGINE = Path("src/engine/docker").resolve()


def write_pod(repo: Path, pod: str, pod_yaml: str, parent: str | None = None) -> Path:
    folder = repo / "build_files" / pod
    folder.mkdir(parents=True, exist_ok=True)
    (repo / "pants.toml").touch()
    base = f"ARG BASE_IMAGE=build_files/{parent}:{parent}\nFROM $BASE_IMAGE\n" if parent else "FROM scratch\n"
    (folder / "Containerfile").write_text(base)
    (folder / "pod.yaml").write_text(pod_yaml)
    return folder


def settings_for(repo: Path, **env: str) -> Settings:
    return load_settings(repo, {"PODS_ENGINE_WRAPPER": str(ENGINE), **env})


def snapshot(repo: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under build_files/ with its bytes and mtime: what "unchanged" means."""
    return {
        str(p.relative_to(repo)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted((repo / "build_files").rglob("*"))
        if p.is_file()
    }


def run_cli(
    repo: Path, capsys, *args: str, env: dict[str, str] | None = None, monkeypatch=None
) -> tuple[int, str, str]:
    if monkeypatch is not None:
        monkeypatch.setenv("PODS_ENGINE_WRAPPER", str(ENGINE))
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
    code = main(["lock", *args, "--repo", str(repo)])
    out = capsys.readouterr()
    return code, out.out, out.err


def error_line(stderr: str) -> str:
    """The one error line `pods` printed; fails the test if there is more than one."""
    errors = [line for line in stderr.splitlines() if line.startswith("pods: error:")]
    assert len(errors) == 1, stderr
    return errors[0]


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class LoopbackServer:
    """A bounded HTTP server on 127.0.0.1 serving fixed routes, logging each request path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | Callable[[dict[str, str]], Route]] = {}
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                route = server.routes.get(self.path) or Route(404, b"not found")
                if callable(route):
                    route = route(dict(self.headers))
                self.send_response(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def netloc(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def json(self, path: str, doc, **headers: str) -> None:
        self.routes[path] = Route(
            200, json.dumps(doc).encode(), {"Content-Type": "application/json", **headers}
        )

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def dead_port_url() -> str:
    """A loopback URL nothing listens on: the registry that does not answer."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def relock_fails(repo: Path, pod: str, pod_yaml: str, capsys, monkeypatch, *args: str, env=None) -> str:
    """Rewrite a pod's pod.yaml, lock again, and check the run failed leaving every file as it was.

    Returns the one error line, for the test to compare with what it expects.
    """
    (repo / "build_files" / pod / "pod.yaml").write_text(pod_yaml)
    before = snapshot(repo)
    code, _, err = run_cli(repo, capsys, *args, env=env, monkeypatch=monkeypatch)
    assert code == 1
    assert snapshot(repo) == before
    return error_line(err)
