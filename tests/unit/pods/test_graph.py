"""The family tree from the Containerfiles, and the prelude's copy of it."""

from pathlib import Path

import pytest
from unit.pods.helpers import error_line, write_pod

from pods.cli import main
from pods.errors import PodsError
from pods.graph import load_graph, parent_from_containerfile
from pods.prelude import PRELUDE, current_table, pod_parents


def test_parent_is_read_from_the_base_image_arg():
    text = "# comment\nARG BASE_IMAGE=build_files/base:base\nFROM $BASE_IMAGE\n"
    assert parent_from_containerfile(text, "f") == "base"
    assert parent_from_containerfile("FROM scratch\n", "f") is None


def test_order_is_parents_first_and_stable(tmp_path):
    write_pod(tmp_path, "root", "description: r\n")
    write_pod(tmp_path, "b", "description: b\n", parent="root")
    write_pod(tmp_path, "a", "description: a\n", parent="b")
    write_pod(tmp_path, "c", "description: c\n", parent="root")
    graph = load_graph(tmp_path)
    assert graph.topological() == ("root", "b", "c", "a")
    assert graph.ancestors("a") == ("b", "root")
    assert graph.descendants("b") == ("a",)


def test_missing_parent_is_an_error_naming_the_containerfile(tmp_path):
    write_pod(tmp_path, "child", "description: c\n", parent="ghost")
    with pytest.raises(PodsError, match=r"build_files/child/Containerfile: .*found 'ghost', which has no"):
        load_graph(tmp_path)


def test_cycle_is_an_error_naming_the_cycle(tmp_path):
    write_pod(tmp_path, "a", "description: a\n", parent="b")
    write_pod(tmp_path, "b", "description: b\n", parent="a")
    with pytest.raises(PodsError, match=r"parent cycle a -> b -> a"):
        load_graph(tmp_path)


def test_prelude_table_is_the_one_pods_graph_writes():
    """build_files/prelude.py's POD_PARENTS is written from the Containerfiles, never by hand:
    on drift, run `./pants run src/python/pods:pods -- graph --write-prelude`."""
    repo = Path(".")
    assert current_table(repo) == pod_parents(load_graph(repo))


def test_write_prelude_replaces_only_the_table(tmp_path, capsys):
    write_pod(tmp_path, "root", "description: r\n")
    write_pod(tmp_path, "kid", "description: k\n", parent="root")
    before, after = "# the prelude\n# the table:\n", "\n\ndef pod(name):\n    pass\n"
    (tmp_path / PRELUDE).write_text(f'{before}POD_PARENTS = (\n    ("old", None),\n){after}')
    assert main(["graph", "--write-prelude", "--repo", str(tmp_path)]) == 0
    capsys.readouterr()
    assert (tmp_path / PRELUDE).read_text() == (
        f'{before}POD_PARENTS = (\n    ("root", None),\n    ("kid", "root"),\n){after}'
    )
    namespace: dict = {}
    exec((tmp_path / PRELUDE).read_text(), namespace)
    assert namespace["POD_PARENTS"] == (("root", None), ("kid", "root"))


def test_a_prelude_without_one_table_is_one_line_and_unchanged(tmp_path, capsys):
    write_pod(tmp_path, "root", "description: r\n")
    (tmp_path / PRELUDE).write_text("# no table\n")
    assert main(["graph", "--write-prelude", "--repo", str(tmp_path)]) == 1
    assert error_line(capsys.readouterr().err) == (
        f"pods: error: {PRELUDE}: expected one `POD_PARENTS = (` table ending at a line `)`, found 0; "
        "restore it from git, then run `pods graph --write-prelude`"
    )
    assert (tmp_path / PRELUDE).read_text() == "# no table\n"


def test_every_chain_of_the_family_fits_the_layer_limit():
    # Each pod's own files are laid out in at most layer_budget(pod) layers (src/engine/rechunk.py).
    from pods_contract import LAYER_BUDGET, MAX_LAYERS, layer_budget

    graph = load_graph(Path.cwd())
    assert set(LAYER_BUDGET) <= set(graph.pods), "a budget names no pod"
    for pod in graph.pods:
        chain = (pod, *graph.ancestors(pod))
        total = sum(layer_budget(p) for p in chain)
        assert total <= MAX_LAYERS, f"{' <- '.join(chain)}: {total} layers"
