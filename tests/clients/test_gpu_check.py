"""pods-gpu-check (build_files/nvidia): says plainly when no GPU is visible; --require fails then.

Run here without an image, as the host's python runs the script on a machine without a GPU
(paths pointed at nothing); the GPU-only tests run the command in a CUDA pod on a GPU host.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path("build_files/nvidia/pods-gpu-check.py")


@pytest.fixture
def check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("pods_gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    monkeypatch.setattr(module, "PROC_VERSION", tmp_path / "no-driver")
    monkeypatch.setattr(module, "DEVICE_GLOB", str(tmp_path / "nvidia[0-9]*"))
    return module, tmp_path


def test_no_gpu_is_said_plainly_and_exits_0(check, capsys) -> None:
    module, _ = check
    assert module.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("driver: none") and out[2].startswith("devices: none")
    assert out[-1] == "no GPU visible"


def test_require_exits_1_without_a_gpu(check, capsys) -> None:
    module, _ = check
    assert module.main(["--require"]) == 1
    assert capsys.readouterr().out.splitlines()[-1] == "no GPU visible"


def test_a_driver_and_device_node_make_a_visible_gpu(check, capsys, monkeypatch) -> None:
    module, tmp_path = check
    (tmp_path / "no-driver").write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.95.05\n")
    (tmp_path / "nvidia0").touch()
    monkeypatch.setattr(module, "cuda_device_count", lambda: 1)
    assert module.main(["--require"]) == 0
    out = capsys.readouterr().out
    assert "580.95.05" in out and "nvidia0" in out and "no GPU visible" not in out


def test_bad_arguments_are_a_usage_line(check, capsys) -> None:
    module, _ = check
    assert module.main(["--frob"]) == 2
    assert capsys.readouterr().err == "usage: pods-gpu-check [--require]\n"
