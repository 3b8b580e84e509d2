"""The family tree as a Mermaid flowchart with each image's size, and README.md's copy of it.

README's chart sits between two marker comments and is only ever written by
`pods graph --write-readme`; a unit test fails when it differs from `pods graph`.
"""

from __future__ import annotations

from pathlib import Path

from pods.errors import PodsError
from pods.graph import PodGraph
from pods.sizes import SIZES_FILE, Size

README = "README.md"
BEGIN = "<!-- BEGIN pods graph: written by `pods graph --write-readme` from the Containerfiles and "
BEGIN += f"{SIZES_FILE}; do not edit by hand -->"
END = "<!-- END pods graph -->"


def _gb(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f}"


def _node_id(pod: str) -> str:
    # Mermaid reads `-` next to a node name as part of an edge.
    return pod.replace("-", "_")


def mermaid(graph: PodGraph, descriptions: dict[str, str], sizes: dict[str, Size]) -> str:
    """A fenced ```mermaid block: one node per pod (parents first), one edge per parent."""
    lines = ["```mermaid", "flowchart TD"]
    for pod in graph.topological():
        size = sizes.get(pod, Size(None, None))
        label = (
            f"<b>{pod}</b><br/>{descriptions[pod]}<br/>"
            f"{_gb(size.compressed_gb)} GB download, {_gb(size.uncompressed_gb)} GB on disk"
        )
        lines.append(f'    {_node_id(pod)}["{label.replace(chr(34), "#quot;")}"]')
    for pod in graph.topological():
        parent = graph.parent_of(pod)
        if parent is not None:
            lines.append(f"    {_node_id(parent)} --> {_node_id(pod)}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def readme_block(readme_text: str) -> tuple[int, int]:
    """Offsets of the text between the markers (after BEGIN's line, up to END)."""
    if readme_text.count(BEGIN) != 1 or readme_text.count(END) != 1:
        raise PodsError(
            README,
            f"expected one line {BEGIN!r} and one line {END!r} around the family chart; "
            "restore them from git, then run `pods graph --write-readme`",
        )
    start = readme_text.index(BEGIN) + len(BEGIN) + 1
    end = readme_text.index(END)
    if end < start:
        raise PodsError(README, "the END marker of the family chart comes before its BEGIN marker")
    return start, end


def current_block(repo: Path) -> str:
    text = (repo / README).read_text()
    start, end = readme_block(text)
    return text[start:end]


def with_block(readme_text: str, block: str) -> str:
    start, end = readme_block(readme_text)
    return readme_text[:start] + block + readme_text[end:]
