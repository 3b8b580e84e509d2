"""SBOM, signature and SBOM attestation of a published image, verified with cosign.

The rootfs image Pants built is pushed by its key tag through the engine wrapper, the way
`./pants publish` pushes it, to a registry on loopback; then cosign verifies it the way a
user would (README, "Supply chain").
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import engine
from pods_contract import parse_excluded_file
from publish.config import build_args
from publish.registry import Registry

REPOSITORY = "bazzite-ai/bazzite-ai-pod-rootfs"
PASSWORD = "pods-test-Passw0rd-never-printed"
INSECURE = ("--allow-insecure-registry", "--allow-http-registry")
NO_TLOG = ("--insecure-ignore-tlog=true",)


@pytest.fixture(scope="module")
def cosign() -> str:
    found = os.environ.get("PODS_COSIGN") or shutil.which("cosign")
    if not found or not os.access(found, os.X_OK):
        pytest.fail(
            "cosign not found (PODS_COSIGN unset, none on PATH): run ./pants once; it provisions cosign"
        )
    return found


@pytest.fixture(scope="module")
def rootfs() -> Iterator[dict]:
    info = json.loads(Path("pods/rootfs.docker-info.json").read_text())
    (key,) = (t["tag"] for t in info["registries"][0]["tags"] if t["template"] == "{pants.hash}")
    # The engine's storage is shared and other runs retag rootfs: a tag of our own keeps
    # the image from being cleaned away between tests.
    hold = f"localhost/pods-test-sbom:{uuid.uuid4().hex[:12]}"
    engine("tag", info["image_id"], hold)
    yield {"id": info["image_id"], "key": key}
    engine("rmi", hold, check=False)


@pytest.fixture(scope="module")
def rootfs_lock() -> dict:
    return json.loads(Path("build_files/rootfs/pod.lock.json").read_text())


@pytest.fixture
def key_ref(rootfs: dict, registry: Registry) -> Iterator[str]:
    ref = registry.ref(REPOSITORY, rootfs["key"])
    engine("tag", rootfs["id"], ref)
    yield ref
    engine("rmi", ref, check=False)


def key_pair(cosign: str, folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    result = subprocess.run(
        [cosign, "generate-key-pair"],
        cwd=folder,
        env=dict(os.environ, COSIGN_PASSWORD=PASSWORD),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    return folder / "cosign.key", folder / "cosign.pub"


def push(ref: str, **env: str) -> subprocess.CompletedProcess:
    """`./pants publish`'s push of one tag, with `env` set for it."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        result = engine("push", ref, check=False)
    assert PASSWORD not in result.stdout + result.stderr
    return result


def run_cosign(cosign: str, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [cosign, *args], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert PASSWORD not in result.stdout + result.stderr
    return result


def pushed_digest(registry: Registry, tag: str) -> str:
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{REPOSITORY}/manifests/{tag}",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return "sha256:" + hashlib.sha256(r.read()).hexdigest()


def attested_sboms(output: str) -> list[dict]:
    statements = [json.loads(base64.b64decode(json.loads(line)["payload"])) for line in output.splitlines()]
    assert {s["predicateType"] for s in statements} == {"https://cyclonedx.org/bom"}
    return [s["predicate"] for s in statements]


def locked(lock: dict, name: str) -> dict:
    (package,) = (p for p in lock["debian"]["packages"] if p["name"] == name)
    return package


def test_a_signed_push_verifies_and_attests_the_sbom_of_the_locks(
    cosign: str, rootfs: dict, rootfs_lock: dict, registry: Registry, key_ref: str, tmp_path: Path
) -> None:
    private, public = key_pair(cosign, tmp_path / "key")
    result = push(key_ref, PODS_COSIGN_KEY=str(private), PODS_COSIGN_PASSWORD=PASSWORD)
    assert result.returncode == 0, result.stdout + result.stderr
    target = f"{registry.address}/{REPOSITORY}@{pushed_digest(registry, rootfs['key'])}"
    assert f"pods: {target}: signed" in result.stdout
    assert f"pods: {target}: SBOM attested" in result.stdout

    verified = run_cosign(cosign, "verify", "--key", str(public), *INSECURE, *NO_TLOG, target)
    assert verified.returncode == 0, verified.stderr
    (claim,) = json.loads(verified.stdout)
    assert claim["critical"]["image"]["docker-manifest-digest"] == target.split("@")[1]

    attested = run_cosign(
        cosign, "verify-attestation", "--key", str(public), "--type", "cyclonedx", *INSECURE, *NO_TLOG, target
    )
    assert attested.returncode == 0, attested.stderr
    (sbom,) = attested_sboms(attested.stdout)
    assert (sbom["bomFormat"], sbom["specVersion"]) == ("CycloneDX", "1.5")
    image = sbom["metadata"]["component"]
    version = build_args()["POD_VERSION"]  # what Pants built rootfs with (pants.toml)
    assert (image["type"], image["name"], image["version"]) == ("container", "bazzite-ai-pod-rootfs", version)
    assert {"name": "io.github.bazzite-ai.pods.image-id", "value": f"sha256:{rootfs['id']}"} in image[
        "properties"
    ]

    python3 = locked(rootfs_lock, "python3")
    (component,) = (c for c in sbom["components"] if c["name"] == "python3")
    assert component["version"] == python3["version"]
    assert component["purl"] == f"pkg:deb/debian/python3@{python3['version']}?arch=amd64&distro=trixie"
    assert component["hashes"] == [{"alg": "SHA-256", "content": python3["sha256"]}]
    assert len(sbom["components"]) == len(rootfs_lock["debian"]["packages"])


def test_a_wrong_public_key_fails_verification(
    cosign: str, rootfs: dict, registry: Registry, key_ref: str, tmp_path: Path
) -> None:
    private, _ = key_pair(cosign, tmp_path / "signer")
    _, other_public = key_pair(cosign, tmp_path / "someone-else")
    assert push(key_ref, PODS_COSIGN_KEY=str(private), PODS_COSIGN_PASSWORD=PASSWORD).returncode == 0
    target = f"{registry.address}/{REPOSITORY}@{pushed_digest(registry, rootfs['key'])}"

    for command in (("verify",), ("verify-attestation", "--type", "cyclonedx")):
        result = run_cosign(cosign, *command, "--key", str(other_public), *INSECURE, *NO_TLOG, target)
        assert result.returncode != 0, f"{command[0]} accepted a key that did not sign"


def test_republishing_signs_and_uploads_nothing_again(
    cosign: str, rootfs: dict, registry: Registry, key_ref: str, tmp_path: Path
) -> None:
    private, _ = key_pair(cosign, tmp_path / "key")
    env = {"PODS_COSIGN_KEY": str(private), "COSIGN_PASSWORD": PASSWORD}
    assert push(key_ref, **env).returncode == 0
    tags, blobs = registry.tags(REPOSITORY, attachments=True), registry.blob_count()
    assert {t.rsplit(".", 1)[-1] for t in tags if t.startswith("sha256-")} == {"sbom", "sig", "att"}

    again = push(key_ref, **env)
    assert again.returncode == 0, again.stdout + again.stderr
    target = f"{registry.address}/{REPOSITORY}@{pushed_digest(registry, rootfs['key'])}"
    for line in ("SBOM already attached", "already signed by this key", "SBOM already attested by this key"):
        assert f"pods: {target}: {line}" in again.stdout
    assert registry.tags(REPOSITORY, attachments=True) == tags
    assert registry.blob_count() == blobs


def test_without_a_key_the_sbom_is_attached_unsigned(
    cosign: str, rootfs: dict, rootfs_lock: dict, registry: Registry, key_ref: str, tmp_path: Path
) -> None:
    result = push(key_ref, PODS_COSIGN_KEY="")
    assert result.returncode == 0, result.stdout + result.stderr
    digest = pushed_digest(registry, rootfs["key"])
    target = f"{registry.address}/{REPOSITORY}@{digest}"
    assert f"pods: {target}: no PODS_COSIGN_KEY; SBOM attached unsigned" in result.stdout

    downloaded = run_cosign(cosign, "download", "sbom", *INSECURE, target)
    assert downloaded.returncode == 0, downloaded.stderr
    sbom = json.loads(downloaded.stdout)
    assert locked(rootfs_lock, "python3")["version"] in {
        c["version"] for c in sbom["components"] if c["name"] == "python3"
    }
    assert sorted(t.rsplit(".", 1)[-1] for t in registry.tags(REPOSITORY, attachments=True) if "." in t) == [
        "sbom"
    ]
    _, public = key_pair(cosign, tmp_path / "key")
    assert run_cosign(cosign, "verify", "--key", str(public), *INSECURE, *NO_TLOG, target).returncode != 0


def test_a_wrong_password_is_one_line_that_does_not_print_it(
    cosign: str, registry: Registry, key_ref: str, tmp_path: Path
) -> None:
    private, _ = key_pair(cosign, tmp_path / "key")
    result = push(key_ref, PODS_COSIGN_KEY=str(private), PODS_COSIGN_PASSWORD=PASSWORD + "-wrong")
    assert result.returncode == 1
    (line,) = (x for x in result.stderr.splitlines() if x.startswith("pods: error:"))
    assert line.startswith(f"pods: error: PODS_COSIGN_KEY={private}: reading the private key failed (")
    assert line.endswith(
        "check PODS_COSIGN_PASSWORD (or COSIGN_PASSWORD) and that the file is a cosign private key"
    )
    assert PASSWORD + "-wrong" not in result.stdout + result.stderr
    assert not [t for t in registry.tags(REPOSITORY, attachments=True) if t.startswith("sha256-")]


# --- the SBOM document itself, from locks (no engine) ----------------------------------------


def load_sbom_module():
    # The engine's module, imported as the engine imports it (it finds the contract itself).
    sys.path.insert(0, str(Path("src/engine").resolve()))
    import sbom

    return sbom


# What an image lacks is known from its label (the engine's), from its excluded file (the
# installer's; older installers qualified names by pod), or from both: each is enough.
HOW_EXCLUDED = {
    "label": ({"io.github.bazzite-ai.pods.excluded": "helm"}, []),
    "file": ({}, ["helm"]),
    "legacy-file-and-label": ({"io.github.bazzite-ai.pods.excluded": "helm"}, ["devops/helm"]),
}


@pytest.mark.parametrize("how", HOW_EXCLUDED)
def test_the_sbom_lists_every_ecosystem_and_names_what_was_excluded(how: str) -> None:
    sbom = load_sbom_module()
    label, excluded_file = HOW_EXCLUDED[how]
    excluded_in_image = parse_excluded_file("\n".join(excluded_file))
    locks = {
        "rootfs": {
            "pod": "rootfs",
            "debian": {
                "suite": "trixie",
                "architecture": "amd64",
                "packages": [
                    {"name": "bsdutils", "version": "1:2.41-1+b1", "architecture": "amd64", "sha256": "ab"}
                ],
            },
        },
        "devops": {
            "pod": "devops",
            "parent": "rootfs",
            "pypi": {
                "packages": [
                    {"name": "Zope.Interface", "version": "7.2", "hashes": ["sha256:cd", "sha256:ef"]}
                ]
            },
            "npm": {
                "package_lock": {
                    "packages": {
                        "": {"name": "pods-devops"},
                        "node_modules/@scope/tool": {"version": "1.0.0", "integrity": "sha512-AAEC"},
                        "node_modules/a/node_modules/@scope/tool": {
                            "version": "1.0.0",
                            "integrity": "sha512-AAEC",
                        },
                    }
                }
            },
            "vendor": [
                {
                    "name": "helm",
                    "version": "3.19.0",
                    "url": "https://example.invalid/helm.tgz",
                    "sha256": "12",
                },
                {"name": "kind", "version": "0.30.0", "url": "https://example.invalid/kind", "sha256": "34"},
            ],
        },
    }
    info = {
        "Id": "f" * 64,
        "Created": "2026-11-30T05:05:15.335588679Z",
        "Labels": {
            "org.opencontainers.image.title": "bazzite-ai-pod-devops",
            "org.opencontainers.image.version": "0.1.0",
            "io.github.bazzite-ai.pods.input-key": "0" * 64,
            **label,
        },
    }
    document = sbom.build_sbom(info, locks, excluded_in_image)
    assert sbom.render(document) == sbom.render(
        sbom.build_sbom(info, dict(reversed(locks.items())), excluded_in_image)
    )
    assert document["metadata"]["timestamp"] == "2026-11-30T05:05:15Z"
    by_purl = {c["purl"]: c for c in document["components"]}
    assert sorted(by_purl) == [
        "pkg:deb/debian/bsdutils@1:2.41-1%2Bb1?arch=amd64&distro=trixie",
        "pkg:generic/kind@0.30.0?download_url=https:%2F%2Fexample.invalid%2Fkind",
        "pkg:npm/%40scope/tool@1.0.0",
        "pkg:pypi/zope-interface@7.2",
    ]
    assert by_purl["pkg:npm/%40scope/tool@1.0.0"]["hashes"] == [{"alg": "SHA-512", "content": "000102"}]
    assert len(by_purl["pkg:pypi/zope-interface@7.2"]["hashes"]) == 2
    properties = [(p["name"], p["value"]) for p in document["metadata"]["component"]["properties"]]
    # Named once, in one spelling.
    assert ("io.github.bazzite-ai.pods.excluded", "helm") in properties
    assert [p for p in properties if p[0] == "io.github.bazzite-ai.pods.absent"] == [
        ("io.github.bazzite-ai.pods.absent", "helm")
    ]
    assert ("io.github.bazzite-ai.pods.input-key", "0" * 64) in properties
    assert not [c for c in document["components"] if c["name"] == "helm"]
