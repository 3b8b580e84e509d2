"""`pods graph`: the Mermaid family chart, its sizes record and README's copy of it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from unit.pods.helpers import error_line, write_pod

from pods import chart
from pods.cli import main
from pods.sizes import SIZES_FILE

README = f"# pods\n\n{chart.BEGIN}\nold chart\n{chart.END}\n\nafter\n"


@pytest.fixture
def family(tmp_path: Path) -> Path:
    write_pod(tmp_path, "rootfs", "description: the root\n")
    write_pod(tmp_path, "base", "description: tools\n", parent="rootfs")
    write_pod(tmp_path, "nvidia-python", 'description: "PyTorch \\"cu13\\""\n', parent="base")
    (tmp_path / "docs").mkdir()
    (tmp_path / SIZES_FILE).write_text(
        json.dumps(
            {
                "rootfs": {"compressed_gb": 0.05, "uncompressed_gb": 0.16},
                "base": {"compressed_gb": None, "uncompressed_gb": 2.4},
            }
        )
    )
    (tmp_path / "README.md").write_text(README)
    return tmp_path


def graph_cli(repo: Path, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["graph", *args, "--repo", str(repo)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_chart_labels_each_pod_with_its_sizes_and_unknowns_as_question_marks(family, capsys):
    code, out, _ = graph_cli(family, capsys)
    assert code == 0
    assert out == (
        "```mermaid\n"
        "flowchart TD\n"
        '    rootfs["<b>rootfs</b><br/>the root<br/>0.05 GB download, 0.16 GB on disk"]\n'
        '    base["<b>base</b><br/>tools<br/>? GB download, 2.40 GB on disk"]\n'
        '    nvidia_python["<b>nvidia-python</b><br/>PyTorch #quot;cu13#quot;<br/>'
        '? GB download, ? GB on disk"]\n'
        "    rootfs --> base\n"
        "    base --> nvidia_python\n"
        "```\n"
    )


def test_write_readme_replaces_only_the_block(family, capsys):
    code, out, _ = graph_cli(family, capsys, "--write-readme")
    assert code == 0
    assert (family / "README.md").read_text() == README.replace("old chart\n", out)
    assert chart.current_block(family) == out


@pytest.mark.parametrize("text", ["# no markers\n", README + chart.END + "\n"])
def test_missing_or_doubled_markers_are_one_line_naming_readme(family, capsys, text):
    (family / "README.md").write_text(text)
    code, _, err = graph_cli(family, capsys, "--write-readme")
    assert code == 1
    assert error_line(err).startswith("pods: error: README.md: expected one line '<!-- BEGIN pods graph")
    assert (family / "README.md").read_text() == text


def test_a_bad_size_is_one_line_naming_the_field(family, capsys):
    (family / SIZES_FILE).write_text(json.dumps({"base": {"compressed_gb": "big", "uncompressed_gb": 1}}))
    code, _, err = graph_cli(family, capsys)
    assert code == 1
    assert error_line(err) == (
        f"pods: error: {SIZES_FILE}: base.compressed_gb: expected a size in GB (a number >= 0) or null, "
        "found 'big'; fix it or re-measure"
    )


def fake_tool(folder: Path, name: str, script: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(0o755)
    return str(path)


def fake_engine_and_skopeo(tmp_path: Path, monkeypatch, skopeo: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    engine = fake_tool(
        bin_dir,
        "engine",
        # `image exists` only for base; `image inspect --format {{.Size}}` says 2.5 GB.
        'case "$1 $2" in\n'
        '  "image exists") case "$3" in *pod-base:latest) exit 0;; *) exit 1;; esac;;\n'
        '  "image inspect") echo 2500000000;;\n'
        "esac\n",
    )
    fake_tool(bin_dir, "skopeo", skopeo)
    monkeypatch.setenv("PODS_ENGINE_WRAPPER", engine)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


def test_measure_records_what_the_engine_and_skopeo_report(family, capsys, monkeypatch, tmp_path):
    """Only pods the engine has are measured; the others keep their recorded sizes."""
    # skopeo copy ... dir:<out>: two layers, 0.6 GB and 0.3 GB.
    fake_engine_and_skopeo(
        tmp_path,
        monkeypatch,
        'for a; do out="$a"; done\n'
        'printf \'{"layers": [{"size": 600000000}, {"size": 300000000}]}\' > "${out#dir:}/manifest.json"\n',
    )
    code, out, err = graph_cli(family, capsys, "--measure")
    assert code == 0, err
    assert json.loads((family / SIZES_FILE).read_text()) == {
        "rootfs": {"compressed_gb": 0.05, "uncompressed_gb": 0.16},
        "base": {"compressed_gb": 0.9, "uncompressed_gb": 2.5},
    }
    assert "0.90 GB download, 2.50 GB on disk" in out
    assert "not measured: rootfs" in err and "not measured: nvidia-python" in err


def test_a_failed_measurement_is_one_line_and_records_nothing(family, capsys, monkeypatch, tmp_path):
    before = (family / SIZES_FILE).read_text()
    fake_engine_and_skopeo(tmp_path, monkeypatch, "echo 'no space left on device' >&2; exit 1\n")
    code, _, err = graph_cli(family, capsys, "--measure")
    assert code == 1
    assert error_line(err).startswith("pods: error: pod base: size: measuring ghcr.io/bazzite-ai/")
    assert error_line(err).endswith("failed (no space left on device); nothing was recorded")
    assert (family / SIZES_FILE).read_text() == before
