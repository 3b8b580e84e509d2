import pytest
from unit.pods.helpers import write_pod

from pods.errors import PodsError
from pods.graph import load_graph, parent_from_containerfile


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
