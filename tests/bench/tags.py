"""Which tags each side of the re-publish pushes: the same ones, decided once per image.

Ours never moves `latest`/`stable` to an image whose EXCLUDED_LABEL names a component (it
refuses the push); so for such an image neither side pushes them, and the bench counts them
as withheld rather than as pushes. An image that lacks nothing gets every tag on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pods_contract import MOVING_TAGS, parse_excluded


@dataclass(frozen=True)
class PublishPlan:
    pod: str
    repository: str  # e.g. bazzite-ai-pod-base
    tags: tuple[str, ...]  # pushed by both sides: key and version first, moving tags last
    withheld: tuple[str, ...]  # moving tags neither side pushes: the image lacks components
    lacks: tuple[str, ...]  # what the image and its ancestors are built without

    def ref(self, registry_path: str, tag: str) -> str:
        return f"{registry_path}/{self.repository}:{tag}"


def publish_plan(pod: str, repository: str, tags: Iterable[str], excluded_label: str) -> PublishPlan:
    """The plan for one image, from the tags Pants gave it and its EXCLUDED_LABEL value."""
    tags = set(tags)
    fixed = sorted(tags - set(MOVING_TAGS))
    if not fixed:
        raise ValueError(f"{pod}: no key or version tag among {sorted(tags)}; expected the pod macro's tags")
    moving = [t for t in MOVING_TAGS if t in tags]
    lacks = tuple(parse_excluded(excluded_label))
    return PublishPlan(
        pod=pod,
        repository=repository,
        tags=tuple(fixed if lacks else fixed + moving),
        withheld=tuple(moving if lacks else ()),
        lacks=lacks,
    )


def plan_from_docker_info(pod: str, info: dict, excluded_label: str) -> PublishPlan:
    """The plan from Pants' `<pod>.docker-info.json` (one registry: the bench's)."""
    registries = info.get("registries") or []
    if len(registries) != 1:
        raise ValueError(f"{pod}.docker-info.json: expected one registry, found {len(registries)}")
    registry = registries[0]
    return publish_plan(pod, registry["repository"], [t["tag"] for t in registry["tags"]], excluded_label)


def components_problem(
    plans: list[PublishPlan], baseline_excluded: Iterable[str], declared: Iterable[str]
) -> str:
    """One line if ours' images lack other declared components than the baseline left out
    (two probes that disagreed): the two sides would not build the same images."""
    ours = {name for p in plans for name in p.lacks}
    baseline = set(baseline_excluded) & set(declared)
    if ours == baseline:
        return ""
    return (
        f"the two sides left out different components: ours {', '.join(sorted(ours)) or 'none'} "
        f"(its images' labels), the baseline {', '.join(sorted(baseline)) or 'none'}; re-run the bench"
    )


def summary(plans: list[PublishPlan]) -> dict:
    """What the re-publish pushed, per side, and what it withheld (refused, not pushed)."""
    lacking = [p.pod for p in plans if p.withheld]
    return {
        "images": len(plans),
        "tags_pushed_per_side": sum(len(p.tags) for p in plans),
        "moving_tags_withheld": sum(len(p.withheld) for p in plans),
        "images_lacking_components": lacking,
    }


def summary_line(counts: dict) -> str:
    lacking = counts["images_lacking_components"]
    line = (
        f"re-publish: each side pushed the same {counts['tags_pushed_per_side']} tags of "
        f"{counts['images']} images; refused (not pushed by either side): "
        f"{counts['moving_tags_withheld']} moving tags"
    )
    return line + (f" of {', '.join(lacking)} (they lack components)" if lacking else "")
