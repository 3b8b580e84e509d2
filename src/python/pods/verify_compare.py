"""`pods verify`'s verdict on one pod: is the rebuilt image bit-for-bit its reference, and if
not, where first. Input key first (different inputs are not a reproducibility failure), then
image ID (the config digest) and every layer's diff ID; a differing layer the pod itself made
is explained by the build step that made it and the first files that differ in it, since a
bare digest mismatch gives a user nothing to fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pods import layers
from pods.verify_images import Image, Manifest

FILES_SHOWN = 20


@dataclass(frozen=True)
class Verdict:
    pod: str
    ok: bool
    lines: tuple[str, ...]
    first: str = ""  # where it first differs, for the closing line


def compare(
    pod: str,
    reference: Image,
    rebuilt: Image,
    inherited: int = 0,
    files: int = FILES_SHOWN,
    every_layer: bool = False,
) -> Verdict:
    """Is `rebuilt` bit-for-bit `reference`? If not, say where, as precisely as the images tell.

    `inherited`: how many bottom layers come from the parent; a difference there is the
    parent's and is reported with it, so the pod's own first differing layer is explained.
    `every_layer`: explain each of its differing layers file by file, not just the first.
    """
    if reference.key != rebuilt.key:
        return _inputs_differ(pod, reference, rebuilt)
    count = len(rebuilt.diff_ids)
    if reference.image_id == rebuilt.image_id:
        return Verdict(pod, True, (f"{pod}: reproducible (image {rebuilt.image_id[:12]}, {count} layers)",))
    differing = [
        i
        for i in range(max(len(reference.diff_ids), count))
        if _at(reference.diff_ids, i) != _at(rebuilt.diff_ids, i)
    ]
    head = f"{pod}: DIFFERS: image {reference.image_id[:12]} (reference) vs {rebuilt.image_id[:12]} (rebuilt)"
    if not differing:
        what = ", ".join(_config_differences(reference.config, rebuilt.config)) or "bytes of the config"
        return Verdict(
            pod, False, (f"{head}; all {count} layers match; the image config differs in: {what}",), pod
        )
    own = [i for i in differing if i >= inherited]
    listed = ", ".join(map(str, differing))
    head += f"; layers differ: {listed} (of {len(reference.diff_ids)} / {count})"
    if not own:
        return Verdict(pod, False, (f"{head}: only layers of its parent; its own layers match",), pod)
    return _own_layers_differ(pod, head, reference, rebuilt, own, files, every_layer)


def _inputs_differ(pod: str, reference: Image, rebuilt: Image) -> Verdict:
    return Verdict(
        pod,
        False,
        (
            f"{pod}: INPUTS DIFFER: input key {_short(reference.key)} (reference) vs "
            f"{_short(rebuilt.key)} (rebuilt): the two were built from different inputs, which "
            f"is not a reproducibility failure; rebuild the reference from this tree "
            f"(./pants package build_files/{pod}:{pod}) or check out the reference's commit",
        ),
        f"{pod} inputs",
    )


def _own_layers_differ(
    pod: str,
    head: str,
    reference: Image,
    rebuilt: Image,
    own: Sequence[int],
    files: int,
    every_layer: bool,
) -> Verdict:
    """The first of the pod's own differing layers explained file by file (each of them with
    `every_layer`); the rest named by the step that made them."""
    index = own[0]
    explained = own if every_layer else own[:1]
    # One pass over each image for every layer explained.
    old, new = reference.manifests(explained), rebuilt.manifests(explained)
    lines = [head]
    for i in own:
        if i in old:
            title = "first differing layer" if i == index else "also differs: layer"
            lines += layer_report(reference, rebuilt, i, old[i], new[i], files, title)
        else:
            lines.append(f"  also differs: layer {i}, made by: {_step(_at(rebuilt.steps, i))}")
    return Verdict(pod, False, tuple(lines), f"{pod} layer {index}")


def _at(items: Sequence[str], index: int) -> str | None:
    return items[index] if index < len(items) else None


def _short(key: str | None) -> str:
    return key[:12] if key else "(none: no input-key label)"


def _config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [name for name in ("created", "labels", "config") if old.get(name) != new.get(name)]
    for i, (a, b) in enumerate(zip(old.get("history", []), new.get("history", []), strict=False)):
        if a != b:
            parts = [
                what for what, x, y in zip(("created", "created_by", "comment"), a, b, strict=True) if x != y
            ]
            out.append(f"history[{i}] {'/'.join(parts)}")
            break  # the first is enough to act on; the rest are usually the same cause
    if len(old.get("history", [])) != len(new.get("history", [])):
        out.append("history length")
    return out


def layer_report(
    reference: Image, rebuilt: Image, index: int, old: Manifest, new: Manifest, files: int, title: str
) -> list[str]:
    lines = [
        f"  {title} {index}: {_at(reference.diff_ids, index) or 'none'} (reference) "
        f"vs {_at(rebuilt.diff_ids, index) or 'none'} (rebuilt)",
    ]
    made_ref, made_new = _at(reference.steps, index), _at(rebuilt.steps, index)
    lines.append(f"  made by: {_step(made_new or made_ref)}")
    if made_ref and made_new and made_ref != made_new:
        lines.append(f"  (reference's step: {_step(made_ref)})")
    changes = layers.diff(old, new)
    if not changes:
        lines.append(
            "  no file differs in path, type, mode, owner, size, content, link or mtime: "
            "the tars differ in entry order or headers"
        )
    else:
        clock = sum(1 for c in changes if layers.mtime_only(c))
        lines.append(
            f"  paths that differ in it: {len(changes)}" + (f" ({clock} only in mtime)" if clock else "")
        )
        lines += [f"    {line}" for line in layers.summarize(layers.content_first(changes), files)]
    return lines


def _step(created_by: str | None, width: int = 160) -> str:
    text = " ".join((created_by or "(no history entry)").split())
    return text if len(text) <= width else text[: width - 3] + "..."
