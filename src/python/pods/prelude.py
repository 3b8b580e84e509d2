"""build_files/prelude.py's POD_PARENTS table, written from the family tree.

BUILD macros cannot read files, so the prelude carries a copy of the tree the
Containerfiles declare (their `ARG BASE_IMAGE=` lines, the truth). The copy is only ever
written by `pods graph --write-prelude`; a unit test fails when it differs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pods_contract import BUILD_FILES

from pods.errors import PodsError
from pods.graph import PodGraph

PRELUDE = f"{BUILD_FILES}/prelude.py"
# The table: from its `POD_PARENTS = (` line to the first line that is just `)`.
_TABLE = re.compile(r"^POD_PARENTS = \(\n(?:[ #].*\n|\n)*?\)\n", re.M)


def pod_parents(graph: PodGraph) -> str:
    """The table as Python (parents first), formatted as black formats it."""
    rows = "".join(
        f"    ({json.dumps(pod)}, {json.dumps(graph.parent_of(pod)) if graph.parent_of(pod) else None}),\n"
        for pod in graph.topological()
    )
    return f"POD_PARENTS = (\n{rows})\n"


def _span(text: str) -> tuple[int, int]:
    found = list(_TABLE.finditer(text))
    if len(found) != 1:
        raise PodsError(
            PRELUDE,
            f"expected one `POD_PARENTS = (` table ending at a line `)`, found {len(found)}; "
            "restore it from git, then run `pods graph --write-prelude`",
        )
    return found[0].span()


def current_table(repo: Path) -> str:
    start, end = _span((repo / PRELUDE).read_text())
    return (repo / PRELUDE).read_text()[start:end]


def with_table(prelude_text: str, table: str) -> str:
    start, end = _span(prelude_text)
    return prelude_text[:start] + table + prelude_text[end:]
