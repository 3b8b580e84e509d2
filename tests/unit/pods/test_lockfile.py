import json
import os
import socket

import pytest
from pods_contract import bytes_sha256
from unit.pods.helpers import error_line, run_cli, settings_for, snapshot, write_pod

from pods import lockfile
from pods.graph import load_graph
from pods.locker import default_derivers


def stale_locks(repo):
    return lockfile.stale_locks(settings_for(repo), load_graph(repo), default_derivers())


def test_dumps_is_stable_sorted_and_newline_terminated():
    a = lockfile.dumps(
        {"pod": "x", "schema_version": 1, "debian": {"suite": "trixie", "architecture": "amd64"}}
    )
    b = lockfile.dumps(
        {"debian": {"architecture": "amd64", "suite": "trixie"}, "schema_version": 1, "pod": "x"}
    )
    assert a == b and a.endswith("}\n") and '\n  "debian": {\n    "architecture"' in a


def test_atomic_write_leaves_old_files_when_a_later_file_fails(tmp_path):
    first, second = tmp_path / "one.json", tmp_path / "missing-dir" / "two.json"
    first.write_text("old\n")
    with pytest.raises(OSError):
        lockfile.write_files_atomically([(first, "new\n"), (second, "new\n")])
    assert first.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["one.json"]  # no temp file left behind


def _locked_family(repo):
    """root <- child, both locked by the CLI (no upstream is used: env only)."""
    write_pod(repo, "root", "description: r\nenv: {A: '1'}\n")
    write_pod(repo, "child", "description: c\nenv: {B: '2'}\n", parent="root")


def test_lock_then_check_passes_and_records_input_hashes(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    child = json.loads((tmp_path / "build_files/child/pod.lock.json").read_text())
    root_bytes = (tmp_path / "build_files/root/pod.lock.json").read_bytes()
    assert child["inputs"]["parent_lock_sha256"] == bytes_sha256(root_bytes)
    assert child["env"] == {"B": "2"} and child["parent"] == "root"
    code, out, _ = run_cli(tmp_path, capsys, "--check", monkeypatch=monkeypatch)
    assert code == 0 and "2 lock(s) up to date" in out


def test_check_names_every_stale_lock_and_writes_nothing(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    (tmp_path / "build_files/root/pod.yaml").write_text("description: r\nenv: {A: '2'}\n")
    before = snapshot(tmp_path)
    code, out, _ = run_cli(tmp_path, capsys, "--check", monkeypatch=monkeypatch)
    assert code == 1
    assert "stale: root: build_files/root/pod.yaml changed after its lock" in out
    assert "stale: child: its parent root is stale" in out
    assert snapshot(tmp_path) == before


def test_check_is_offline(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)

    def no_network(*args, **kwargs):
        raise AssertionError("--check opened a socket")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(os, "system", no_network)
    assert run_cli(tmp_path, capsys, "--check", monkeypatch=monkeypatch)[0] == 0


def test_parent_lock_change_makes_the_child_stale(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    root_lock = tmp_path / "build_files/root/pod.lock.json"
    # Other bytes, same content: the root stays fresh (its pod.yaml and sections agree).
    root_lock.write_text(root_lock.read_text().replace('"pod": "root"', '"pod":  "root"'))
    stale = stale_locks(tmp_path)
    assert [(s.pod, s.reason) for s in stale] == [
        ("child", "build_files/root/pod.lock.json changed after this lock")
    ]


def test_missing_lock_is_stale(tmp_path):
    write_pod(tmp_path, "root", "description: r\n")
    assert [s.pod for s in stale_locks(tmp_path)] == ["root"]


def test_fresh_lock_is_not_rewritten(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    before = snapshot(tmp_path)
    code, _, err = run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    assert code == 0 and "up to date: root, child" in err
    assert snapshot(tmp_path) == before


def test_invalid_pod_yaml_is_one_line_and_changes_nothing(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    (tmp_path / "build_files/child/pod.yaml").write_text("description: c\nenv: [not, a, mapping]\n")
    before = snapshot(tmp_path)
    code, _, err = run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    assert code == 1
    assert (
        error_line(err)
        == "pods: error: build_files/child/pod.yaml: field env: expected a mapping, found a list; "
        "write it as a mapping (schema: docs/lockfile.md)"
    )
    assert snapshot(tmp_path) == before


def test_locking_one_pod_leaves_its_children_and_names_them_stale(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    child_lock = (tmp_path / "build_files/child/pod.lock.json").read_bytes()
    (tmp_path / "build_files/root/pod.yaml").write_text("description: r\nenv: {A: '3'}\n")
    code, _, err = run_cli(tmp_path, capsys, "root", monkeypatch=monkeypatch)
    assert code == 0 and "locked root" in err
    assert (tmp_path / "build_files/child/pod.lock.json").read_bytes() == child_lock
    assert "now stale: child" in err


def test_a_lock_edited_by_hand_is_stale_where_its_section_disagrees_with_pod_yaml(
    tmp_path, capsys, monkeypatch
):
    """The hashes match, but a deriver's own check sees the section pod.yaml asks for is gone."""
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    child_lock = tmp_path / "build_files/child/pod.lock.json"
    lock = json.loads(child_lock.read_text())
    del lock["env"]
    child_lock.write_text(lockfile.dumps(lock))
    assert [(s.pod, s.reason) for s in stale_locks(tmp_path)] == [
        ("child", "build_files/child/pod.yaml: field env: differs from the lock's env section")
    ]


def test_a_section_pod_yaml_does_not_ask_for_makes_the_lock_stale(tmp_path, capsys, monkeypatch):
    _locked_family(tmp_path)
    run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    root_lock = tmp_path / "build_files/root/pod.lock.json"
    lock = json.loads(root_lock.read_text())
    lock["pypi"] = {"python": "3.13", "requirements": [], "packages": []}
    root_lock.write_text(lockfile.dumps(lock))
    # The child's parent_lock_sha256 no longer matches either, but the parent is named first.
    assert [(s.pod, s.reason) for s in stale_locks(tmp_path)] == [
        ("root", "build_files/root/pod.yaml has no pypi, but its lock has a pypi section"),
        ("child", "its parent root is stale"),
    ]
