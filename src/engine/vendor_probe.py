"""Can this machine reach a vendor upstream? One short, bounded probe per URL, all at once.

A probe is a ranged GET of the locked URL's first byte (download servers answer it; some
refuse HEAD), through the environment's proxies (urllib reads https_proxy/no_proxy) and
the CA bundle PODS_CA_BUNDLE. Three outcomes:

- an answer, 2xx or 3xx followed to an answer: reachable;
- no answer (DNS failure, refused, reset, timeout, a proxy refusing CONNECT, TLS that
  cannot be verified): unreachable, the only case in which a component may be left out;
- an HTTP error status (4xx/5xx) from the upstream: reachable but broken. Leaving the
  component out would hide a moved or withdrawn download, so the build fails instead.

Every probe runs in its own daemon thread and the caller waits at most the timeout plus
a second in all, so a server that accepts and never answers (or a DNS lookup that hangs,
which no socket timeout bounds) costs that much and no more.
"""

from __future__ import annotations

import os
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from engine_binary import EngineError

TIMEOUT = 5.0  # seconds; a vendor that takes longer to send one byte is not reachable here


@dataclass(frozen=True)
class Probe:
    url: str
    unreachable: str = ""  # why no answer came; empty when one did
    http_error: str = ""  # `404 Not Found` when the upstream answered with an error

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or self.url


def tls_context() -> ssl.SSLContext:
    """The system's CAs, or PODS_CA_BUNDLE's; a bundle that cannot be read is one line, not
    every upstream reported unreachable."""
    bundle = os.environ.get("PODS_CA_BUNDLE", "")
    try:
        return ssl.create_default_context(cafile=bundle) if bundle else ssl.create_default_context()
    except (OSError, ssl.SSLError) as e:
        raise EngineError(
            f"PODS_CA_BUNDLE={bundle}: not a readable CA bundle ({e}); point it at a PEM file"
        ) from e


def probe(url: str, timeout: float = TIMEOUT, context: ssl.SSLContext | None = None) -> Probe:
    request = urllib.request.Request(url, headers={"Range": "bytes=0-0", "User-Agent": "pods-probe"})
    https = urllib.request.HTTPSHandler(context=context or tls_context())
    try:
        with urllib.request.build_opener(urllib.request.ProxyHandler(), https).open(request, timeout=timeout):
            return Probe(url)
    except urllib.error.HTTPError as e:
        return Probe(url, http_error=f"{e.code} {e.reason}")
    except urllib.error.URLError as e:
        return Probe(url, unreachable=reason_of(e.reason))
    except (OSError, ValueError) as e:  # a timeout while reading, a reset, a bad URL
        return Probe(url, unreachable=reason_of(e))


def reason_of(error: object) -> str:
    if isinstance(error, TimeoutError) or "timed out" in str(error):
        return "no answer in time"
    text = getattr(error, "strerror", None) or str(error)
    return str(text).strip() or type(error).__name__


def probe_all(urls: list[str], timeout: float = TIMEOUT) -> dict[str, Probe]:
    """Every URL probed concurrently; done within `timeout` + 1 s whatever the servers do."""
    results: dict[str, Probe] = {}
    context = tls_context()

    def run(url: str) -> None:
        results[url] = probe(url, timeout, context)

    threads = [threading.Thread(target=run, args=(u,), daemon=True) for u in dict.fromkeys(urls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {u: results.get(u) or Probe(u, unreachable="no answer in time") for u in urls}
