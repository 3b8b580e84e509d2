"""`pods kube`: the manifest a user hands to `podman kube play` or a cluster."""

from __future__ import annotations

import pytest
import yaml

from pods import kube
from pods.cli import main
from pods.errors import PodsError
from unit.pods.helpers import write_pod

TEMPLATE = "ghcr.io/bazzite-ai/bazzite-ai-pod-{pod}:latest"


def docs(**kwargs) -> dict[str, dict]:
    options = kube.KubeOptions(**{"pod": "jupyter", "image": "img:1", **kwargs})
    rendered = list(yaml.safe_load_all(kube.render(kube.manifest(options))))
    return {d["kind"]: d for d in rendered}


def test_jupyter_token_comes_from_the_secret_the_manifest_carries() -> None:
    out = docs(token="s3cret")
    secret, pod = out["Secret"], out["Pod"]
    assert secret["stringData"] == {"token": "s3cret"}
    (container,) = pod["spec"]["containers"]
    assert container["env"] == [
        {
            "name": "JUPYTER_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": secret["metadata"]["name"], "key": "token"}},
        }
    ]
    # The token is never written into the Pod itself.
    assert "s3cret" not in yaml.safe_dump(pod)


def test_a_fresh_random_token_each_time_none_is_given() -> None:
    first, second = (docs()["Secret"]["stringData"]["token"] for _ in range(2))
    assert first != second and len(first) >= 32


def test_jupyter_runs_as_jovian_on_port_8888_with_a_workspace_claim() -> None:
    pod = docs(host_port=18888)["Pod"]
    spec = pod["spec"]
    assert spec["securityContext"]["runAsUser"] == 1000
    (container,) = spec["containers"]
    assert container["image"] == "img:1"
    assert container["ports"] == [
        {"containerPort": 8888, "hostPort": 18888, "hostIP": "127.0.0.1", "protocol": "TCP"}
    ]
    assert container["volumeMounts"] == [{"name": "workspace", "mountPath": "/workspace"}]
    assert spec["volumes"] == [
        {"name": "workspace", "persistentVolumeClaim": {"claimName": "bazzite-ai-pod-jupyter-workspace"}}
    ]


def test_host_path_workspace_instead_of_a_claim() -> None:
    (volume,) = docs(host_path="/srv/work")["Pod"]["spec"]["volumes"]
    assert volume == {"name": "workspace", "hostPath": {"path": "/srv/work", "type": "DirectoryOrCreate"}}
    with pytest.raises(PodsError, match="absolute"):
        docs(host_path="work")


def test_a_pod_without_a_server_gets_no_secret_and_no_ports() -> None:
    out = docs(pod="base")
    assert list(out) == ["Pod"]
    (container,) = out["Pod"]["spec"]["containers"]
    assert "ports" not in container and "env" not in container


def test_bad_name_is_one_clear_error() -> None:
    with pytest.raises(PodsError, match="Kubernetes name"):
        docs(name="My_Pod")


@pytest.mark.parametrize(
    "template, tag, expected",
    [
        (TEMPLATE, None, "ghcr.io/bazzite-ai/bazzite-ai-pod-jupyter:latest"),
        (TEMPLATE, "0.1.0", "ghcr.io/bazzite-ai/bazzite-ai-pod-jupyter:0.1.0"),
        ("127.0.0.1:5000/pod-{pod}", "x", "127.0.0.1:5000/pod-jupyter:x"),
    ],
)
def test_image_ref_is_the_published_one_with_the_tag_asked_for(template: str, tag, expected: str) -> None:
    assert kube.image_ref(template, "jupyter", tag) == expected


def test_cli_prints_the_manifest_for_a_pod_of_the_family(tmp_path, capsys, monkeypatch) -> None:
    repo = tmp_path / "repo"
    write_pod(repo, "base", "")
    write_pod(repo, "jupyter", "", parent="base")
    (tmp_path / "token").write_text("from-file\n")
    monkeypatch.delenv("PODS_PARENT_IMAGE", raising=False)
    argv = ["kube", "jupyter", "--repo", str(repo), "--tag", "0.1.0", "--token-file", str(tmp_path / "token")]
    assert main(argv) == 0
    out = {d["kind"]: d for d in yaml.safe_load_all(capsys.readouterr().out)}
    assert out["Secret"]["stringData"]["token"] == "from-file"
    assert out["Pod"]["spec"]["containers"][0]["image"] == "ghcr.io/bazzite-ai/bazzite-ai-pod-jupyter:0.1.0"
    assert main(["kube", "nope", "--repo", str(repo)]) == 1
    assert "unknown pod" in capsys.readouterr().err
