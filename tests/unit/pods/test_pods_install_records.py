"""What pods-install writes into an image besides packages, tested without an image:
the pod's environment script and the list of what the image lacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pods_contract
import pytest

from unit.pods.helpers import installer_module

RELOCK = "./pants run src/python/pods:pods -- lock"


@pytest.fixture
def installer(tmp_path, monkeypatch):
    """build_files/pods-install.py as a module, writing its records under tmp_path."""
    module = installer_module()
    monkeypatch.setattr(module, "PROFILE_DIR", str(tmp_path / "profile.d"))
    monkeypatch.setattr(module, "EXCLUDED_FILE", str(tmp_path / "share" / "excluded"))
    return module


def sourced(script: Path, home: str = "/home/jovian") -> dict[str, str]:
    """The environment a POSIX shell has after sourcing `script`, as pods-entrypoint does."""
    result = subprocess.run(
        ["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", "sh", "-c", f'. "{script}" && exec env -0'],
        capture_output=True,
        text=True,
        check=True,
        cwd=script.parent,
    )
    return dict(item.split("=", 1) for item in result.stdout.split("\0") if item)


def test_env_values_come_back_exactly_as_written_and_run_nothing(installer, tmp_path):
    env = {
        "QUOTES": 'it\'s a "quoted" value',
        "BACKTICKS": "`touch ran-backticks`",
        "SEMICOLON": "x; touch ran-semicolon",
        "NEWLINE": "first line\nsecond line \\",
        "SPACES": "  padded  ",
        "EMPTY": "",
    }
    installer.write_env("base", env)
    script = tmp_path / "profile.d" / "pods-base.sh"
    got = sourced(script)
    assert {name: got.get(name) for name in env} == env
    assert not list(script.parent.glob("ran-*"))


def test_env_references_to_other_variables_expand(installer, tmp_path):
    installer.write_env("nvidia", {"PATH": "/opt/pods/venv/bin:$PATH", "DATA": "${HOME}/data:$HOME"})
    got = sourced(tmp_path / "profile.d" / "pods-nvidia.sh", home="/h")
    assert got["PATH"] == "/opt/pods/venv/bin:/usr/bin:/bin"
    assert got["DATA"] == "/h/data:/h"


@pytest.mark.parametrize("value", ["$(touch ran)", "${HOME:-/tmp}", "cost: $5"])
def test_env_value_that_would_run_or_expand_more_is_refused_in_one_line(installer, tmp_path, value):
    with pytest.raises(installer.InstallError) as info:
        installer.write_env("base", {"BAD": value})
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("pod base: build_files/base/pod.lock.json: env: BAD: ")
    assert message.endswith(f"fix env: in build_files/base/pod.yaml, then run `{RELOCK} base`")
    assert not (tmp_path / "profile.d").exists()


def test_a_bad_env_fails_the_install_before_anything_is_installed(installer, tmp_path, capfd):
    lock = {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": "base",
        # apt is never asked: the env is checked first.
        "debian": {"packages": [{"name": "jq", "version": "1", "sha256": "0" * 64}]},
        "env": {"1BAD": "x"},
    }
    (tmp_path / "lock.json").write_text(json.dumps(lock))
    assert installer.main(["pods-install", str(tmp_path / "lock.json")]) == 1
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith("pods-install: pod base: build_files/base/pod.lock.json: env: name '1BAD': ")


def test_a_lock_with_a_merge_conflict_gets_the_contracts_one_line(installer, tmp_path, capfd):
    (tmp_path / "lock.json").write_text('<<<<<<< HEAD\n{"schema_version": 1}\n')
    assert installer.main(["pods-install", str(tmp_path / "lock.json")]) == 1
    [line] = capfd.readouterr().err.splitlines()
    assert line.startswith(f"pods-install: {tmp_path / 'lock.json'}: line 1: a merge conflict marker")


def test_excluded_file_lists_bare_names_once_after_the_parents(installer, tmp_path):
    excluded = tmp_path / "share" / "excluded"
    installer.record_excluded(["helm", "dotnet-sdk"])  # base
    installer.record_excluded(["k6", "helm"])  # a child excluding by the same list
    assert excluded.read_text() == "dotnet-sdk\nhelm\nk6\n"
    assert pods_contract.parse_excluded(excluded.read_text()) == ["dotnet-sdk", "helm", "k6"]


def test_nothing_excluded_writes_no_file(installer, tmp_path):
    installer.record_excluded([])
    assert not (tmp_path / "share" / "excluded").exists()
