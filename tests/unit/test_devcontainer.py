"""Every pod image carries a `devcontainer.metadata` label that VS Code Dev Containers reads,
so a project's devcontainer.json needs only "image".

The label is set in the Containerfiles (a child inherits its parent's unless it sets its
own); this reads them as the build would and checks the JSON each pod ends up with. The
image tests (tests/images/rootfs) read the same label off every built image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

BUILD_FILES = Path("build_files")
CUDA_PODS = {"nvidia", "nvidia-python", "jupyter", "playwright"}
PODS = ["rootfs", "base", "devops", "githubrunner", *sorted(CUDA_PODS)]
LABEL = re.compile(r"^LABEL devcontainer\.metadata='(?P<json>.*)'$", re.M)
PARENT = re.compile(r"^ARG BASE_IMAGE=build_files/([\w-]+):", re.M)


def metadata(pod: str) -> dict:
    """The label `pod`'s image carries: its own LABEL line, else its nearest ancestor's."""
    text = (BUILD_FILES / pod / "Containerfile").read_text()
    found = LABEL.search(text)
    if found:
        [entry] = json.loads(found.group("json"))
        return entry
    parent = PARENT.search(text)
    assert parent, f"{pod}: no devcontainer.metadata label and no parent to inherit one from"
    return metadata(parent.group(1))


@pytest.mark.parametrize("pod", PODS)
def test_jovian_with_the_host_users_uid(pod: str) -> None:
    entry = metadata(pod)
    assert entry["remoteUser"] == entry["containerUser"] == "jovian"
    assert entry["updateRemoteUserUID"] is True
    # Ignored by the tools in image metadata (README: the two devcontainer.json lines).
    assert "workspaceFolder" not in entry


@pytest.mark.parametrize("pod", PODS)
def test_gpu_is_optional_on_the_cuda_pods_only(pod: str) -> None:
    assert metadata(pod).get("hostRequirements") == ({"gpu": "optional"} if pod in CUDA_PODS else None)


@pytest.mark.parametrize(
    "pod, ports",
    [
        ("rootfs", []),
        ("base", [8080]),
        ("devops", [8080]),
        ("githubrunner", [8080]),
        ("nvidia-python", [8080]),
        ("jupyter", [8888, 8080]),
        ("playwright", [5900, 8080]),
    ],
)
def test_ports_to_forward_are_code_server_and_the_pods_own_server(pod: str, ports: list[int]) -> None:
    assert metadata(pod)["forwardPorts"] == ports


@pytest.mark.parametrize("pod", PODS)
def test_every_exposed_port_is_forwarded(pod: str) -> None:
    exposed = re.findall(r"^EXPOSE (\d+)", (BUILD_FILES / pod / "Containerfile").read_text(), re.M)
    assert {int(p) for p in exposed} <= set(metadata(pod)["forwardPorts"])
