"""Fixtures shared by every image test: the pod under test and the locks it carries."""

from __future__ import annotations

import json

import pods_contract
import pytest

from images.harness import Pod


@pytest.fixture(scope="session")
def pod() -> Pod:
    return Pod.under_test()


@pytest.fixture(scope="session")
def locks(pod: Pod) -> dict[str, dict]:
    """Every lock (bill of materials) the image carries, by pod name, read from the image."""
    listing = pod.sh(f"ls {pods_contract.IMAGE_LOCK_DIR}/*.lock.json").split()
    out = {}
    for path in listing:
        name = path.rsplit("/", 1)[1].removesuffix(".lock.json")
        out[name] = json.loads(pod.run("cat", path).stdout)
    return out


@pytest.fixture(scope="session")
def debian_versions(locks: dict[str, dict]) -> dict[str, str]:
    """Locked Debian package versions across the image's whole ancestry."""
    return {
        p["name"]: p["version"] for lock in locks.values() for p in lock.get("debian", {}).get("packages", [])
    }


@pytest.fixture(scope="session")
def npm_versions(locks: dict[str, dict]) -> dict[str, str]:
    """Locked npm package versions (top-level packages of each pod's npm lock) across the ancestry."""
    prefix = "node_modules/"
    return {
        path.removeprefix(prefix): entry["version"]
        for lock in locks.values()
        for path, entry in lock.get("npm", {}).get("package_lock", {}).get("packages", {}).items()
        if path.startswith(prefix) and "/node_modules/" not in path and "version" in entry
    }


@pytest.fixture(scope="session")
def vendor_versions(locks: dict[str, dict]) -> dict[str, str]:
    """Locked vendor component versions across the image's whole ancestry."""
    return {item["name"]: item["version"] for lock in locks.values() for item in lock.get("vendor", [])}
