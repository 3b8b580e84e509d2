"""The repo's own locks: every pod.yaml is valid and every lock is fresh (`pods lock --check`).

Needs build_files/*/{pod.yaml,Containerfile,pod.lock.json,pixi.*} where the test runs;
the `repo` target in tests/unit/pods/BUILD puts them in the Pants sandbox.
"""

import json
from pathlib import Path

from pods.cli import main


def test_every_lock_in_the_repo_is_fresh(capsys):
    assert sorted(
        Path("build_files").glob("*/pod.yaml")
    ), "expected build_files/*/pod.yaml where the test runs"
    code = main(["lock", "--check", "--repo", "."])
    out = capsys.readouterr().out
    assert code == 0, out


def test_tensorrt_bindings_match_the_tensorrt_libraries():
    """The Python bindings load only the libnvinfer of their own release: a lock that pairs
    bindings of one release with the library tarball of another breaks `import tensorrt`
    wherever the tarball is installed (not on machines that exclude it, so only this catches it).
    """
    lock = json.loads(Path("build_files/nvidia/pod.lock.json").read_text())
    (bindings,) = (p["version"] for p in lock["pypi"]["packages"] if p["name"] == "tensorrt-cu13-bindings")
    (libraries,) = (v["version"] for v in lock["vendor"] if v["name"] == "tensorrt")
    assert bindings == libraries, f"tensorrt-cu13-bindings {bindings} with TensorRT libraries {libraries}"
