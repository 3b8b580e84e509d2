"""`pods verify POD [--against REF]`: rebuild a pod from scratch and check it is bit-for-bit
the image the user holds (or a registry serves).

The rebuild is what a stranger would do (pods.verify_rebuild): a copy of the working tree,
Pants with empty caches, an empty private engine storage, so nothing built before can stand
in for a build. Then each pod of the chain, root first, is compared with its reference
(pods.verify_compare), read from the user's storage or a registry (pods.verify_images). This
module is the command: which pods, which references, one rebuild, and the closing verdict.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pods.errors import PodsError
from pods.graph import PodGraph, load_graph
from pods.settings import load_settings
from pods.verify_compare import Verdict, compare, layer_report
from pods.verify_images import REGISTRY, Image, Storage, digest_hex, registry_image
from pods.verify_rebuild import copy_tree, image_id_of, rebuild, workspace

# The tests and the scaling harness reach the parts through this module (`verify.compare`, ...).
__all__ = [
    "Image",
    "Storage",
    "Verdict",
    "add_parser",
    "compare",
    "copy_tree",
    "digest_hex",
    "image_id_of",
    "layer_report",
    "references",
    "registry_image",
    "run",
    "verify_chain",
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="rebuild a pod and its ancestors from scratch, in an empty private storage, and "
        "check each is bit-for-bit the reference image (docs/reproducible.md)",
    )
    verify.add_argument(
        "pods",
        nargs="+",
        metavar="POD",
        help="the pods to rebuild, or `all` (their ancestors are rebuilt and checked too; "
        "one rebuild for all of them)",
    )
    verify.add_argument(
        "--against",
        metavar="REF",
        help=f"the reference for POD itself: a local image name or ID, or {REGISTRY}REGISTRY/REPO:TAG "
        "(default: the image the last package run made, by dist/pods/POD.docker-info.json)",
    )
    verify.add_argument(
        "--info-dir",
        type=Path,
        help="where the reference images' docker-info.json files are (default: <repo>/dist/pods)",
    )
    verify.add_argument(
        "--every-layer",
        action="store_true",
        help="explain every differing layer of a pod file by file (default: the first; the rest by step)",
    )
    verify.add_argument(
        "--repo", type=Path, help="the working tree to rebuild (default: the Pants buildroot)"
    )


def say(line: str) -> None:
    print(f"pods verify: {line}", file=sys.stderr, flush=True)


def references(
    chain: Sequence[str],
    info_dir: Path,
    against: str | None,
    local: Storage,
    scratch: Path,
    against_pod: str | None = None,
) -> dict[str, Image]:
    out = {}
    for pod in chain:
        if pod == (against_pod or chain[-1]) and against:
            out[pod] = (
                registry_image(against, scratch) if against.startswith(REGISTRY) else local.image(against)
            )
        else:
            image_id = image_id_of(info_dir, pod)
            try:
                out[pod] = local.image(image_id)
            except PodsError:
                raise PodsError(
                    str(info_dir / f"{pod}.docker-info.json"),
                    f"names image {image_id[:12]}, which the engine does not have; "
                    f"run `./pants package build_files/{pod}:{pod}`",
                ) from None
    return out


def verify_chain(
    repo: Path,
    wrapper: str,
    pod: str | Sequence[str],
    against: str | None,
    info_dir: Path,
    out: Callable[[str], None] = print,
    every_layer: bool = False,
) -> int:
    """Rebuild `pod` (or several, `all` for the family) and every ancestor once, and compare
    each with its reference; 0 only when all match."""
    graph = load_graph(repo)
    wanted = _wanted(graph, pod, against)
    needed = {p for name in wanted for p in (name, *graph.ancestors(name))}
    chain = [p for p in graph.topological() if p in needed]
    title = " ".join(wanted) if len(wanted) < len(graph.pods) else "all"
    local = Storage(wrapper)
    with workspace(wrapper, say) as (work, private):
        # The references are read first: a missing one fails in a second, not after the build.
        refs = references(chain, info_dir, against if against else None, local, work, wanted[-1])
        built = rebuild(repo, chain, work, say)
        verdicts = _compare_chain(graph, chain, refs, built, private, out, every_layer)
    failed = [v for v in verdicts if not v.ok]
    if not failed:
        out(f"pods verify {title}: all {len(chain)} pods reproducible ({', '.join(chain)})")
        return 0
    out(
        f"pods verify {title}: FAILED: {len(failed)} of {len(chain)} pods differ from the reference "
        f"({', '.join(v.first for v in failed)})"
    )
    return 1


def _wanted(graph: PodGraph, pod: str | Sequence[str], against: str | None) -> list[str]:
    """The pods asked for (`all`: the family, root first); an unknown one or an --against for
    several fails here, before anything is copied or built."""
    wanted = [pod] if isinstance(pod, str) else list(pod)
    if wanted == ["all"]:
        wanted = list(graph.topological())
    for name in wanted:
        if name not in graph.pods:
            raise PodsError(
                f"pod {name}", f"no such pod; expected one of {', '.join(graph.topological())}, or all"
            )
    if against and len(wanted) != 1:
        raise PodsError("--against", f"names one pod's reference; name one POD, not {len(wanted)}")
    return wanted


def _compare_chain(
    graph: PodGraph,
    chain: Sequence[str],
    refs: dict[str, Image],
    built: dict[str, str],
    private: Storage,
    out: Callable[[str], None],
    every_layer: bool,
) -> list[Verdict]:
    """Each pod's verdict, root first, each printed as it comes; a pod's layers that its
    parent made are the parent's to answer for."""
    verdicts: list[Verdict] = []
    layer_counts: dict[str, int] = {}
    for name in chain:
        say(f"comparing {name}")
        rebuilt = private.image(built[name])
        parent = graph.parent_of(name)
        inherited = layer_counts.get(parent, 0) if parent else 0
        verdict = compare(name, refs[name], rebuilt, inherited, every_layer=every_layer)
        for line in verdict.lines:
            out(line)
        verdicts.append(verdict)
        layer_counts[name] = len(rebuilt.diff_ids)
    return verdicts


def run(args: argparse.Namespace) -> int:
    repo = args.repo or (Path(os.environ["PODS_BUILDROOT"]) if os.environ.get("PODS_BUILDROOT") else None)
    settings = load_settings(repo)
    info_dir = args.info_dir or settings.repo / "dist/pods"
    return verify_chain(
        settings.repo, settings.engine, args.pods, args.against, info_dir, every_layer=args.every_layer
    )
