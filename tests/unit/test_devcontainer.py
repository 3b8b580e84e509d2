"""Every pod image carries a `devcontainer.metadata` label that VS Code Dev Containers reads.

The label is computed by build_files/prelude.py's pod() macro; this reads the macro as
Pants does and checks the JSON for each pod.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CUDA_PODS = {"nvidia", "nvidia-python", "jupyter", "playwright"}
PODS = ["rootfs", "base", "devops", "githubrunner", *sorted(CUDA_PODS)]


def image_labels(pod: str) -> dict[str, str]:
    """The labels prelude's `pod` macro gives `pod`'s image (as tests/unit/test_lineage.py reads it)."""
    made: dict[str, dict] = {}

    def target(**fields) -> None:
        made[fields["name"]] = fields

    namespace: dict = {"docker_image": target, "file": target, "files": target}
    exec(compile(Path("build_files/prelude.py").read_text(), "prelude.py", "exec"), namespace)
    namespace["pod"](name=pod, description="x")
    return made[pod]["image_labels"]


def metadata(pod: str) -> dict:
    labels = image_labels(pod)
    [entry] = json.loads(labels["devcontainer.metadata"])
    return entry


@pytest.mark.parametrize("pod", PODS)
def test_jovian_in_workspace_with_the_host_users_uid(pod: str) -> None:
    entry = metadata(pod)
    assert entry["remoteUser"] == entry["containerUser"] == "jovian"
    assert entry["updateRemoteUserUID"] is True
    assert entry["workspaceFolder"] == "/workspace"


@pytest.mark.parametrize("pod", PODS)
def test_gpu_is_optional_on_the_cuda_pods_only(pod: str) -> None:
    assert metadata(pod).get("hostRequirements") == ({"gpu": "optional"} if pod in CUDA_PODS else None)


@pytest.mark.parametrize(
    "pod, ports",
    [
        ("rootfs", []),
        ("base", [8080]),
        ("devops", [8080]),
        ("nvidia-python", [8080]),
        ("jupyter", [8888, 8080]),
    ],
)
def test_ports_to_forward_are_code_server_and_the_pods_own_server(pod: str, ports: list[int]) -> None:
    assert metadata(pod)["forwardPorts"] == ports
