"""What a registry holds, as far as a push needs to know, read as rarely as possible.

Pants runs one `docker push` per tag, one after another: four engine calls per image on a
re-publish that uploads nothing. Each answers from records where it can: the registry's
tags from one concurrent read of all the image's tags, made by whichever push comes
first, and what this checkout itself pushed. Both are TrustWindow records.
"""

from __future__ import annotations

import hashlib

from engine_binary import ENGINE, split_ref
from records import TrustWindow, state_dir

# A registry read is trusted this long: long enough for the other tags of the same
# `./pants publish` (seconds apart), short enough that a tag someone else moved since is
# seen by the next run. A tag read as elsewhere is simply pushed (pushes are idempotent).
REMOTE_TRUST_SECONDS = 60
# What this checkout pushed or found in place, so that `latest`/`stable`, pushed right
# after their siblings by the same `./pants publish`, are not refused when that took
# longer than a registry read is trusted (a big first upload, a slow signature).
PUSHED_TRUST_SECONDS = 900


def remote_record(repository: str) -> TrustWindow:
    """ref -> [manifest digest, config digest (= podman's image ID)] or None (no such tag)."""
    name = f"remote-{hashlib.sha256(repository.encode()).hexdigest()[:24]}.json"
    return TrustWindow(state_dir("push") / name, REMOTE_TRUST_SECONDS)


def pushed_record() -> TrustWindow:
    """ref -> config digest this checkout pushed there or found there."""
    return TrustWindow(state_dir("push") / "pushed.json", PUSHED_TRUST_SECONDS)


def remote_tags(refs: list[str]) -> dict[str, list | None]:
    """Where tags of one repository point: from the record where fresh, else read at once."""
    record = remote_record(split_ref(refs[0])[0])
    known = record.fresh()
    unread = [r for r in refs if r not in known]
    if unread:
        import concurrent.futures  # here: builds, which never read a registry, skip its import

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(unread))) as pool:
            manifests = dict(zip(unread, pool.map(ENGINE.manifest, unread), strict=True))
        read = {
            r: [m[0], (m[1].get("config") or {}).get("digest")] if m else None for r, m in manifests.items()
        }
        record.note(read)
        known.update(read)
    return {r: known[r] for r in refs}


def note_pushed(ref: str, config_digest: str, manifest_digest: str | None = None) -> None:
    """`ref` points at `config_digest` now; with the manifest digest when we just pushed it."""
    pushed_record().note({ref: config_digest})
    if manifest_digest:
        remote_record(split_ref(ref)[0]).note({ref: [manifest_digest, config_digest]})


def recently_pushed(ref: str, config_digest: str) -> bool:
    return pushed_record().fresh().get(ref) == config_digest
