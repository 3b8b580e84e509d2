"""Affected pods as CI waves: each wave's jobs run in parallel, a wave after the one before.

The document `pods ci-matrix` prints (README.md, "CI"):

    {"pods": ["base", ...],                 # every affected pod, parents first
     "wave_count": 5,                       # waves the graph can need: its longest chain
     "waves": [{"include": [JOB, ...]}, ...]}  # non-empty waves only, in order

    JOB = {"pod": "nvidia", "parent": "base", "target": "build_files/nvidia:nvidia",
           "tests": "tests/images/rootfs:nvidia tests/images/base:nvidia tests/images/nvidia:nvidia",
           "parent_built": true}

Each `waves[i]` is a GitHub Actions `strategy.matrix` as is. A pod's wave is one more than
the number of its affected ancestors: it waits only for parents this run rebuilds, and a
parent that is not rebuilt is pulled from the cache registry by its input key. So wave
k+1 is empty whenever wave k is, and the waves a run needs are always the first ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pods.affected import image_test_targets, pod_target
from pods.graph import PodGraph


def wave_count(graph: PodGraph) -> int:
    """Pods on the longest root-to-leaf chain: the most waves any change can need."""
    return max((len(graph.ancestors(p)) + 1 for p in graph.pods), default=0)


def waves(graph: PodGraph, affected: tuple[str, ...]) -> list[list[str]]:
    chosen = set(affected)
    out: list[list[str]] = []
    for pod in graph.topological():
        if pod in chosen:
            wave = sum(1 for a in graph.ancestors(pod) if a in chosen)
            while len(out) <= wave:
                out.append([])
            out[wave].append(pod)
    return out


def job(graph: PodGraph, pod: str, affected: tuple[str, ...], repo: Path) -> dict[str, Any]:
    parent = graph.parent_of(pod)
    return {
        "pod": pod,
        "parent": parent,
        "target": pod_target(pod),
        # One string: a matrix value is pasted into a shell command line as is.
        "tests": " ".join(image_test_targets(graph, pod, repo)),
        "parent_built": parent in affected,
    }


def ci_matrix(graph: PodGraph, affected: tuple[str, ...], repo: Path) -> dict[str, Any]:
    return {
        "pods": list(affected),
        "wave_count": wave_count(graph),
        "waves": [
            {"include": [job(graph, pod, affected, repo) for pod in wave]} for wave in waves(graph, affected)
        ],
    }


def github_outputs(matrix: dict[str, Any]) -> str:
    """`key=value` lines for $GITHUB_OUTPUT: the whole plan, and wave1..waveN (empty when unused).

    A workflow declares its job outputs by name, so every possible wave gets a line.
    """
    lines = [f"matrix={json.dumps(matrix, separators=(',', ':'))}"]
    for i in range(matrix["wave_count"]):
        wave = matrix["waves"][i] if i < len(matrix["waves"]) else None
        lines.append(f"wave{i + 1}={json.dumps(wave, separators=(',', ':')) if wave else ''}")
    return "\n".join(lines) + "\n"
