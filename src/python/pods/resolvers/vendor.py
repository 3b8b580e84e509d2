"""Vendor artifacts no reachable package registry carries: GitHub releases and registry images.

For each `vendor.<name>` of pod.yaml the lock records version, URL and sha256:
- `source: {github_release: owner/repo}`: versions are the repo's published releases
  (drafts and pre-releases skipped); the sha256 comes from the upstream's own checksum
  file (`checksums` template), and the artifact is downloaded once to check it matches.
- `source: {oci_tags: registry/repository}`: versions are the repository's tags; the
  sha256 is the manifest digest the registry serves for the chosen tag.
- no source: the version must be exact.
- a digest quoted in pod.yaml (`sha256:` or `sha512:`, with `checksum_source:`, the URL
  of the list the digest was quoted from, and `checksum_publisher:`) for an exact version,
  when the upstream cannot be asked from where `pods lock` runs: the artifact is downloaded
  and checked against the quoted digest when the upstream answers, and locked unverified
  (said so, and recorded in inputs.resolvers.vendor.checks) when it does not. The image
  build verifies it either way: the installer checks every download against the lock.

Without `upgrade`, a previously locked entry that still satisfies pod.yaml is kept as is,
without asking the upstream. Base URLs are settings (PODS_GITHUB_API_URL), so tests point
them at loopback servers.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pods_contract import bytes_sha256

from pods import fetch, versions
from pods.errors import pod_error
from pods.podspec import PodSpec, VendorSpec
from pods.resolvers import Resolution, ResolveRequest
from pods.settings import Settings

COMPONENT = "vendor"
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


@dataclass(frozen=True)
class VendorPin:
    name: str
    version: str
    url: str
    digest: tuple[str, str]  # (algorithm, hex): sha256, or sha512 where that is all an upstream publishes
    install: dict[str, Any]
    checksum_source: str = ""  # quoted digests only: where the digest is published
    checksum_publisher: str = ""

    def as_lock(self) -> dict[str, Any]:
        entry = {
            "name": self.name,
            "version": self.version,
            "url": self.url,
            self.digest[0]: self.digest[1],
            "install": self.install,
        }
        if self.checksum_source:
            entry.update(checksum_source=self.checksum_source, checksum_publisher=self.checksum_publisher)
        return entry


def wanted(spec: PodSpec, parent: str | None) -> bool:
    return bool(spec.vendor)


def resolve(request: ResolveRequest) -> Resolution | None:
    if not wanted(request.spec, request.parent):
        return None
    previous = (
        {}
        if request.upgrade
        else {entry["name"]: entry for entry in (request.previous_section(COMPONENT) or [])}
    )
    previous_inputs = ((request.previous or {}).get("inputs") or {}).get("resolvers") or {}
    previous_checks = (previous_inputs.get(COMPONENT) or {}).get("checks") or {}
    pins, checks = [], {}
    for item in request.spec.vendor:
        if item.quoted is None:
            pins.append(resolve_one(request.spec.name, item, previous.get(item.name), request.settings))
            continue
        pin, check = resolve_quoted(request.spec.name, item, previous.get(item.name), request.settings)
        pins.append(pin)
        checks[item.name] = check or previous_checks.get(item.name, "kept from the previous lock")
    inputs: dict[str, Any] = {
        "method": "published checksums",
        "sources": {item.name: dict(item.source) or {"exact": item.version} for item in request.spec.vendor},
    }
    if checks:
        inputs["checks"] = checks
    return Resolution(section=[p.as_lock() for p in sorted(pins, key=lambda p: p.name)], inputs=inputs)


def expand(template: str, version: str) -> str:
    return template.replace("{version}", version)


def still_satisfies(item: VendorSpec, previous: dict[str, Any] | None) -> bool:
    """Whether the previous pin is what pod.yaml would accept now (same URL and install too)."""
    if not previous or "sha256" not in previous or "checksum_source" in previous:
        return False
    try:
        ok = versions.satisfies(previous["version"], item.version)
    except ValueError:
        return False
    return (
        ok
        and previous.get("url") == expand(item.url, previous["version"])
        and previous.get("install") == item.install
    )


def resolve_quoted(
    pod: str, item: VendorSpec, previous: dict[str, Any] | None, settings: Settings
) -> tuple[VendorPin, str | None]:
    """The pin for a digest quoted in pod.yaml, and how it was checked (None: kept, not asked)."""
    algorithm, quoted = item.quoted
    version = item.version.lstrip("v")
    url = expand(item.url, version)
    pin = VendorPin(
        item.name,
        version,
        url,
        (algorithm, quoted),
        dict(item.install),
        item.checksum_source,
        item.checksum_publisher,
    )
    if previous == pin.as_lock():
        return pin, None
    where = f"{COMPONENT} {item.name}"
    try:
        actual, _ = fetch.digest_of(url, algorithm, settings.timeout, settings.ca_bundle)
    except fetch.Unreachable as e:
        print(
            f"pods: note: pod {pod}: {where}: upstream did not answer ({e}); locked the {algorithm} "
            f"quoted from {item.checksum_source} unverified (the image build verifies it)",
            file=sys.stderr,
            flush=True,
        )
        return pin, f"{algorithm} quoted ({item.checksum_publisher}); not verified: upstream did not answer"
    except fetch.HttpStatus as e:
        raise pod_error(
            pod, where, f"expected HTTP 200 from {e.url} (version {version}), found HTTP {e.status}"
        ) from None
    if actual != quoted:
        raise pod_error(
            pod,
            where,
            f"{algorithm} mismatch for {url}: expected {quoted} (quoted from {item.checksum_source}), "
            f"found {actual}",
        )
    return pin, f"{algorithm} quoted ({item.checksum_publisher}); verified by download"


def resolve_one(pod: str, item: VendorSpec, previous: dict[str, Any] | None, settings: Settings) -> VendorPin:
    if still_satisfies(item, previous):
        digest = ("sha256", previous["sha256"])
        return VendorPin(item.name, previous["version"], previous["url"], digest, dict(item.install))
    where = f"{COMPONENT} {item.name}"
    try:
        kind, value = item.source[0] if item.source else ("exact", item.version)
        if kind == "oci_tags":
            return _resolve_oci_tag(pod, item, value, settings)
        if kind == "github_release":
            version = choose(pod, item, github_releases(value, settings))
        else:
            version = item.version.lstrip("v")
        url = expand(item.url, version)
        checksums = fetch.get(expand(item.checksums, version), settings.timeout, settings.ca_bundle)
        published = published_sha256(pod, item, url, checksums.body.decode(errors="replace"))
        actual, _ = fetch.sha256_of(url, settings.timeout, settings.ca_bundle)
    except fetch.Unreachable as e:
        raise pod_error(pod, where, f"upstream did not answer: {e}") from None
    except fetch.HttpStatus as e:
        if e.status == 404:
            raise pod_error(
                pod, where, f"expected {e.url} to exist (version {item.version}), found HTTP 404"
            ) from None
        raise pod_error(pod, where, f"expected HTTP 200 from {e.url}, found HTTP {e.status}") from None
    except (ValueError, KeyError) as e:
        raise pod_error(
            pod, where, f"expected a JSON answer from the upstream, found one that does not parse ({e})"
        ) from None
    if actual != published:
        raise pod_error(
            pod,
            where,
            f"sha256 mismatch for {url}: expected {published} (published checksum), found {actual}; "
            "refusing to lock it: retry later, and report it upstream if it persists",
        )
    return VendorPin(item.name, version, url, ("sha256", published), dict(item.install))


def _resolve_oci_tag(pod: str, item: VendorSpec, repository: str, settings: Settings) -> VendorPin:
    """The highest matching tag, pinned by the sha256 of the manifest the registry serves."""
    version = choose(pod, item, oci_tags(repository, settings))
    url = expand(item.url, version)
    actual, claimed = oci_digest(repository, version, settings)
    if claimed and claimed != actual:
        raise pod_error(
            pod,
            f"{COMPONENT} {item.name}",
            f"sha256 mismatch for {url}: expected {claimed} (registry digest), found {actual}",
        )
    return VendorPin(item.name, version, url, ("sha256", actual), dict(item.install))


def choose(pod: str, item: VendorSpec, candidates: list[str]) -> str:
    try:
        chosen = versions.highest(candidates, item.version)
    except ValueError as e:
        raise pod_error(pod, f"{COMPONENT} {item.name}", str(e)) from None
    if chosen is None:
        newest = versions.highest(candidates, "latest")
        found = f"none among {len(candidates)} (newest {newest})" if newest else "no releases"
        raise pod_error(
            pod, f"{COMPONENT} {item.name}", f"expected a release matching {item.version}, found {found}"
        )
    return chosen.lstrip("v")


def published_sha256(pod: str, item: VendorSpec, url: str, checksums: str) -> str:
    """The sha256 a `sha256sum`-style file (or a bare digest) publishes for url's file name."""
    filename = url.rsplit("/", 1)[-1]
    entries = []
    for line in checksums.splitlines():
        parts = line.split()
        if parts and re.fullmatch(r"[0-9a-fA-F]{64}", parts[0]):
            entries.append(
                (parts[0].lower(), parts[1].lstrip("*").rsplit("/", 1)[-1] if len(parts) > 1 else None)
            )
    for digest, name in entries:
        if name == filename:
            return digest
    if len(entries) == 1 and entries[0][1] is None:
        return entries[0][0]
    raise pod_error(
        pod,
        f"{COMPONENT} {item.name}",
        f"expected a sha256 for {filename} in {expand(item.checksums, '{version}')}, "
        f"found {len(entries)} other entries",
    )


def github_releases(repo: str, settings: Settings) -> list[str]:
    """Tag names of the repo's releases, drafts and pre-releases left out."""
    tags: list[str] = []
    for page in range(1, 11):  # 1000 releases is more history than any pin needs
        url = f"{settings.github_api_url}/repos/{repo}/releases?per_page=100&page={page}"
        batch = json.loads(
            fetch.get(
                url, settings.timeout, settings.ca_bundle, {"Accept": "application/vnd.github+json"}
            ).body
        )
        tags += [r["tag_name"] for r in batch if not r.get("draft") and not r.get("prerelease")]
        if len(batch) < 100:
            break
    return tags


# --- container registries (distribution API v2) -------------------------------------------


def registry_base(ref: str) -> tuple[str, str]:
    """("scheme://host", repository) for "host/repository"; plain HTTP only on loopback."""
    host, _, repository = ref.partition("/")
    loopback = urlsplit(f"//{host}").hostname in ("127.0.0.1", "localhost", "::1")
    return (f"{'http' if loopback else 'https'}://{host}", repository)


def _registry_get(url: str, settings: Settings, headers: dict[str, str] | None = None) -> fetch.Response:
    """GET with the registry's anonymous bearer-token dance when it answers 401."""
    headers = dict(headers or {})
    try:
        return fetch.get(url, settings.timeout, settings.ca_bundle, headers)
    except fetch.HttpStatus as e:
        challenge = {k.lower(): v for k, v in e.headers.items()}.get("www-authenticate", "")
        if e.status != 401 or not challenge.lower().startswith("bearer "):
            raise
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    query = "&".join(f"{k}={params[k]}" for k in ("service", "scope") if k in params)
    token_doc = json.loads(fetch.get(f"{params['realm']}?{query}", settings.timeout, settings.ca_bundle).body)
    headers["Authorization"] = f"Bearer {token_doc.get('token') or token_doc.get('access_token')}"
    return fetch.get(url, settings.timeout, settings.ca_bundle, headers)


def oci_tags(ref: str, settings: Settings) -> list[str]:
    base, repository = registry_base(ref)
    body = json.loads(_registry_get(f"{base}/v2/{repository}/tags/list", settings).body)
    return list(body.get("tags") or [])


def oci_digest(ref: str, tag: str, settings: Settings) -> tuple[str, str]:
    """(sha256 of the manifest served for tag, the digest the registry claims for it)."""
    base, repository = registry_base(ref)
    response = _registry_get(f"{base}/v2/{repository}/manifests/{tag}", settings, {"Accept": _MANIFEST_TYPES})
    claimed = {k.lower(): v for k, v in response.headers.items()}.get("docker-content-digest", "")
    return bytes_sha256(response.body), claimed.removeprefix("sha256:")
