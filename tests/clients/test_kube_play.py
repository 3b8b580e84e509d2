"""`podman kube play` of the manifest `pods kube jupyter` prints: JupyterLab answers with its Secret's token.

Runs on rootful podman: rootless podman has no network here (no /dev/net/tun).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from images.harness import Pod, engine, free_port

from pods import kube


def get(url: str, token: str | None = None) -> int:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as e:
        return e.code


def podman_reads_kube_secrets() -> bool:
    """podman 4.3 stores a played Secret as YAML but reads secretKeyRef as JSON (fixed in 4.4)."""
    version = engine("version", "--format", "{{.Client.Version}}").stdout.strip()
    major, minor = (int(part) for part in version.split(".")[:2])
    return (major, minor) >= (4, 4)


def play(documents: list[dict], folder: Path) -> Path:
    """Play the manifest; on podman 4.3 create the Secret as that version reads it, then play the Pod."""
    if not podman_reads_kube_secrets():
        secret, documents = documents[0], documents[1:]
        data = {k: base64.b64encode(v.encode()).decode() for k, v in secret["stringData"].items()}
        engine("secret", "create", secret["metadata"]["name"], "-", input=json.dumps(data))
    path = folder / "pod.yaml"
    path.write_text(kube.render(documents))
    engine("kube", "play", str(path), timeout=300)
    return path


@pytest.fixture
def lab(tmp_path: Path):
    pod = Pod.under_test()
    run = uuid.uuid4().hex[:10]
    # The manifest names the image by reference, as a user's names the published one.
    image, name, token = f"localhost/pods-kube-test/jupyter:{run}", f"pods-kube-{run}", secrets.token_hex(16)
    engine("tag", pod.image_id, image)
    options = kube.KubeOptions(
        pod="jupyter", image=image, host_port=free_port(), token=token, name=name, claim=f"{name}-ws"
    )
    try:
        play(kube.manifest(options), tmp_path)
        yield f"http://127.0.0.1:{options.host_port}", token, name
    finally:
        engine("kube", "down", str(tmp_path / "pod.yaml"), check=False)
        engine("pod", "rm", "--force", name, check=False)
        engine("volume", "rm", "--force", f"{name}-ws", check=False)
        engine("secret", "rm", f"{name}-token", check=False)
        engine("rmi", image, check=False)


def test_kube_play_serves_jupyter_with_the_secret_token(lab: tuple[str, str, str]) -> None:
    base, token, name = lab
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if get(base + "/api") == 200:
                break
        except OSError:
            pass
        time.sleep(1)
    else:
        logs = engine("logs", f"{name}-jupyter", check=False)
        raise AssertionError(f"JupyterLab did not answer in 120s:\n{logs.stdout}{logs.stderr}")
    assert get(base + "/api/contents", token=token) == 200
    assert get(base + "/api/contents") in (401, 403)
    assert get(base + "/api/contents", token="wrong") in (401, 403)
    # jovian owns the workspace volume: a file can be written there.
    wrote = engine("exec", f"{name}-jupyter", "sh", "-c", "id -un; touch /workspace/x && echo ok")
    assert wrote.stdout.split() == ["jovian", "ok"]
