"""The SBOM of an image built without a component does not list it, label or no label.

A real small image on top of rootfs carries a lock naming one vendor component and the
installer's /usr/share/pods/excluded naming it, but no exclusion label (as an image built
by another engine path would): its SBOM must still leave the component out, and name it
once as excluded. Old installers wrote `pod/name`; that spelling reads the same.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import pods_contract
import pytest

from images.harness import engine

sys.path.insert(0, str(Path("src/engine").resolve()))
import sbom  # noqa: E402  (the engine's module, run from the checkout)

VENDOR = {"name": "helm", "version": "3.19.0", "url": "https://example.invalid/helm.tgz", "sha256": "12"}


def image_without(excluded_file: str) -> str:
    """Build rootfs + a `demo` lock with one vendor item + an excluded file; return its ID."""
    rootfs = json.loads(Path("pods/rootfs.docker-info.json").read_text())["image_id"]
    ctx = Path(f"ctx-{uuid.uuid4().hex[:8]}")
    ctx.mkdir()
    lock = {
        "schema_version": pods_contract.SCHEMA_VERSION,
        "pod": "demo",
        "parent": "rootfs",
        "vendor": [VENDOR],
    }
    (ctx / "demo.lock.json").write_text(json.dumps(lock))
    (ctx / "excluded").write_text(excluded_file)
    (ctx / "Containerfile").write_text(
        f"FROM {rootfs}\n"
        f"COPY demo.lock.json {pods_contract.image_lock_path('demo')}\n"
        f"COPY excluded {pods_contract.IMAGE_EXCLUDED_FILE}\n"
    )
    tag = f"localhost/pods-test-sbom-excluded:{uuid.uuid4().hex[:12]}"
    # No layer cache, and the ID from --iidfile: under a loaded CI run the test once read an
    # SBOM that still listed helm, and neither a reused intermediate layer nor a stray line
    # of build output may stand between this test and the image it just built.
    iidfile = (ctx / "iid").resolve()
    engine(
        "build",
        "--no-cache",
        "--iidfile",
        str(iidfile),
        "--tag",
        tag,
        "--file",
        str(ctx / "Containerfile"),
        str(ctx),
    )
    image = iidfile.read_text().strip().removeprefix("sha256:")
    shown = engine("run", "--rm", "--entrypoint", "cat", image, pods_contract.IMAGE_EXCLUDED_FILE).stdout
    assert shown == excluded_file, f"the image built for this test lacks its own excluded file: {shown!r}"
    return image


@pytest.mark.parametrize("excluded_file", ["helm\n", "demo/helm\n"], ids=["bare", "pod-qualified"])
def test_a_component_the_image_lacks_is_not_in_its_sbom_without_the_label(excluded_file: str) -> None:
    image = image_without(excluded_file)
    try:
        labels = json.loads(engine("image", "inspect", "--format", "{{json .Labels}}", image).stdout) or {}
        # rootfs's own (empty) label is inherited; nothing says helm but the file.
        assert "helm" not in pods_contract.parse_excluded(labels.get(pods_contract.EXCLUDED_LABEL, ""))

        document = json.loads(sbom.sbom_for_image(image))
        assert [c for c in document["components"] if c["name"] == "helm"] == []
        assert document["components"]  # rootfs's own packages are still listed
        properties = [(p["name"], p["value"]) for p in document["metadata"]["component"]["properties"]]
        assert (pods_contract.EXCLUDED_LABEL, "helm") in properties
        assert [p for p in properties if p[0] == f"{pods_contract.LABEL_PREFIX}.absent"] == [
            (f"{pods_contract.LABEL_PREFIX}.absent", "helm")
        ]
        assert (f"{pods_contract.LABEL_PREFIX}.lock", "demo") in properties
    finally:
        engine("rmi", "--force", image, check=False)
