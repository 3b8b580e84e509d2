"""jupyter: JupyterLab serves /workspace on 8888, demands a token, runs notebooks headless."""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request

import pytest
from images.harness import Pod, Service

TOKEN = "podtest-token-0123456789abcdef"


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def lab(pod: Pod):
    with pod.service(ports=[8888], env={"JUPYTER_TOKEN": TOKEN}) as svc:
        base = f"http://127.0.0.1:{svc.port(8888)}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if get(base + "/api")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(1)
        else:
            raise AssertionError(f"JupyterLab did not answer in 120s:\n{svc.logs()}")
        yield svc, base


def test_api_answers_over_http_from_the_host(lab: tuple[Service, str]) -> None:
    status, body = get(lab[1] + "/api")
    assert status == 200 and "version" in json.loads(body)


def test_request_without_token_is_refused(lab: tuple[Service, str]) -> None:
    assert get(lab[1] + "/api/contents")[0] in (401, 403)
    assert get(lab[1] + "/api/contents", token="wrong")[0] in (401, 403)


def test_request_with_token_lists_workspace(lab: tuple[Service, str]) -> None:
    status, body = get(lab[1] + "/api/contents", token=TOKEN)
    assert status == 200 and json.loads(body)["type"] == "directory"


def test_default_command_is_jupyterlab_with_healthcheck(pod: Pod) -> None:
    config = pod.inspect()["Config"]
    assert config["Cmd"] == ["start-jupyter"]
    assert "8888/tcp" in config.get("ExposedPorts", {})
    health = pod.inspect().get("Healthcheck") or config.get("Healthcheck")
    assert health and "8888/api" in " ".join(health["Test"])


def test_notebook_importing_torch_executes_headless(pod: Pod) -> None:
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": [
            {
                "cell_type": "code",
                "id": "c1",
                "metadata": {},
                "execution_count": None,
                "outputs": [],
                "source": "import torch\nprint(int(torch.ones(4).sum()))",
            }
        ],
    }
    script = (
        "cd $(mktemp -d) && cat > nb.ipynb && "
        "jupyter nbconvert --to notebook --execute --stdout nb.ipynb 2>/dev/null"
    )
    executed = json.loads(pod.run("bash", "-c", script, input=json.dumps(notebook)).stdout)
    outputs = executed["cells"][0]["outputs"]
    text = outputs[0]["text"] if outputs else ""
    # nbformat stores multi-line text as a list of lines.
    assert "".join(text).strip() == "4", outputs


NOTIFICATION = "@jupyterlab/apputils-extension:notification"


def test_news_and_update_checks_are_off_by_default(lab: tuple[Service, str]) -> None:
    status, body = get(f"{lab[1]}/lab/api/settings/{NOTIFICATION}", token=TOKEN)
    assert status == 200, body
    reply = json.loads(body)
    # The composite is what the frontend acts on: schema defaults (where the image's
    # overrides land) under the user's own settings, which a fresh home does not have.
    defaults = {key: prop.get("default") for key, prop in reply["schema"]["properties"].items()}
    composite = reply.get("composite") or {**defaults, **reply["settings"]}
    assert reply["settings"] == {}, reply["raw"]
    assert composite["fetchNews"] == "false", composite
    assert composite["checkForUpdates"] is False, composite


def test_server_has_no_news_feed_to_fetch(lab: tuple[Service, str]) -> None:
    status, body = get(lab[1] + "/lab", token=TOKEN)
    assert status == 200
    match = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
    assert match, "no jupyter-config-data in /lab"
    assert json.loads(match.group(1))["news"] == {"disabled": True}
    status, body = get(lab[1] + "/lab/api/news", token=TOKEN)
    assert status == 200 and json.loads(body) == {"news": []}
