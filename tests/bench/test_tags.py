"""Both sides of the re-publish push the same tags; moving tags only for complete images."""

from __future__ import annotations

import pytest
from bench.tags import components_problem, plan_from_docker_info, publish_plan, summary, summary_line

KEY = "72c87dd8e8d30f7383837b301b5ccc7389a543e0a0a5da07bd2ee9725afe4a25"
TAGS = ["latest", KEY, "stable", "0.1.0"]


def docker_info(pod: str, tags: list[str]) -> dict:
    repository = f"bazzite-ai-pod-{pod}"
    address = "127.0.0.1:5000/ours"
    return {
        "version": 1,
        "image_id": "cf07",
        "registries": [
            {
                "alias": "bench",
                "address": address,
                "repository": repository,
                "tags": [{"tag": t, "name": f"{address}/{repository}:{t}"} for t in tags],
            }
        ],
    }


def test_an_image_that_lacks_nothing_gets_every_tag_moving_tags_last() -> None:
    plan = publish_plan("rootfs", "bazzite-ai-pod-rootfs", TAGS, "")
    assert plan.tags == ("0.1.0", KEY, "latest", "stable")
    assert plan.withheld == ()


def test_an_image_that_lacks_a_component_gets_only_key_and_version() -> None:
    plan = publish_plan("base", "bazzite-ai-pod-base", TAGS, "helm,dotnet-sdk")
    assert plan.tags == ("0.1.0", KEY)
    assert plan.withheld == ("latest", "stable")
    assert plan.lacks == ("dotnet-sdk", "helm")


def test_both_sides_push_the_same_tag_names_under_their_own_registry_path() -> None:
    plan = plan_from_docker_info("base", docker_info("base", TAGS), "helm")
    ours = [plan.ref("127.0.0.1:5000/ours", t) for t in plan.tags]
    baseline = [plan.ref("127.0.0.1:5000/baseline", t) for t in plan.tags]
    assert ours == [f"127.0.0.1:5000/ours/bazzite-ai-pod-base:{t}" for t in ("0.1.0", KEY)]
    assert [r.rsplit(":", 1)[1] for r in baseline] == [r.rsplit(":", 1)[1] for r in ours]
    # Ours' refs are the very names Pants gave the image.
    names = {t["name"] for t in docker_info("base", TAGS)["registries"][0]["tags"]}
    assert set(ours) <= names


def test_an_image_with_only_moving_tags_is_an_error_naming_the_pod() -> None:
    with pytest.raises(ValueError, match="^base: no key or version tag"):
        publish_plan("base", "bazzite-ai-pod-base", ["latest", "stable"], "")


def test_docker_info_with_two_registries_is_an_error() -> None:
    info = docker_info("base", TAGS)
    info["registries"] *= 2
    with pytest.raises(ValueError, match="expected one registry, found 2"):
        plan_from_docker_info("base", info, "")


def test_summary_counts_refusals_apart_from_pushes() -> None:
    plans = [
        publish_plan("rootfs", "bazzite-ai-pod-rootfs", TAGS, ""),
        publish_plan("base", "bazzite-ai-pod-base", TAGS, "helm"),
        publish_plan("devops", "bazzite-ai-pod-devops", TAGS, "helm,k6"),
    ]
    counts = summary(plans)
    assert counts == {
        "images": 3,
        "tags_pushed_per_side": 8,
        "moving_tags_withheld": 4,
        "images_lacking_components": ["base", "devops"],
    }
    assert summary_line(counts) == (
        "re-publish: each side pushed the same 8 tags of 3 images; refused (not pushed by either "
        "side): 4 moving tags of base, devops (they lack components)"
    )


def test_both_sides_leaving_out_the_same_components_is_no_problem() -> None:
    plans = [
        publish_plan("rootfs", "bazzite-ai-pod-rootfs", TAGS, ""),
        publish_plan("devops", "bazzite-ai-pod-devops", TAGS, "helm,k6"),
    ]
    # A named list may name components no benchmarked pod declares.
    assert components_problem(plans, ["helm", "k6", "tensorrt"], ["helm", "k6", "awscli"]) == ""


def test_sides_that_left_out_different_components_are_one_line() -> None:
    plans = [publish_plan("devops", "bazzite-ai-pod-devops", TAGS, "helm")]
    assert components_problem(plans, ["helm", "k6"], ["helm", "k6"]) == (
        "the two sides left out different components: ours helm (its images' labels), "
        "the baseline helm, k6; re-run the bench"
    )
