"""The Debian resolver, live: apt inside a real parent image, against the archive it reaches.

Each test's parent is a throwaway image made FROM the repo's rootfs image with the test
repo's own parent lock copied in (as every pod image carries its lock), then removed.
"""

import hashlib
import json
import os
import subprocess
import uuid

import pytest
from unit.pods.helpers import ENGINE, error_line, relock_fails, run_cli, snapshot, write_pod

ROOTFS_IMAGE = "ghcr.io/bazzite-ai/bazzite-ai-pod-rootfs:latest"


def engine(*args, **kwargs):
    return subprocess.run([str(ENGINE), *args], check=True, capture_output=True, text=True, **kwargs)


@pytest.fixture
def family(tmp_path, capsys, monkeypatch):
    """A repo with a locked root pod, and a parent image carrying that lock."""
    write_pod(tmp_path, "root", "description: r\n")
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    tag = f"localhost/pods-test-{{pod}}:{uuid.uuid4().hex[:12]}"
    image = tag.format(pod="root")
    context = tmp_path / "context"
    context.mkdir()
    (context / "root.lock.json").write_bytes((tmp_path / "build_files/root/pod.lock.json").read_bytes())
    (context / "Containerfile").write_text(
        f"FROM {ROOTFS_IMAGE}\nCOPY root.lock.json /usr/share/pods/root.lock.json\n"
    )
    engine("build", "-q", "-t", image, str(context))
    monkeypatch.setenv("PODS_PARENT_IMAGE", tag)
    try:
        yield tmp_path
    finally:
        subprocess.run([str(ENGINE), "rmi", "-f", image], capture_output=True)


def image_packages():
    out = engine("run", "--rm", ROOTFS_IMAGE, "dpkg-query", "-W", "-f=${Package}\\n").stdout
    return set(out.split())


def test_closure_is_what_apt_adds_on_top_of_the_parent_with_hashes(family, capsys, monkeypatch):
    write_pod(family, "kid", "description: k\ndebian: {packages: [make]}\n", parent="root")
    assert run_cli(family, capsys, "kid", monkeypatch=monkeypatch)[0] == 0
    section = json.loads((family / "build_files/kid/pod.lock.json").read_text())["debian"]
    names = [p["name"] for p in section["packages"]]
    assert "make" in names and names == sorted(names)
    assert not set(names) & image_packages()  # only what the parent lacks
    assert section["architecture"] == "amd64" and section["suite"]
    for package in section["packages"]:
        assert len(package["sha256"]) == 64 and package["size"] > 0 and package["version"]


def test_the_lock_names_the_parent_image_by_what_it_holds_not_by_its_tag(family, capsys, monkeypatch):
    """The same lock on every machine: no local tag, the parent lock the image carries instead."""
    write_pod(family, "kid", "description: k\ndebian: {packages: [make]}\n", parent="root")
    assert run_cli(family, capsys, "kid", monkeypatch=monkeypatch)[0] == 0
    lock = json.loads((family / "build_files/kid/pod.lock.json").read_text())
    root_lock = (family / "build_files/root/pod.lock.json").read_bytes()
    assert lock["inputs"]["resolvers"]["debian"] == {
        "method": "apt-in-parent-image",
        "image_lock_sha256": hashlib.sha256(root_lock).hexdigest(),
    }
    image = os.environ["PODS_PARENT_IMAGE"].format(pod="root")
    assert image.split(":")[-1] not in json.dumps(lock) and "localhost/" not in json.dumps(lock)


def test_unknown_package(family, capsys, monkeypatch):
    write_pod(family, "kid", "description: k\ndebian: {packages: [make]}\n", parent="root")
    assert run_cli(family, capsys, "kid", monkeypatch=monkeypatch)[0] == 0
    pod_yaml = "description: k\ndebian: {packages: [make, no-such-package-pods-zq]}\n"
    line = relock_fails(family, "kid", pod_yaml, capsys, monkeypatch, "kid")
    image = os.environ["PODS_PARENT_IMAGE"].format(pod="root")
    assert line == (
        f"pods: error: build_files/kid/pod.yaml: field debian.packages[1]: "
        f"unknown package 'no-such-package-pods-zq': "
        f"expected a package in the parent image {image}, found none; check the name or remove it"
    )


def test_parent_image_built_from_another_lock_is_refused(family, capsys, monkeypatch):
    (family / "build_files/root/pod.yaml").write_text("description: r\nenv: {CHANGED: '1'}\n")
    assert (
        run_cli(family, capsys, "root", monkeypatch=monkeypatch)[0] == 0
    )  # the image still has the old lock
    write_pod(family, "kid", "description: k\ndebian: {packages: [make]}\n", parent="root")
    before = snapshot(family)
    code, _, err = run_cli(family, capsys, "kid", monkeypatch=monkeypatch)
    assert code == 1 and snapshot(family) == before
    assert "was built from another build_files/root/pod.lock.json" in error_line(err)
    assert "rebuild it with `./pants package build_files/root`" in err


def test_previous_pin_that_left_the_archive_gives_way(family, capsys, monkeypatch):
    write_pod(family, "kid", "description: k\ndebian: {packages: [make]}\n", parent="root")
    assert run_cli(family, capsys, "kid", monkeypatch=monkeypatch)[0] == 0
    lock_file = family / "build_files/kid/pod.lock.json"
    lock = json.loads(lock_file.read_text())
    current = {p["name"]: p["version"] for p in lock["debian"]["packages"]}
    for package in lock["debian"]["packages"]:
        package["version"] = "0.0-gone"  # a version no archive serves
    lock_file.write_text(json.dumps(lock))
    (family / "build_files/kid/pod.yaml").write_text(
        "description: k\ndebian: {packages: [make]}\n# touched\n"
    )
    assert run_cli(family, capsys, "kid", monkeypatch=monkeypatch)[0] == 0
    relocked = json.loads(lock_file.read_text())["debian"]["packages"]
    assert {p["name"]: p["version"] for p in relocked} == current


def test_root_is_resolved_by_mmdebstrap_as_a_whole_root(tmp_path, capsys, monkeypatch):
    write_pod(
        tmp_path,
        "root",
        "description: r\ndebian: {suite: trixie, variant: minbase, packages: [python3-minimal]}\n",
    )
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    lock = json.loads((tmp_path / "build_files/root/pod.lock.json").read_text())
    names = {p["name"] for p in lock["debian"]["packages"]}
    assert {"base-files", "dpkg", "apt", "python3-minimal", "libc6"} <= names
    assert lock["inputs"]["resolvers"]["debian"] == {
        "method": "mmdebstrap",
        "suite": "trixie",
        "variant": "minbase",
        "architecture": "amd64",
    }
    assert lock["parent"] is None and lock["inputs"]["parent_lock_sha256"] is None
