"""HTTP(S) GETs for the upstreams no package manager fronts (vendor releases, registries)."""

from __future__ import annotations

import hashlib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass


class Unreachable(Exception):
    """The server did not answer (refused, timed out, TLS or DNS failure)."""


class HttpStatus(Exception):
    def __init__(self, url: str, status: int, headers: Mapping[str, str]) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.url, self.status, self.headers = url, status, headers


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _context(ca_bundle: str | None) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca_bundle) if ca_bundle else ssl.create_default_context()


def _open(url: str, headers: Mapping[str, str], timeout: float, ca_bundle: str | None, method: str = "GET"):
    request = urllib.request.Request(url, headers={"User-Agent": "pods-lock", **headers}, method=method)
    try:
        return urllib.request.urlopen(request, timeout=timeout, context=_context(ca_bundle))
    except urllib.error.HTTPError as e:
        raise HttpStatus(url, e.code, dict(e.headers or {})) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Unreachable(f"{url}: {reason}") from None


def get(
    url: str,
    timeout: float,
    ca_bundle: str | None = None,
    headers: Mapping[str, str] | None = None,
    limit: int = 16 << 20,
) -> Response:
    """A small document (release list, checksum file, manifest); bounded to `limit` bytes."""
    with _open(url, headers or {}, timeout, ca_bundle) as response:
        try:
            body = response.read(limit + 1)
        except OSError as e:
            raise Unreachable(f"{url}: {e}") from None
        if len(body) > limit:
            raise Unreachable(f"{url}: answer larger than {limit} bytes")
        return Response(response.status, dict(response.headers), body)


def sha256_of(url: str, timeout: float, ca_bundle: str | None = None) -> tuple[str, int]:
    """(sha256 hex, size) of a download, streamed so a large archive never sits in memory."""
    return digest_of(url, "sha256", timeout, ca_bundle)


def digest_of(url: str, algorithm: str, timeout: float, ca_bundle: str | None = None) -> tuple[str, int]:
    """(hex digest by `algorithm`, size) of a download, streamed."""
    digest, size = hashlib.new(algorithm), 0
    with _open(url, {}, timeout, ca_bundle) as response:
        try:
            while chunk := response.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        except OSError as e:
            raise Unreachable(f"{url}: {e}") from None
    return digest.hexdigest(), size
