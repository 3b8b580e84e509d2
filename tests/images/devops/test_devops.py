"""devops: cloud and observability CLIs answer with their locked versions."""

from __future__ import annotations

import pytest
from images.harness import Pod, skip_if_excluded, upstream_version

DEBIAN_TOOLS = {
    "aws --version": "awscli",
    "promtool --version": "prometheus",
}


@pytest.mark.parametrize("command", sorted(DEBIAN_TOOLS))
def test_debian_tool_reports_locked_version(pod: Pod, debian_versions: dict[str, str], command: str) -> None:
    expected = upstream_version(debian_versions[DEBIAN_TOOLS[command]])
    output = pod.sh(f"{command} 2>&1")
    assert expected in output, f"`{command}` printed {output!r}, expected {expected}"


def test_firebase_cli_reports_locked_version(pod: Pod, locks: dict[str, dict]) -> None:
    lock = locks["devops"]["npm"]["package_lock"]["packages"]["node_modules/firebase-tools"]
    assert pod.sh("firebase --version") == lock["version"]


def test_inherits_kubectl(pod: Pod) -> None:
    assert "Client Version" in pod.sh("kubectl version --client")


def test_gcloud_reports_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "google-cloud-cli")
    out = pod.sh("gcloud --version 2>&1")
    assert f"Google Cloud SDK {vendor_versions['google-cloud-cli']}" in out, out


def test_k6_reports_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "k6")
    out = pod.sh("k6 --version")
    assert out.startswith(f"k6 v{vendor_versions['k6']}"), out
