"""pixi.toml and pixi.lock for a pixi pod: the whole Python environment, read back by py-rattler."""

import json
import re
import tomllib

from unit.pods.helpers import run_cli, write_pod

from pods.pixi import read_pixi_lock


def lock_family(tmp_path, capsys, monkeypatch, *args):
    write_pod(tmp_path, "torchy", 'description: t\npypi: {python: "3.13", packages: ["idna==3.6"]}\n')
    write_pod(
        tmp_path,
        "lab",
        'description: l\npypi: {python: "3.13", packages: ["requests<2.33"]}\n',
        parent="torchy",
    )
    return run_cli(tmp_path, capsys, *args, env={"PODS_PIXI_PODS": "lab"}, monkeypatch=monkeypatch)


def locked_environment(tmp_path):
    """name -> package of every PyPI pin the lab pod and its ancestors hold."""
    out = {}
    for pod in ("torchy", "lab"):
        for package in json.loads((tmp_path / f"build_files/{pod}/pod.lock.json").read_text())["pypi"][
            "packages"
        ]:
            out[package["name"]] = package
    return out


def test_pixi_lock_names_exactly_the_locked_packages_with_their_hashes(tmp_path, capsys, monkeypatch):
    assert lock_family(tmp_path, capsys, monkeypatch)[0] == 0
    environment = locked_environment(tmp_path)
    assert "idna" in environment and "requests" in environment  # the ancestor's pin is part of it
    described = read_pixi_lock(tmp_path / "build_files/lab/pixi.lock")
    assert {name: version for name, (version, _) in described.items()} == {
        name: package["version"] for name, package in environment.items()
    }
    for name, (_, sha256) in described.items():
        assert f"sha256:{sha256}" in environment[name]["hashes"]
    assert not (tmp_path / "build_files/torchy/pixi.lock").exists()  # not a pixi pod


def test_pixi_toml_pins_the_same_versions_and_names_the_channel(tmp_path, capsys, monkeypatch):
    assert lock_family(tmp_path, capsys, monkeypatch)[0] == 0
    doc = tomllib.loads((tmp_path / "build_files/lab/pixi.toml").read_text())
    # The channel by name, as pixi users write it; pixi.lock has the URL pixi would write.
    assert doc["workspace"]["platforms"] == ["linux-64"] and doc["workspace"]["channels"] == ["conda-forge"]
    lock = (tmp_path / "build_files/lab/pixi.lock").read_text()
    assert re.search(r"channels:\n\s*- url: https://\S+/conda-forge/\n", lock), lock[:400]
    assert doc["dependencies"]["python"] == "3.13.*"
    assert doc["pypi-dependencies"] == {
        name: f"=={p['version']}" for name, p in locked_environment(tmp_path).items()
    }


def test_check_notices_a_missing_or_edited_pixi_lock(tmp_path, capsys, monkeypatch):
    assert lock_family(tmp_path, capsys, monkeypatch)[0] == 0
    pixi_lock = tmp_path / "build_files/lab/pixi.lock"
    pixi_lock.write_text(pixi_lock.read_text().replace("version: '3.6'", "version: '3.5'"))
    code, out, _ = lock_family(tmp_path, capsys, monkeypatch, "--check")
    assert (
        code == 1
        and "stale: lab: build_files/lab/pixi.lock does not name exactly the locked PyPI packages" in out
    )
    pixi_lock.unlink()
    code, out, _ = lock_family(tmp_path, capsys, monkeypatch, "--check")
    assert code == 1 and "stale: lab: build_files/lab/pixi.lock is missing" in out
