"""Bad input at build time: a lock with a merge conflict, or older than its pod.yaml, stops
the build with one line (PODS_STALE_LOCK chooses error, warn or ignore for a stale one)."""

from __future__ import annotations

import json
from pathlib import Path

import pods_contract
import pods_engine
import pytest
from engine_binary import EngineError
from pod_lock import check_lock
from request import parse_build

POD_YAML = b"debian:\n  packages: [git]\n"


def context(tmp_path: Path, lock: str, pod_yaml: bytes | None = POD_YAML) -> Path:
    """A build context as Pants hands it for devops: Containerfile, lock, pod.yaml."""
    ctx = tmp_path / "ctx"
    pod = ctx / "build_files" / "devops"
    pod.mkdir(parents=True)
    (pod / "Containerfile").write_text("FROM scratch\n")
    (pod / "pod.lock.json").write_text(lock)
    if pod_yaml is not None:
        (pod / "pod.yaml").write_bytes(pod_yaml)
    return ctx


def lock_for(pod_yaml: bytes) -> str:
    inputs = {"pod_yaml_sha256": pods_contract.bytes_sha256(pod_yaml)}
    return json.dumps({"schema_version": pods_contract.SCHEMA_VERSION, "pod": "devops", "inputs": inputs})


def argv(ctx: Path) -> list[str]:
    # No tags: nothing for the no-op ladder to find, so no engine is asked.
    return ["--file", str(ctx / "build_files/devops/Containerfile"), str(ctx)]


def test_a_merge_conflict_in_the_lock_fails_the_build_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture, no_engine: None
) -> None:
    ctx = context(tmp_path, "<<<<<<< HEAD\n{}\n=======\n{}\n>>>>>>> theirs\n")
    assert pods_engine.main(["build", *argv(ctx)]) == 1
    out = capsys.readouterr()
    (line,) = out.err.splitlines()
    assert line.startswith("pods: error: build_files/devops/pod.lock.json: line 1: a merge conflict marker")
    assert "Traceback" not in out.out + out.err


def test_a_stale_lock_fails_the_build_naming_the_pod_and_the_relock_command(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, no_engine: None
) -> None:
    monkeypatch.delenv("PODS_STALE_LOCK", raising=False)
    ctx = context(tmp_path, lock_for(POD_YAML), pod_yaml=POD_YAML + b"  # and jq\n")
    assert pods_engine.main(["build", *argv(ctx)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    relock = pods_contract.relock_command("devops")
    assert line == (
        "pods: error: build_files/devops/pod.lock.json: stale: build_files/devops/pod.yaml changed after "
        f"devops was locked (inputs.pod_yaml_sha256); re-lock with `{relock}`, "
        "or set PODS_STALE_LOCK=warn to build it as locked"
    )


def test_with_warn_a_stale_lock_is_said_and_built(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODS_STALE_LOCK", "warn")
    ctx = context(tmp_path, lock_for(POD_YAML), pod_yaml=b"debian:\n  packages: [git, jq]\n")
    check_lock(parse_build(argv(ctx)))
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("pods: warning: build_files/devops/pod.lock.json: stale: ")
    assert line.endswith("building it as locked (PODS_STALE_LOCK=warn)")


def test_with_ignore_a_stale_lock_is_built_silently(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PODS_STALE_LOCK", "ignore")
    ctx = context(tmp_path, lock_for(POD_YAML), pod_yaml=b"debian:\n  packages: [git, jq]\n")
    check_lock(parse_build(argv(ctx)))
    assert capsys.readouterr().out == ""


def test_a_current_lock_passes_and_a_context_without_pod_yaml_is_not_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PODS_STALE_LOCK", raising=False)
    check_lock(parse_build(argv(context(tmp_path / "a", lock_for(POD_YAML)))))
    check_lock(parse_build(argv(context(tmp_path / "b", lock_for(b"other"), pod_yaml=None))))
    assert capsys.readouterr().out == ""


def test_an_unknown_stale_lock_behaviour_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODS_STALE_LOCK", "warning")
    ctx = context(tmp_path, lock_for(POD_YAML), pod_yaml=b"changed\n")
    with pytest.raises(EngineError, match=r"^PODS_STALE_LOCK=warning: expected one of error, warn, ignore; "):
        check_lock(parse_build(argv(ctx)))
