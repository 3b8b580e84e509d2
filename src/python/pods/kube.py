"""`pods kube <pod>`: a Kubernetes Pod manifest (and its Secret) for `podman kube play` or a cluster.

The pod runs as jovian (uid 1000, what every image's USER is), with /workspace on a volume:
a PersistentVolumeClaim by default (podman creates a named volume of that name), or a host
folder. JupyterLab's token comes from a Secret, never from the manifest's Pod itself.
"""

from __future__ import annotations

import argparse
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import yaml

from pods.errors import PodsError
from pods.graph import load_graph
from pods.locker import check_names
from pods.settings import load_settings

JOVIAN_UID = 1000
WORKSPACE = "/workspace"
# The ports each pod serves (its Containerfile's EXPOSE); pods not listed serve none.
POD_PORTS = {"jupyter": (8888,)}
# Pods whose server demands a token; start-jupyter reads it from JUPYTER_TOKEN.
TOKEN_ENV = {"jupyter": "JUPYTER_TOKEN"}
TOKEN_KEY = "token"


@dataclass(frozen=True)
class KubeOptions:
    pod: str
    image: str
    host_ip: str = "127.0.0.1"
    host_port: int | None = None  # None: the container's own port number
    claim: str | None = None  # None: "<name>-workspace"
    host_path: str | None = None  # a host folder for /workspace instead of a claim
    token: str | None = None  # None: a fresh random token
    name: str | None = None  # None: "bazzite-ai-pod-<pod>"


def image_ref(template: str, pod: str, tag: str | None = None) -> str:
    """The published image of `pod` (settings.parent_image), with its tag replaced by `tag`."""
    ref = template.format(pod=pod)
    if tag is None:
        return ref
    name, _, last = ref.rpartition(":")
    if not name or "/" in last:  # no tag in the template: the colon was a registry port
        name = ref
    return f"{name}:{tag}"


def pod_name(options: KubeOptions) -> str:
    name = options.name or f"bazzite-ai-pod-{options.pod}"
    if not re.fullmatch(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", name):
        raise PodsError(
            f"--name {name}",
            "expected a Kubernetes name (lowercase letters, digits and '-', at most 63 characters)",
        )
    return name


def _workspace_volume(options: KubeOptions, name: str) -> dict:
    if options.host_path:
        if not options.host_path.startswith("/"):
            raise PodsError(f"--host-path {options.host_path}", "expected an absolute host folder")
        return {"name": "workspace", "hostPath": {"path": options.host_path, "type": "DirectoryOrCreate"}}
    return {"name": "workspace", "persistentVolumeClaim": {"claimName": options.claim or f"{name}-workspace"}}


def _container(options: KubeOptions, name: str) -> dict:
    container: dict = {
        "name": options.pod,
        "image": options.image,
        # A locally built or loaded image is used as it is; a cluster pulls it once.
        "imagePullPolicy": "IfNotPresent",
        "workingDir": WORKSPACE,
        "volumeMounts": [{"name": "workspace", "mountPath": WORKSPACE}],
    }
    ports = POD_PORTS.get(options.pod, ())
    if ports:
        container["ports"] = [
            {
                "containerPort": port,
                "hostPort": options.host_port or port,
                "hostIP": options.host_ip,
                "protocol": "TCP",
            }
            for port in ports
        ]
    if options.pod in TOKEN_ENV:
        ref = {"name": f"{name}-token", "key": TOKEN_KEY}
        container["env"] = [{"name": TOKEN_ENV[options.pod], "valueFrom": {"secretKeyRef": ref}}]
    return container


def manifest(options: KubeOptions) -> list[dict]:
    """The documents for `podman kube play`: the token's Secret (if the pod has a token), then the Pod."""
    name = pod_name(options)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/name": name}},
        "spec": {
            "securityContext": {"runAsUser": JOVIAN_UID, "runAsGroup": JOVIAN_UID, "fsGroup": JOVIAN_UID},
            "containers": [_container(options, name)],
            "volumes": [_workspace_volume(options, name)],
        },
    }
    if options.pod not in TOKEN_ENV:
        return [pod]
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"{name}-token"},
        "type": "Opaque",
        "stringData": {TOKEN_KEY: options.token or secrets.token_hex(24)},
    }
    return [secret, pod]


def render(documents: list[dict]) -> str:
    return yaml.safe_dump_all(documents, sort_keys=False, default_flow_style=False)


def add_parser(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser(
        "kube", help="a Kubernetes Pod manifest (and its token's Secret) for `podman kube play`"
    )
    k.add_argument("pod", metavar="POD", help="the pod to run, e.g. jupyter")
    k.add_argument("--tag", help="the published tag to run (default: the one PODS_PARENT_IMAGE names)")
    k.add_argument("--image", help="run this image reference instead of the published one")
    k.add_argument("--name", help="the Pod's name (default: bazzite-ai-pod-POD)")
    k.add_argument("--host-port", type=int, help="the host port for the pod's port (default: the same)")
    k.add_argument(
        "--host-ip", default="127.0.0.1", help="the host address to publish on (default: loopback)"
    )
    ws = k.add_mutually_exclusive_group()
    ws.add_argument("--claim", help="the PersistentVolumeClaim for /workspace (default: NAME-workspace)")
    ws.add_argument("--host-path", help="a host folder for /workspace instead of a claim")
    k.add_argument("--token-file", type=Path, help="read the token from this file (default: a fresh one)")
    k.add_argument("--repo", type=Path, help="the repo root (default: found from the current folder)")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(args.repo)
    check_names(load_graph(settings.repo), [args.pod])
    token = None
    if args.token_file:
        try:
            token = args.token_file.read_text().strip()
        except OSError as e:
            why = f"cannot read the token ({e.strerror}); pass a readable file"
            raise PodsError(str(args.token_file), why) from None
    options = KubeOptions(
        pod=args.pod,
        image=args.image or image_ref(settings.parent_image, args.pod, args.tag),
        host_ip=args.host_ip,
        host_port=args.host_port,
        claim=args.claim,
        host_path=args.host_path,
        token=token,
        name=args.name,
    )
    print(render(manifest(options)), end="")
    return 0
