"""The catalogue of bad input (docs/errors.md): one test per case.

Each test copies the repo's own declarations (every pod's pod.yaml, Containerfile, lock and
pixi files) into a temporary repo, breaks one thing, and runs `pods` (or the in-image
installer) on the copy. Each case must end with a non-zero exit, exactly one error line
naming the file and field (or pod and component), what was expected and what to do, and
every file of the copy as it was: same bytes, same mtimes, nothing added or left behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from unit.pods.helpers import ENGINE, Route, error_line, installer_module

from pods.cli import main
from pods.podspec import load_pod_spec

# Where the declarations are: the repo root, or the root of the Pants sandbox, which holds
# the files the test target depends on.
SOURCE = Path.cwd()
DECLARATIONS = ("pod.yaml", "Containerfile", "pod.lock.json", "pixi.toml", "pixi.lock")
RELOCK = "./pants run src/python/pods:pods -- lock"
BAD_NAME = "no-such-package-pods-zq"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    pods = sorted(p.parent for p in (SOURCE / "build_files").glob("*/pod.yaml"))
    assert pods, f"expected build_files/*/pod.yaml under {SOURCE}"
    for folder in pods:
        (copy / "build_files" / folder.name).mkdir(parents=True)
        for name in DECLARATIONS:
            if (folder / name).is_file():
                shutil.copy2(folder / name, copy / "build_files" / folder.name / name)
    (copy / "pants.toml").touch()
    return copy


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under root with its bytes and mtime: a changed, added or removed file shows."""
    return {
        str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def edit(repo: Path, path: str, old: str, new: str) -> None:
    file = repo / path
    text = file.read_text()
    assert old in text, f"{path} no longer holds {old!r}; update the test"
    file.write_text(text.replace(old, new, 1))


def pods_fails(repo: Path, capsys, monkeypatch, *argv: str, env: dict[str, str] | None = None) -> str:
    """Run `pods ARGV --repo COPY`: exit 1, one error line, every file as it was. Returns the line."""
    monkeypatch.setenv("PODS_ENGINE_WRAPPER", str(ENGINE))
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    # The resolvers' scratch folders (uv's, npm's) must not outlive a failure either.
    scratch = repo.parent / "pods-scratch"
    scratch.mkdir(exist_ok=True)
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    before = snapshot(repo)
    code = main([*argv, "--repo", str(repo)])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err
    assert snapshot(repo) == before
    assert not list(scratch.iterdir())
    return error_line(err)


def offline_fails(repo: Path, capsys, monkeypatch) -> str:
    """`pods check` and `pods lock` report a declaration error alike, before asking any upstream."""
    line = pods_fails(repo, capsys, monkeypatch, "check")
    assert pods_fails(repo, capsys, monkeypatch, "lock", env={"PODS_TIMEOUT": "1"}) == line
    return line


# --- the family tree (Containerfiles) ------------------------------------------------------


def test_parent_cycle(repo, capsys, monkeypatch):
    edit(repo, "build_files/base/Containerfile", "build_files/rootfs:rootfs", "build_files/nvidia:nvidia")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/base/Containerfile: ARG BASE_IMAGE: parent cycle base -> nvidia -> base: "
        "expected a chain that ends at a root pod (a Containerfile without ARG BASE_IMAGE); "
        "point one of them at a pod outside the cycle"
    )


def test_parent_that_does_not_exist(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/Containerfile", "build_files/base:base", "build_files/ghost:ghost")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/Containerfile: ARG BASE_IMAGE: expected a parent pod "
        "(one of base, githubrunner, jupyter, nvidia, nvidia-python, playwright, rootfs), "
        "found 'ghost', which has no build_files/ghost/pod.yaml; fix the ARG line or add that pod"
    )


def test_missing_containerfile(repo, capsys, monkeypatch):
    (repo / "build_files/devops/Containerfile").unlink()
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/Containerfile: missing: expected one beside "
        "build_files/devops/pod.yaml (its ARG BASE_IMAGE line names the parent), found none; "
        "add it, or remove build_files/devops/ if it is no pod"
    )


# --- pod.yaml ------------------------------------------------------------------------------


def test_pod_yaml_unknown_key(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", "npm:\n", "pakages: [awscli]\nnpm:\n")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/pod.yaml: field pakages: unknown key: "
        "expected one of description, debian, pypi, npm, vendor, env; "
        "rename or remove it (schema: docs/lockfile.md)"
    )


def test_pod_yaml_wrong_type(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", 'firebase-tools: "^14"', "- firebase-tools@^14")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/pod.yaml: field npm.packages: expected a mapping, found a list; "
        "write it as a mapping (schema: docs/lockfile.md)"
    )


def test_pod_yaml_duplicate_component(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", "    - prometheus", "    - prometheus\n    - awscli")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/pod.yaml: field debian.packages[2]: duplicate component 'awscli': "
        "expected each Debian package once, found it at debian.packages[0] too; remove one"
    )


def test_pod_yaml_duplicate_mapping_key(repo, capsys, monkeypatch):
    edit(
        repo,
        "build_files/devops/pod.yaml",
        'firebase-tools: "^14"',
        'firebase-tools: "^14"\n    firebase-tools: "^13"',
    )
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/pod.yaml: field npm.packages.firebase-tools: "
        "duplicate key 'firebase-tools' at line 10: expected each key once, found it at line 9 too; "
        "merge the two or remove one"
    )


def test_debian_version_in_pod_yaml(repo, capsys, monkeypatch):
    # pod.yaml names Debian packages only; an "unknown version" there is a malformed name.
    edit(repo, "build_files/devops/pod.yaml", "    - awscli", "    - awscli=0.0.999")
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/devops/pod.yaml: field debian.packages[0]: expected a Debian package "
        "name, found 'awscli=0.0.999'; name the package only (the lock pins its version)"
    )


def test_pod_yaml_env_name_not_a_shell_identifier(repo, capsys, monkeypatch):
    edit(
        repo, "build_files/base/pod.yaml", "  DOTNET_CLI_TELEMETRY_OPTOUT:", "  DOTNET-CLI-TELEMETRY-OPTOUT:"
    )
    assert offline_fails(repo, capsys, monkeypatch) == (
        "pods: error: build_files/base/pod.yaml: field env.DOTNET-CLI-TELEMETRY-OPTOUT: "
        "expected a shell identifier (letters, digits, _; not starting with a digit); rename it"
    )


@pytest.mark.parametrize(
    "value, shown",
    [("$(id -u)", "$(i"), ("`id -u`$(id)", "$(i"), ("${HOME:-/root}", "${H")],
)
def test_pod_yaml_env_value_that_would_run_or_expand_more_than_a_variable(
    repo, capsys, monkeypatch, value, shown
):
    # A command substitution, or an expansion other than $NAME/${NAME}: only a variable expands.
    edit(repo, "build_files/nvidia/pod.yaml", ":$PATH", f":{value}")
    assert offline_fails(repo, capsys, monkeypatch) == (
        f"pods: error: build_files/nvidia/pod.yaml: field env.PATH: `{shown}...` is not a variable "
        "reference: only $NAME and ${NAME} expand, nothing is run (no $(...), backticks or "
        "${NAME:-...}); write the value without it"
    )


# --- upstreams: what the registries do not have (live) ------------------------------------


def test_unknown_pypi_package(repo, capsys, monkeypatch):
    edit(repo, "build_files/jupyter/pod.yaml", "    - jupyterlab", f"    - {BAD_NAME}\n    - jupyterlab")
    assert pods_fails(repo, capsys, monkeypatch, "lock", "jupyter") == (
        "pods: error: build_files/jupyter/pod.yaml: field pypi.packages[0]: "
        f"unknown package '{BAD_NAME}': expected a project on the default index, found none; "
        "check the name or remove it"
    )


def test_unknown_pypi_version(repo, capsys, monkeypatch):
    edit(
        repo, "build_files/jupyter/pod.yaml", "    - jupyterlab", "    - requests==0.0.999\n    - jupyterlab"
    )
    assert pods_fails(repo, capsys, monkeypatch, "lock", "jupyter") == (
        "pods: error: build_files/jupyter/pod.yaml: field pypi.packages[0]: "
        "unknown version of 'requests': expected a version ==0.0.999, found none on the default index; "
        "ask for a released version"
    )


def test_unknown_npm_package(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", 'firebase-tools: "^14"', f'{BAD_NAME}: "^1.0.0"')
    assert pods_fails(repo, capsys, monkeypatch, "lock", "devops") == (
        f"pods: error: build_files/devops/pod.yaml: field npm.packages.{BAD_NAME}: "
        f"unknown package '{BAD_NAME}': expected a package on the default registry, found none; "
        "check the name or remove it"
    )


def test_unknown_npm_version(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", 'firebase-tools: "^14"', 'firebase-tools: "0.0.999"')
    assert pods_fails(repo, capsys, monkeypatch, "lock", "devops") == (
        "pods: error: build_files/devops/pod.yaml: field npm.packages.firebase-tools: "
        "unknown version of 'firebase-tools': expected a version matching 0.0.999, "
        "found none on the default registry; ask for a range a release satisfies"
    )


def rootfs_image() -> str:
    """The rootfs image Pants built for this run, by its content-hash tag: `latest` is shared
    with every other checkout on the machine, so a concurrent build elsewhere can move it."""
    try:
        info = json.loads((SOURCE / "pods/rootfs.docker-info.json").read_text())
        return next(
            tag["name"]
            for registry in info["registries"]
            for tag in registry["tags"]
            if tag["template"] == "{pants.hash}"
        )
    except (OSError, ValueError, KeyError, StopIteration):
        return "ghcr.io/bazzite-ai/bazzite-ai-pod-rootfs:latest"


def test_unknown_debian_package(repo, capsys, monkeypatch):
    edit(repo, "build_files/base/pod.yaml", "    - jq\n", f"    - jq\n    - {BAD_NAME}\n")
    index = load_pod_spec(repo / "build_files/base/pod.yaml").debian.packages.index(BAD_NAME)
    image = rootfs_image()
    line = pods_fails(repo, capsys, monkeypatch, "lock", "base", env={"PODS_PARENT_IMAGE": image})
    assert line == (
        f"pods: error: build_files/base/pod.yaml: field debian.packages[{index}]: "
        f"unknown package '{BAD_NAME}': expected a package in the parent image {image}, found none; "
        "check the name or remove it"
    )


# --- stale locks ---------------------------------------------------------------------------


def test_stale_lock(repo, capsys, monkeypatch):
    edit(repo, "build_files/devops/pod.yaml", "    - prometheus", "    - prometheus\n    - jq")
    assert pods_fails(repo, capsys, monkeypatch, "lock", "--check") == (
        "pods: error: 1 stale lock: build_files/devops/pod.lock.json "
        "(build_files/devops/pod.yaml changed after its lock); "
        f"expected each lock to match its pod.yaml and parent lock; run `{RELOCK} devops`"
    )


def base_lock_of(repo: Path, names: tuple[str, ...]) -> dict:
    """The copy's base lock cut down to these Debian packages (fast to check inside rootfs)."""
    lock = json.loads((repo / "build_files/base/pod.lock.json").read_text())
    kept = [p for p in lock["debian"]["packages"] if p["name"] in names]
    assert tuple(p["name"] for p in kept) == names, f"base no longer locks {names}; update the test"
    return {**head_of_lock(repo, "base"), "debian": {**lock["debian"], "packages": kept}}


def install_in_rootfs_fails(lock: dict, tmp_path: Path) -> str:
    """Run the image's own pods-install on `lock` as the build would (as root, in the parent
    image): exit 1, one line, and the lock handed in as it was. Returns the line."""
    mounted = tmp_path / "mounted"
    mounted.mkdir()
    (mounted / "base.lock.json").write_text(json.dumps(lock))
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [str(ENGINE), "run", "--rm", "--user", "root", "--network", "host", "-v", f"{mounted}:/lock:ro"]
        + ["--entrypoint", "/usr/local/bin/pods-install", rootfs_image(), "/lock/base.lock.json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 1, proc.stderr
    assert snapshot(tmp_path) == before
    return installer_line(proc.stderr)


def test_stale_lock_in_a_build_apt_closure_differs(repo, tmp_path):
    # jq without libjq1: what a lock made on a parent that already had libjq1 looks like.
    assert install_in_rootfs_fails(base_lock_of(repo, ("jq", "libonig5")), tmp_path) == (
        "pods-install: pod base: debian: apt's closure differs from the lock: also libjq1: expected exactly "
        "the closure build_files/base/pod.lock.json names on this parent; "
        f"the lock is stale: run `{RELOCK} base`"
    )


def test_stale_lock_in_a_build_version_left_the_archive(repo, tmp_path):
    lock = base_lock_of(repo, ("jq", "libjq1", "libonig5"))
    lock["debian"]["packages"][0]["version"] = "0.0.999-gone"
    assert install_in_rootfs_fails(lock, tmp_path) == (
        "pods-install: pod base: debian: apt cannot install the locked closure "
        "(Version '0.0.999-gone' for 'jq' was not found): expected every pin of "
        "build_files/base/pod.lock.json in the archive; "
        f"the lock is stale: run `{RELOCK} base`"
    )


def test_tampered_debian_index_entry_when_installing(repo, tmp_path):
    lock = base_lock_of(repo, ("jq", "libjq1", "libonig5"))
    jq = lock["debian"]["packages"][0]
    real, jq["sha256"] = jq["sha256"], PUBLISHED
    assert install_in_rootfs_fails(lock, tmp_path) == (
        f"pods-install: pod base: debian: jq {jq['version']}: sha256 {PUBLISHED} in the lock, {real} in the "
        "archive index: expected the files build_files/base/pod.lock.json names; "
        f"if the archive changed that version on purpose, run `{RELOCK} --upgrade base`"
    )


# --- tampered artifacts --------------------------------------------------------------------

TAMPERED = b"helm 3.19.0, not as released"
PUBLISHED = hashlib.sha256(b"helm 3.19.0 as released").hexdigest()


def test_tampered_vendor_artifact_when_locking(repo, capsys, monkeypatch, server):
    url = f"{server.url}/dl/helm-v3.19.0-linux-amd64.tar.gz"
    server.routes["/dl/helm-v3.19.0-linux-amd64.tar.gz"] = Route(200, TAMPERED)
    server.routes["/dl/helm-v3.19.0-linux-amd64.tar.gz.sha256sum"] = Route(
        200, f"{PUBLISHED}  helm-v3.19.0-linux-amd64.tar.gz\n".encode()
    )
    # An entry of its own beside base's real vendor entries (whose digests pod.yaml
    # quotes, so locking them downloads nothing).
    vendor = (
        "vendor:\n  tampered:\n    version: 3.19.0\n"
        f'    url: "{server.url}/dl/helm-v{{version}}-linux-amd64.tar.gz"\n'
        f'    checksums: "{server.url}/dl/helm-v{{version}}-linux-amd64.tar.gz.sha256sum"\n'
        "    install: {kind: tar, bin: [linux-amd64/helm]}\n"
    )
    edit(repo, "build_files/base/pod.yaml", "vendor:\n", vendor)
    assert pods_fails(repo, capsys, monkeypatch, "lock", "base", env={"PODS_TIMEOUT": "5"}) == (
        f"pods: error: pod base: vendor tampered: sha256 mismatch for {url}: expected {PUBLISHED} "
        f"(published checksum), found {hashlib.sha256(TAMPERED).hexdigest()}; refusing to lock it: "
        "retry later, and report it upstream if it persists"
    )


def load_installer(monkeypatch, tmp_path: Path):
    """build_files/pods-install.py as a module, with every place it installs to under tmp_path."""
    module = installer_module()
    for name in ("VENV", "NPM_ROOT", "VENDOR_ROOT", "BIN"):
        monkeypatch.setattr(module, name, str(tmp_path / "installed" / name.lower()))
    (tmp_path / "installed" / "bin").mkdir(parents=True)
    # Its downloads and scratch files must not outlive a failure either.
    (tmp_path / "scratch").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "scratch"))
    return module


def head_of_lock(repo: Path, pod: str) -> dict:
    """A pod's lock from the copy without its sections: the test adds the one it tampers with."""
    lock = json.loads((repo / f"build_files/{pod}/pod.lock.json").read_text())
    return {key: lock[key] for key in ("schema_version", "pod", "parent", "inputs")}


def installer_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def install_fails(module, lock: dict, tmp_path: Path, capfd) -> str:
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    before = snapshot(tmp_path / "lock.json")
    assert module.main(["pods-install", str(tmp_path / "lock.json")]) == 1
    assert snapshot(tmp_path / "lock.json") == before
    assert not list((tmp_path / "scratch").iterdir())
    return installer_line(capfd.readouterr().err)


def test_tampered_vendor_artifact_when_installing(repo, tmp_path, capfd, monkeypatch, server):
    module = load_installer(monkeypatch, tmp_path)
    url = f"{server.url}/dl/helm-v3.19.0-linux-amd64.tar.gz"
    server.routes["/dl/helm-v3.19.0-linux-amd64.tar.gz"] = Route(200, TAMPERED)
    lock = head_of_lock(repo, "base")
    lock["vendor"] = [
        {"name": "helm", "version": "3.19.0", "url": url, "sha256": PUBLISHED, "install": {"kind": "tar"}}
    ]
    assert install_fails(module, lock, tmp_path, capfd) == (
        f"pods-install: pod base: vendor helm 3.19.0: sha256 mismatch for {url}: "
        f"expected {PUBLISHED} (build_files/base/pod.lock.json), "
        f"found {hashlib.sha256(TAMPERED).hexdigest()}; the download is not what was locked: "
        "do not install it; "
        f"if the upstream re-published it on purpose, run `{RELOCK} --upgrade base`"
    )
    assert not list((tmp_path / "installed").rglob("*helm*"))


def test_tampered_pypi_wheel_when_installing(repo, tmp_path, capfd, monkeypatch, server):
    module = load_installer(monkeypatch, tmp_path)
    wheel = "idna-3.6-py3-none-any.whl"
    server.routes["/simple/idna/"] = Route(
        200,
        f'<html><body><a href="/files/{wheel}">{wheel}</a></body></html>'.encode(),
        {"Content-Type": "text/html"},
    )
    server.routes[f"/files/{wheel}"] = Route(200, TAMPERED)
    lock = head_of_lock(repo, "nvidia")
    lock["pypi"] = {
        "python": "3.13",
        "index_url": f"{server.url}/simple",
        "packages": [{"name": "idna", "version": "3.6", "hashes": [f"sha256:{PUBLISHED}"]}],
    }
    assert install_fails(module, lock, tmp_path, capfd) == (
        f"pods-install: pod nvidia: pypi idna 3.6: sha256 mismatch for {server.url}/files/{wheel}: "
        f"expected {PUBLISHED} (build_files/nvidia/pod.lock.json), "
        f"found {hashlib.sha256(TAMPERED).hexdigest()}; the file is not what was locked: do not install it; "
        f"if the index re-published it on purpose, run `{RELOCK} --upgrade nvidia`"
    )
    assert not list((tmp_path / "installed/venv").glob("lib/python*/site-packages/idna*"))
