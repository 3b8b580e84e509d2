"""The PyPI resolver against the real index this machine reaches (through uv)."""

import json

import pytest
from unit.pods.helpers import dead_port_url, relock_fails, run_cli, settings_for, write_pod

from pods.errors import PodsError
from pods.podspec import PodSpec, PypiSpec
from pods.resolvers import ResolveRequest
from pods.resolvers.pypi import resolve


def request_for(tmp_path, packages, ancestors=(), previous=None, upgrade=False):
    spec = PodSpec(
        name="kid", path=tmp_path / "pod.yaml", description="t", pypi=PypiSpec("3.13", tuple(packages))
    )
    return ResolveRequest(
        spec=spec,
        parent="app" if ancestors else None,
        ancestor_locks=tuple(ancestors),
        parent_lock_sha256=None,
        previous=previous,
        upgrade=upgrade,
        settings=settings_for(tmp_path),
    )


def names(section):
    return {p["name"]: p["version"] for p in section["packages"]}


def test_every_pin_has_sha256_hashes(tmp_path):
    section = resolve(request_for(tmp_path, ["requests<2.33"])).section
    assert {"requests", "urllib3", "idna", "certifi", "charset-normalizer"} <= set(names(section))
    assert all(p["hashes"] and all(h.startswith("sha256:") for h in p["hashes"]) for p in section["packages"])
    assert [p["name"] for p in section["packages"]] == sorted(names(section))


def test_child_adds_only_what_ancestors_lack_and_never_moves_their_pins(tmp_path):
    parent = resolve(request_for(tmp_path, ["urllib3==2.2.0"])).section
    ancestor = {"pod": "app", "pypi": parent}
    child = resolve(request_for(tmp_path, ["requests"], ancestors=[ancestor])).section
    assert "urllib3" not in names(child)  # inherited, at the ancestor's version
    assert "requests" in names(child)


def test_child_conflicting_with_an_ancestor_pin_says_so(tmp_path):
    ancestor = {
        "pod": "app",
        "pypi": {"python": "3.13", "packages": [{"name": "urllib3", "version": "2.2.0", "hashes": []}]},
    }
    with pytest.raises(PodsError) as info:
        resolve(request_for(tmp_path, ["urllib3>=2.3"], ancestors=[ancestor]))
    assert str(info.value) == "pod kid: pypi: urllib3: expected >=2.3, found 2.2.0 locked by an ancestor"


def test_previous_pins_stay_without_upgrade_and_move_with_it(tmp_path):
    old = {"python": "3.13", "packages": [{"name": "idna", "version": "3.6", "hashes": []}]}
    kept = resolve(request_for(tmp_path, ["idna"], previous={"pypi": old})).section
    assert names(kept)["idna"] == "3.6"
    upgraded = resolve(request_for(tmp_path, ["idna"], previous={"pypi": old}, upgrade=True)).section
    assert tuple(map(int, names(upgraded)["idna"].split("."))) > (3, 6)


def _locked_app(tmp_path, capsys, monkeypatch):
    write_pod(tmp_path, "app", 'description: a\npypi: {python: "3.13", packages: ["idna==3.6"]}\n')
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    assert names(json.loads((tmp_path / "build_files/app/pod.lock.json").read_text())["pypi"]) == {
        "idna": "3.6"
    }


def _relock_fails(tmp_path, capsys, monkeypatch, packages, env=None):
    pod_yaml = f'description: a\npypi: {{python: "3.13", packages: {json.dumps(packages)}}}\n'
    return relock_fails(tmp_path, "app", pod_yaml, capsys, monkeypatch, env=env)


def test_unknown_package(tmp_path, capsys, monkeypatch):
    _locked_app(tmp_path, capsys, monkeypatch)
    line = _relock_fails(tmp_path, capsys, monkeypatch, ["idna==3.6", "no-such-package-pods-zq"])
    assert line == (
        "pods: error: build_files/app/pod.yaml: field pypi.packages[1]: "
        "unknown package 'no-such-package-pods-zq': "
        "expected a project on the default index, found none; check the name or remove it"
    )


def test_version_that_does_not_exist(tmp_path, capsys, monkeypatch):
    _locked_app(tmp_path, capsys, monkeypatch)
    line = _relock_fails(tmp_path, capsys, monkeypatch, ["idna==99.0"])
    assert line == (
        "pods: error: build_files/app/pod.yaml: field pypi.packages[0]: unknown version of 'idna': "
        "expected a version ==99.0, found none on the default index; ask for a released version"
    )


def test_index_that_does_not_answer(tmp_path, capsys, monkeypatch):
    _locked_app(tmp_path, capsys, monkeypatch)
    index = dead_port_url() + "/simple"
    line = _relock_fails(tmp_path, capsys, monkeypatch, ["idna==3.7"], env={"PODS_PYPI_INDEX_URL": index})
    assert line.startswith(f"pods: error: pod app: pypi: {index} did not answer: ")
    assert "Connection refused" in line
