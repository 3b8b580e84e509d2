"""playwright: Playwright drives the pod's Chromium; Sway + wayvnc serve a password-only desktop."""

from __future__ import annotations

import socket
import time

from images.harness import Pod

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


def _rfb_security_types(port: int, timeout: float = 60) -> tuple[bytes, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                version = s.recv(12)
                if not version.startswith(b"RFB "):
                    raise OSError(f"not RFB: {version!r}")
                s.sendall(b"RFB 003.008\n")
                count = s.recv(1)[0]
                return version, list(s.recv(count))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_sway_with_wayvnc_answers_rfb_and_requires_auth(pod: Pod) -> None:
    with pod.service("start-vnc", ports=[5900], env={"VNC_PASSWORD": "podtest-vnc-pass"}) as svc:
        try:
            version, types = _rfb_security_types(svc.port(5900))
        except OSError as e:
            raise AssertionError(f"no RFB handshake: {e}\n{svc.logs()}") from e
        assert version.startswith(b"RFB 003.")
        assert types and 1 not in types, f"security type None offered: {types}"
