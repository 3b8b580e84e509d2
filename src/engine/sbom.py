"""A CycloneDX 1.5 SBOM for a pod image, derived from the locks the image carries.

Every pod image holds /usr/share/pods/<pod>.lock.json for itself and each ancestor (see
docs/lockfile.md), so the image's bill of materials is read out of the image itself, not
out of the working tree: an SBOM can never describe a lock the image was not built from.

One component per locked Debian package, PyPI release, npm package and vendor artifact,
with the hashes the lock pins. Components the image was built without (the exclusion
label, see build_files/exclusions.toml) are not listed as present; the image component
names them in a property instead. The output is deterministic: sorted, and its one
timestamp is the image's creation time, so the same image always gets the same bytes.

    python3 src/engine/sbom.py <image> [-o sbom.json]

Standard library only: it runs on the host's python3 under Pants' `env -i`.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import checkout  # noqa: F401  (puts pods_contract on the path)
from engine_binary import ENGINE, EngineError
from pods_contract import (
    EXCLUDED_LABEL,
    IMAGE_LOCK_DIR,
    KEY_LABEL,
    LABEL_PREFIX,
    LIST_LABEL,
    TITLE_LABEL,
    VERSION_LABEL,
    ContractError,
    parse_excluded,
    read_image_locks,
    render_excluded,
)

PROPERTY = LABEL_PREFIX
TOOL_VERSION = "1"
# uuid5 namespace for serial numbers: the same image always gets the same serial.
SERIAL_NAMESPACE = uuid.UUID("5b0d3c1e-8f47-4a52-9a59-3f2f0c6a1d70")


class SbomError(EngineError):
    """One line for the user: what failed, and what to do."""


# --- reading the image ------------------------------------------------------------------


def read_locks(image: str) -> tuple[dict[str, dict], list[str]]:
    """The lock files under /usr/share/pods of `image`, by pod, and the names listed in
    its /usr/share/pods/excluded (what the installer skipped)."""
    # A created (never started) container is the portable way in: `podman image mount`
    # needs root, and a run would start the pod's entrypoint.
    container = ENGINE.podman("create", "--quiet", image).stdout.strip()
    try:
        with tempfile.TemporaryDirectory(prefix="pods-sbom-") as tmp:
            ENGINE.podman("cp", f"{container}:{IMAGE_LOCK_DIR}", tmp)
            try:
                locks, excluded = read_image_locks(Path(tmp, Path(IMAGE_LOCK_DIR).name), image[:12])
            except ContractError as e:
                raise SbomError(str(e)) from None
    finally:
        ENGINE.podman("rm", "--force", container, check=False)
    if not locks:
        raise SbomError(f"{image}: no {IMAGE_LOCK_DIR}/*.lock.json in the image; is it a pod image?")
    return locks, excluded


# --- components ---------------------------------------------------------------------------


def _purl_part(text: str) -> str:
    # As packageurl-python encodes: everything but unreserved characters, and ':' kept.
    return quote(text, safe="").replace("%3A", ":")


def _property(name: str, value: str) -> dict:
    return {"name": f"{PROPERTY}.{name}", "value": value}


def debian_components(pod: str, section: dict) -> list[dict]:
    suite = section.get("suite")
    out = []
    for p in section.get("packages", []):
        arch = p.get("architecture") or section.get("architecture", "")
        qualifiers = "&".join(f"{k}={_purl_part(v)}" for k, v in (("arch", arch), ("distro", suite)) if v)
        purl = f"pkg:deb/debian/{_purl_part(p['name'])}@{_purl_part(p['version'])}"
        out.append(
            {
                "type": "library",
                "bom-ref": purl + (f"?{qualifiers}" if qualifiers else ""),
                "name": p["name"],
                "version": p["version"],
                "purl": purl + (f"?{qualifiers}" if qualifiers else ""),
                "hashes": [{"alg": "SHA-256", "content": p["sha256"]}] if p.get("sha256") else [],
                "properties": [_property("pod", pod), _property("ecosystem", "debian")],
            }
        )
    return out


def _pypi_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_components(pod: str, section: dict) -> list[dict]:
    out = []
    for p in section.get("packages", []):
        purl = f"pkg:pypi/{_purl_part(_pypi_name(p['name']))}@{_purl_part(p['version'])}"
        # The lock pins every file of the release (pip installs whichever one fits), so
        # each is a valid hash of this component.
        hashes = sorted({h.split(":", 1)[1] for h in p.get("hashes", []) if h.startswith("sha256:")})
        out.append(
            {
                "type": "library",
                "bom-ref": purl,
                "name": p["name"],
                "version": p["version"],
                "purl": purl,
                "hashes": [{"alg": "SHA-256", "content": h} for h in hashes],
                "properties": [_property("pod", pod), _property("ecosystem", "pypi")],
            }
        )
    return out


_SRI_ALGS = {"sha512": "SHA-512", "sha384": "SHA-384", "sha256": "SHA-256", "sha1": "SHA-1"}


def _sri_hashes(integrity: str) -> list[dict]:
    hashes = []
    for item in integrity.split():
        alg, _, b64 = item.partition("-")
        if alg in _SRI_ALGS and b64:
            hashes.append({"alg": _SRI_ALGS[alg], "content": base64.b64decode(b64).hex()})
    return hashes


def npm_components(pod: str, section: dict) -> list[dict]:
    out = {}
    packages = (section.get("package_lock") or {}).get("packages") or {}
    for path, entry in packages.items():
        # "" is the scratch project npm resolved in; links point at another entry.
        if not path or entry.get("link") or "version" not in entry:
            continue
        name = entry.get("name") or path.rsplit("node_modules/", 1)[-1]
        scope, _, base = name.rpartition("/")
        namespace = f"{_purl_part(scope)}/" if scope else ""
        purl = f"pkg:npm/{namespace}{_purl_part(base)}@{_purl_part(entry['version'])}"
        # npm installs one name@version in several places when dependents disagree;
        # it is one component.
        out.setdefault(
            purl,
            {
                "type": "library",
                "bom-ref": purl,
                "name": name,
                "version": entry["version"],
                "purl": purl,
                "hashes": _sri_hashes(entry.get("integrity", "")),
                "properties": [_property("pod", pod), _property("ecosystem", "npm")],
            },
        )
    return list(out.values())


def vendor_components(pod: str, items: list) -> list[dict]:
    out = []
    for item in items:
        purl = (
            f"pkg:generic/{_purl_part(item['name'])}@{_purl_part(item['version'])}"
            f"?download_url={_purl_part(item['url'])}"
        )
        out.append(
            {
                "type": "application",
                "bom-ref": purl,
                "name": item["name"],
                "version": item["version"],
                "purl": purl,
                "hashes": [{"alg": "SHA-256", "content": item["sha256"]}] if item.get("sha256") else [],
                "externalReferences": [{"type": "distribution", "url": item["url"]}],
                "properties": [_property("pod", pod), _property("ecosystem", "vendor")],
            }
        )
    return out


def lock_components(pod: str, lock: dict, excluded: set[str]) -> tuple[list[dict], list[str]]:
    """(components the image holds, names of locked components it was built without)."""
    components = debian_components(pod, lock.get("debian") or {})
    components += pypi_components(pod, lock.get("pypi") or {})
    components += npm_components(pod, lock.get("npm") or {})
    vendor = lock.get("vendor") or []
    components += vendor_components(pod, [v for v in vendor if v["name"] not in excluded])
    return components, sorted(v["name"] for v in vendor if v["name"] in excluded)


# --- the document -------------------------------------------------------------------------


def _created(info: dict) -> str:
    raw = str(info.get("Created") or "1970-01-01T00:00:00Z")
    # Podman reports nanoseconds; fromisoformat wants at most microseconds.
    raw = re.sub(r"(\.\d{6})\d+", r"\1", raw.replace("Z", "+00:00"))
    moment = datetime.fromisoformat(raw).astimezone(UTC).replace(microsecond=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_sbom(info: dict, locks: dict[str, dict], excluded_in_image: list[str]) -> dict:
    """The SBOM document, from `podman image inspect` output and the image's locks."""
    labels = info.get("Labels") or info.get("Config", {}).get("Labels") or {}
    image_id = info["Id"].removeprefix("sha256:")
    # What the image lacks: its label (the engine's) and its excluded file (the installer's);
    # either alone is enough, so an image built without the label is described right too.
    excluded = set(parse_excluded(labels.get(EXCLUDED_LABEL, ""))) | set(excluded_in_image)

    components: dict[str, dict] = {}
    absent: set[str] = set(excluded)
    # Root first, so a component two locks name is attributed to the pod that added it.
    for pod in _ancestry(locks):
        found, lacking = lock_components(pod, locks[pod], excluded)
        for component in found:
            components.setdefault(component["bom-ref"], component)
        absent.update(lacking)

    image = image_component(info, labels, sorted(absent), sorted(locks))
    ordered = sorted(components.values(), key=lambda c: (c["purl"].split("/", 1)[0], c["name"], c["bom-ref"]))
    return {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(SERIAL_NAMESPACE, image_id)}",
        "version": 1,
        "metadata": {
            "timestamp": _created(info),
            "tools": {"components": [{"type": "application", "name": "pods-sbom", "version": TOOL_VERSION}]},
            "component": image,
        },
        "components": ordered,
        "dependencies": [{"ref": image["bom-ref"], "dependsOn": [c["bom-ref"] for c in ordered]}],
    }


def image_component(info: dict, labels: dict[str, str], absent: list[str], pods: list[str]) -> dict:
    """The image itself: its ID, key, exclusion list, what it lacks and which locks it holds."""
    image_id = info["Id"].removeprefix("sha256:")
    name = (
        labels.get(TITLE_LABEL) or (info.get("RepoTags") or ["unnamed"])[0].rsplit("/", 1)[-1].split(":")[0]
    )
    properties = [_property("image-id", f"sha256:{image_id}")]
    if labels.get(KEY_LABEL):
        properties.append({"name": KEY_LABEL, "value": labels[KEY_LABEL]})
    if labels.get(LIST_LABEL):
        properties.append({"name": LIST_LABEL, "value": labels[LIST_LABEL]})
    # Present in a lock but not in the image: listed here, never as components.
    properties.append({"name": EXCLUDED_LABEL, "value": render_excluded(absent)})
    properties += [_property("absent", x) for x in absent]
    properties += [_property("lock", pod) for pod in pods]
    return {
        "type": "container",
        "bom-ref": f"image:sha256:{image_id}",
        "name": name,
        "version": labels.get(VERSION_LABEL, ""),
        "description": labels.get("org.opencontainers.image.description", ""),
        "properties": properties,
    }


def _ancestry(locks: dict[str, dict]) -> list[str]:
    """Pods from the root down (a lock names its parent), then any stray ones by name."""
    order: list[str] = []
    remaining = dict(locks)
    while remaining:
        ready = sorted(p for p, lock in remaining.items() if lock.get("parent") not in remaining)
        order += ready
        for p in ready:
            del remaining[p]
    return order


def render(document: dict) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def sbom_for_image(image: str) -> bytes:
    locks, excluded = read_locks(image)
    return render(build_sbom(ENGINE.inspect(image), locks, excluded))


def main(argv: list[str]) -> int:
    if (
        not argv
        or argv[0] in ("-h", "--help")
        or len(argv) not in (1, 3)
        or (len(argv) == 3 and argv[1] != "-o")
    ):
        print("usage: sbom.py <image> [-o sbom.json]", file=sys.stderr)
        return 2
    try:
        data = sbom_for_image(argv[0])
    except EngineError as e:
        print(f"pods: error: {e}", file=sys.stderr)
        return 1
    if len(argv) == 3:
        Path(argv[2]).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
