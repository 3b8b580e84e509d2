"""playwright: Playwright drives the pod's Chromium; Sway + wayvnc serve a password-only desktop."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from images.harness import Pod, engine

SCREENSHOT = """
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                args=["--no-sandbox", "--disable-gpu"])
    page = browser.new_page()
    page.set_content("<h1 id=t>pods</h1>")
    assert page.inner_text("#t") == "pods"
    page.screenshot(path="/tmp/shot.png")
    browser.close()
data = open("/tmp/shot.png", "rb").read()
print(len(data), data[:8].hex())
"""


def test_playwright_renders_a_page_and_saves_a_png(pod: Pod) -> None:
    size, magic = pod.run("python", "-c", SCREENSHOT, timeout=300).stdout.split()
    assert magic == "89504e470d0a1a0a"  # PNG signature
    assert int(size) > 1000


def test_vnc_refuses_to_start_without_password(pod: Pod) -> None:
    result = pod.run("start-vnc", check=False)
    assert result.returncode != 0 and "VNC_PASSWORD" in result.stderr


@contextlib.contextmanager
def _rfb_handshake(port: int, timeout: float = 60) -> Iterator[tuple[socket.socket, bytes, list[int]]]:
    """Connect (retrying while the server starts), agree on RFB 3.8; yield (socket, version, types)."""
    deadline = time.monotonic() + timeout
    while True:
        s = None
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            version = _recv_exactly(s, 12)
            if not version.startswith(b"RFB "):
                raise OSError(f"not RFB: {version!r}")
            s.sendall(b"RFB 003.008\n")
            count = _recv_exactly(s, 1)[0]
            types = list(_recv_exactly(s, count))
            break
        except OSError:
            if s is not None:
                s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    with s:
        yield s, version, types


def _recv_exactly(s: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = s.recv(size - len(data))
        if not chunk:
            raise OSError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return data


def _rfb_security_types(port: int) -> tuple[bytes, list[int]]:
    with _rfb_handshake(port) as (_, version, types):
        return version, types


# neatvnc's RSA-AES variants (RSA-AES-256, then RSA-AES/RA2): both send the server's RSA key.
RSA_AES_TYPES = (129, 5)


def _rfb_server_key(port: int) -> tuple[str, bytes]:
    """Choose RSA-AES; return (fingerprint as TigerVNC shows it, modulus) of the key the server sends."""
    with _rfb_handshake(port) as (s, _, types):
        chosen = next((t for t in RSA_AES_TYPES if t in types), None)
        assert chosen is not None, f"no RSA-AES security type offered: {types}"
        s.sendall(bytes([chosen]))
        length = _recv_exactly(s, 4)
        size = (int.from_bytes(length, "big") + 7) // 8
        modulus_and_exponent = _recv_exactly(s, 2 * size)
    digest = hashlib.sha1(length + modulus_and_exponent).digest()[:8]
    return "-".join(f"{b:02x}" for b in digest), modulus_and_exponent[:size]


def test_sway_with_wayvnc_answers_rfb_and_requires_auth(pod: Pod) -> None:
    with pod.service("start-vnc", ports=[5900], env={"VNC_PASSWORD": "podtest-vnc-pass"}) as svc:
        try:
            version, types = _rfb_security_types(svc.port(5900))
        except OSError as e:
            raise AssertionError(f"no RFB handshake: {e}\n{svc.logs()}") from e
        assert version.startswith(b"RFB 003.")
        assert types and 1 not in types, f"security type None offered: {types}"
        assert set(RSA_AES_TYPES) & set(types), f"no RSA-AES security type offered: {types}"


@pytest.fixture
def home_volume() -> Iterator[Callable[[], str]]:
    """Make fresh named volumes for /home/jovian (the engine fills each from the image)."""
    names: list[str] = []

    def make() -> str:
        names.append(f"podtest-home-{uuid.uuid4().hex[:10]}")
        engine("volume", "create", names[-1])
        return names[-1]

    yield make
    for name in names:
        engine("volume", "rm", "--force", name, check=False)


def _start_vnc_key(pod: Pod, extra: list[str], env: dict[str, str] | None = None) -> tuple[str, bytes, str]:
    """Start the VNC service; return (wire fingerprint, wire modulus, key file's `mode owner`)."""
    key = "/home/jovian/.config/wayvnc/rsa_key.pem"
    env = {"VNC_PASSWORD": "podtest-vnc-pass", **(env or {})}
    with pod.service("start-vnc", ports=[5900], env=env, extra=extra) as svc:
        try:
            fingerprint, modulus = _rfb_server_key(svc.port(5900))
        except OSError as e:
            raise AssertionError(f"no RFB handshake: {e}\n{svc.logs()}") from e
        logs = svc.logs()
        assert (
            f"VNC key fingerprint {fingerprint} " in logs
        ), f"fingerprint {fingerprint} not printed:\n{logs}"
        stat = svc.exec("stat", "-c", "%a %U", key, check=False)
        return fingerprint, modulus, (stat.stdout.strip() if stat.returncode == 0 else "missing")


def test_vnc_key_is_kept_in_the_home_volume(pod: Pod, home_volume: Callable[[], str]) -> None:
    home = home_volume()
    first, _, mode_owner = _start_vnc_key(pod, ["--volume", f"{home}:/home/jovian"])
    assert mode_owner == "600 jovian"
    again, _, _ = _start_vnc_key(pod, ["--volume", f"{home}:/home/jovian"])
    assert again == first, "a second start on the same home served a different key"
    fresh, _, _ = _start_vnc_key(pod, ["--volume", f"{home_volume()}:/home/jovian"])
    assert fresh != first, "a fresh home served the same key: keys are not made per home"


def test_vnc_serves_the_key_named_by_vnc_rsa_key_file(pod: Pod, tmp_path: Path) -> None:
    # PKCS#8, as `openssl genpkey` and most secret stores hand it out (wayvnc reads PKCS#1).
    pem = pod.run("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048").stdout
    secret = tmp_path / "vnc_key.pem"
    secret.write_text(pem)
    secret.chmod(0o644)
    modulus_hex = pod.run("openssl", "rsa", "-noout", "-modulus", input=pem).stdout.strip().split("=")[1]
    _, modulus, home_key = _start_vnc_key(
        pod,
        ["--volume", f"{secret}:/run/secrets/vnc_key.pem:ro"],
        env={"VNC_RSA_KEY_FILE": "/run/secrets/vnc_key.pem"},
    )
    assert modulus.hex().upper() == modulus_hex
    assert home_key == "missing", "a key was made in the home although VNC_RSA_KEY_FILE names one"


def test_vnc_refuses_a_missing_vnc_rsa_key_file(pod: Pod) -> None:
    env = {"VNC_PASSWORD": "podtest-vnc-pass", "VNC_RSA_KEY_FILE": "/run/secrets/absent.pem"}
    result = pod.run("start-vnc", env=env, check=False)
    assert result.returncode != 0 and "VNC_RSA_KEY_FILE=/run/secrets/absent.pem" in result.stderr
