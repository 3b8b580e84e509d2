"""The vendor probe and PODS_EXCLUSIONS=auto|none against real sockets on loopback: a server
that answers, one that answers with an error, a closed port, and one that never answers."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pods_contract
import pytest
import vendor_probe
from engine_binary import EngineError
from exclusions import LEFT_OUT_ARG, exclusions
from input_key import input_key
from request import parse_build


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's spelling)
        if self.path.startswith("/gone"):
            self.send_error(404)
            return
        self.send_response(206)
        self.send_header("Content-Length", "1")
        self.end_headers()
        self.wfile.write(b"x")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def hanging() -> Iterator[str]:
    """Accepts connections (the kernel does, from the backlog) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def closed_port() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now: connecting is refused
    return f"http://127.0.0.1:{port}"


def test_an_answering_upstream_is_reachable(server: str) -> None:
    assert vendor_probe.probe(f"{server}/helm.tar.gz") == vendor_probe.Probe(f"{server}/helm.tar.gz")


def test_an_http_error_is_reachable_but_broken(server: str) -> None:
    found = vendor_probe.probe(f"{server}/gone/helm.tar.gz")
    assert (found.unreachable, found.http_error) == ("", "404 Not Found")


def test_a_closed_port_is_unreachable() -> None:
    found = vendor_probe.probe(f"{closed_port()}/helm.tar.gz", timeout=2)
    assert found.unreachable == "Connection refused"
    assert found.host == "127.0.0.1"


def test_a_server_that_never_answers_costs_the_timeout_and_no_more(hanging: str) -> None:
    start = time.monotonic()
    found = vendor_probe.probe_all([f"{hanging}/a", f"{hanging}/b", f"{hanging}/c"], timeout=0.5)
    elapsed = time.monotonic() - start
    assert elapsed < 1.6  # concurrent: one timeout (+ the 1 s margin at most), not three
    assert [p.unreachable for p in found.values()] == ["no answer in time"] * 3


def context(tmp_path: Path, vendor: dict[str, str]) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "build_files/base").mkdir(parents=True)
    (ctx / "build_files/base/Containerfile").write_text("FROM scratch\n")
    lock = {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": "base",
        "vendor": [{"name": name, "url": url} for name, url in vendor.items()],
    }
    (ctx / "build_files/base/pod.lock.json").write_text(json.dumps(lock))
    return ctx


def request(ctx: Path, mode: str):  # noqa: ANN201 (request.BuildRequest)
    return parse_build(
        [
            "--build-arg",
            f"PODS_EXCLUSIONS={mode}",
            "--file",
            str(ctx / "build_files/base/Containerfile"),
            str(ctx),
        ]
    )


def test_auto_leaves_out_only_the_unreachable_and_says_why(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ctx = context(tmp_path, {"helm": f"{closed_port()}/helm.tgz", "kind": f"{server}/kind"})
    plan = exclusions(request(ctx, "auto"))
    assert plan.build_args() == [
        "--build-arg",
        "PODS_EXCLUDE=helm",
        "--label",
        f"{pods_contract.LIST_LABEL}=auto",
        "--label",
        f"{pods_contract.EXCLUDED_LABEL}=helm",
    ]
    assert plan.key_args() == {LEFT_OUT_ARG: "helm"}
    assert capsys.readouterr().out == (
        "pods: base: without helm: its upstream is unreachable (127.0.0.1: Connection refused)\n"
    )


def test_the_key_covers_what_auto_left_out(tmp_path: Path, server: str) -> None:
    down = closed_port()
    ctx = context(tmp_path, {"helm": f"{down}/helm.tgz", "kind": f"{server}/kind"})
    left_out = exclusions(request(ctx, "auto"))
    everything = exclusions(
        request(context(tmp_path / "b", {"helm": f"{server}/h", "kind": f"{server}/k"}), "auto")
    )
    assert everything.key_args() == {LEFT_OUT_ARG: ""}
    built = request(ctx, "auto")
    assert input_key(built, left_out.key_args()) != input_key(built, {LEFT_OUT_ARG: ""})
    assert input_key(built, left_out.key_args()) == input_key(built, {LEFT_OUT_ARG: "helm"})


@pytest.mark.parametrize("mode", ["none", ""])
def test_none_fails_in_one_line_naming_the_unreachable_upstream(
    tmp_path: Path, server: str, mode: str
) -> None:
    ctx = context(tmp_path, {"kind": f"{server}/kind", "helm": f"{closed_port()}/helm.tgz"})
    with pytest.raises(EngineError) as failed:
        exclusions(request(ctx, mode))
    line = str(failed.value)
    assert "\n" not in line
    assert line.startswith(
        "base: PODS_EXCLUSIONS=none builds every component, but helm's upstream 127.0.0.1 "
    )
    assert "(Connection refused)" in line


def test_none_builds_everything_when_every_upstream_answers(tmp_path: Path, server: str) -> None:
    plan = exclusions(request(context(tmp_path, {"helm": f"{server}/helm.tgz"}), "none"))
    assert (plan.build_args(), plan.key_args()) == ([], {})


@pytest.mark.parametrize("mode", ["auto", "none"])
def test_an_upstream_answering_with_an_error_fails_the_build(tmp_path: Path, server: str, mode: str) -> None:
    ctx = context(tmp_path, {"helm": f"{server}/gone/helm.tgz"})
    with pytest.raises(EngineError, match=r"^base: helm: its upstream answered 404 Not Found for http://"):
        exclusions(request(ctx, mode))


def test_a_named_list_is_not_probed(tmp_path: Path) -> None:
    ctx = context(tmp_path, {"helm": f"{closed_port()}/helm.tgz", "kind": f"{closed_port()}/kind"})
    (ctx / "build_files/exclusions.toml").write_text('[offline]\nhelm = "unreachable"\n')
    plan = exclusions(request(ctx, "offline"))
    # kind is not on the list: the build downloads it (and fails there if it must), unprobed.
    assert (plan.names, plan.lacks, plan.key_args()) == (("helm",), ("helm",), {})


def test_an_unreadable_ca_bundle_is_one_line_not_every_upstream_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    with pytest.raises(EngineError, match=r"^PODS_CA_BUNDLE=.*missing\.pem: not a readable CA bundle \("):
        vendor_probe.probe_all(["https://127.0.0.1:1/x"])


def test_an_upstream_whose_tls_fails_is_unreachable_not_broken(server: str) -> None:
    # A plain-HTTP server asked for TLS: no HTTP answer ever comes, so nothing is "broken".
    found = vendor_probe.probe(f"{server.replace('http:', 'https:')}/helm.tgz", timeout=2)
    assert found.http_error == ""
    assert found.unreachable
