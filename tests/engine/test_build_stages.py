"""The build pipeline's stages on their own: the request, the exclusion plan, the input key
and the ladder that finds an existing image, decided from files without the engine."""

from __future__ import annotations

import json
from pathlib import Path

import existing_image
import local_index
import pods_contract
import pytest
from exclusions import exclusions
from input_key import input_key
from request import parse_build

LISTS = '[offline]\nhelm = "vendor site unreachable"\ndotnet-sdk = "vendor site unreachable"\n'


def context(tmp_path: Path, vendor: tuple[str, ...] = ("helm", "kind")) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "build_files/devops").mkdir(parents=True)
    (ctx / "build_files/devops/Containerfile").write_text("FROM scratch\n")
    (ctx / "build_files/exclusions.toml").write_text(LISTS)
    lock = {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": "devops",
        "vendor": [{"name": v} for v in vendor],
    }
    (ctx / "build_files/devops/pod.lock.json").write_text(json.dumps(lock))
    return ctx


def argv(ctx: Path, *extra: str) -> list[str]:
    return [*extra, "--file", str(ctx / "build_files/devops/Containerfile"), str(ctx)]


def test_the_request_reads_what_pants_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_VERSION", "0.1.0")
    ctx = context(tmp_path)
    request = parse_build(
        argv(
            ctx, "--tag", "ghcr.io/o/p:1", "-t", "ghcr.io/o/p:latest", "--build-arg", "POD_VERSION", "--pull"
        )
    )
    assert request.tags == ("ghcr.io/o/p:1", "ghcr.io/o/p:latest")
    assert request.build_args == {"POD_VERSION": "0.1.0"}
    assert (request.pod, request.repository, request.passthrough) == ("devops", "ghcr.io/o/p", ("--pull",))


@pytest.mark.parametrize("value", ["", "none"])
def test_no_exclusion_list_builds_every_component(tmp_path: Path, value: str) -> None:
    ctx = context(tmp_path)
    request = parse_build(argv(ctx, "--build-arg", f"PODS_EXCLUSIONS={value}"))
    assert exclusions(request).build_args() == []
    # `none` and empty mean the same image, so they share one input key.
    assert input_key(request) == input_key(parse_build(argv(ctx, "--build-arg", "PODS_EXCLUSIONS=")))


def test_an_exclusion_list_labels_bare_names_of_what_the_image_lacks(tmp_path: Path) -> None:
    plan = exclusions(parse_build(argv(context(tmp_path), "--build-arg", "PODS_EXCLUSIONS=offline")))
    assert plan.build_args() == [
        "--build-arg",
        "PODS_EXCLUDE=dotnet-sdk,helm",
        "--label",
        f"{pods_contract.LIST_LABEL}=offline",
        "--label",
        f"{pods_contract.EXCLUDED_LABEL}=helm",
    ]


def test_the_input_key_follows_the_context_and_nothing_else(tmp_path: Path) -> None:
    ctx = context(tmp_path)
    first = input_key(parse_build(argv(ctx, "--tag", "localhost/a:1")))
    assert input_key(parse_build(argv(ctx, "--tag", "localhost/b:2"))) == first
    (ctx / "build_files/devops/pod.yaml").write_text("debian: {packages: [jq]}\n")
    assert input_key(parse_build(argv(ctx))) != first


@pytest.fixture
def storage(tmp_path: Path, temp_dir: Path, monkeypatch: pytest.MonkeyPatch, no_engine: None) -> Path:
    """A podman image list (images.json) the engine has already located."""
    images = tmp_path / "images.json"
    images.write_text(
        json.dumps([{"id": "1" * 64, "names": ["localhost/p:" + "a" * 64, "localhost/p:latest"]}])
    )
    monkeypatch.setattr(local_index, "images_file", lambda ask: images)
    return images


def test_the_no_op_path_finds_the_recorded_content_tag_without_the_engine(
    tmp_path: Path, storage: Path
) -> None:
    ctx = context(tmp_path)
    tags = ("localhost/p:" + "a" * 64, "localhost/p:latest")
    local_index.record_image(tags, "sha256:" + "1" * 64, "k" * 64)
    found = existing_image.find_existing(parse_build(argv(ctx, "--tag", tags[0], "--tag", tags[1])))
    assert found == existing_image.Existing("1" * 64, "k" * 64, tags=tags, recorded=True)


def test_the_key_index_finds_an_image_under_another_tag_and_knows_a_missing_one(
    tmp_path: Path, storage: Path
) -> None:
    ctx = context(tmp_path)
    request = parse_build(argv(ctx, "--tag", "localhost/q:" + "b" * 64))
    (local_index.key_index() / ("k" * 64)).write_text("1" * 64)
    found = existing_image.find_existing(request, "k" * 64)
    assert (found.image, found.key, found.tags) == (
        "1" * 64,
        "k" * 64,
        ("localhost/p:" + "a" * 64, "localhost/p:latest"),
    )
    # A key the index does not hold is not here: no engine is asked (no_engine would fail).
    assert existing_image.find_existing(request, "m" * 64) is None


def test_the_parent_is_the_last_from_with_build_args_or_arg_defaults(tmp_path):
    from request import BuildRequest

    def parent(text: str, args: dict[str, str]) -> str | None:
        path = tmp_path / "Containerfile"
        path.write_text(text)
        return BuildRequest((), args, str(path), str(tmp_path), ()).parent()

    pod = "ARG BASE_IMAGE=build_files/base:base\nFROM $BASE_IMAGE\nRUN true\n"
    assert parent(pod, {"BASE_IMAGE": "ghcr.io/x/base:1"}) == "ghcr.io/x/base:1"
    assert parent(pod, {}) == "build_files/base:base"
    assert parent("FROM scratch\nADD a /\n", {}) is None
    assert parent("FROM a AS build\nFROM --platform=linux/amd64 ${B}\n", {"B": "img:2"}) == "img:2"


def test_pods_plain_takes_keep_or_drop_and_names_anything_else(monkeypatch):
    import pytest
    from engine_binary import EngineError
    from pods_engine import plain_setting

    monkeypatch.delenv("PODS_PLAIN", raising=False)
    assert plain_setting() == "keep"
    monkeypatch.setenv("PODS_PLAIN", "drop")
    assert plain_setting() == "drop"
    monkeypatch.setenv("PODS_PLAIN", "maybe")
    with pytest.raises(EngineError) as e:
        plain_setting()
    assert str(e.value) == "PODS_PLAIN=maybe: expected keep or drop; unset it to keep the plain build"


def test_layers_are_read_from_overlay_storage_only(monkeypatch):
    import layer_store
    import pytest
    from engine_binary import ENGINE, EngineError

    monkeypatch.setattr(
        ENGINE, "inspect", lambda ref: {"GraphDriver": {"Name": "vfs"}, "RootFS": {"Layers": []}}
    )
    with pytest.raises(EngineError) as e:
        layer_store.image_layers("0123456789abcdef")
    assert "driver is vfs; use the overlay driver" in str(e.value)
