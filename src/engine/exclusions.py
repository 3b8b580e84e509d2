"""Which components an image is built without, decided before its input key.

PODS_EXCLUSIONS says how:

- `auto` (the launcher's default): each vendor item of the pod's lock is probed
  (vendor_probe) and only the ones whose upstream cannot be reached are left out, with one
  line saying which and why. What was left out enters the input key (`key_args`), so the
  same inputs built where more upstreams answer make a different image under a different
  key;
- empty or `none`: every component; the vendor upstreams are probed first, and one that
  cannot be reached fails the build in one line, before podman starts;
- any other value names a list in build_files/exclusions.toml, left out unprobed.

The installer gets the names to skip; an image built with `auto` or a list is labelled with
it (LIST_LABEL) and with what it and its ancestors lack, as bare component names
(EXCLUDED_LABEL). An upstream that answers with an HTTP error fails the build under `auto`
and `none` alike: that download is broken, not out of reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import checkout  # noqa: F401  (puts pods_contract on the path)
import vendor_probe
from engine_binary import EngineError, image_labels, say
from pod_lock import context_lock
from pods_contract import EXCLUDED_LABEL, LIST_LABEL, parse_excluded, relock_command, render_excluded
from request import NO_EXCLUSIONS, BuildRequest

LISTS = "build_files/exclusions.toml"
AUTO = "auto"
# The pseudo build arg the probe's result is hashed as (no real build arg has a colon).
LEFT_OUT_ARG = "pods:left-out"


@dataclass(frozen=True)
class Exclusions:
    list_name: str = ""
    names: tuple[str, ...] = ()  # what the installer leaves out of this image
    lacks: tuple[str, ...] = ()  # what this image and its ancestors are built without

    def build_args(self) -> list[str]:
        """What `podman build` gets: the installer's list and the image's labels."""
        if not self.list_name:
            return []
        return [
            "--build-arg",
            f"PODS_EXCLUDE={','.join(self.names)}",
            "--label",
            f"{LIST_LABEL}={self.list_name}",
            "--label",
            f"{EXCLUDED_LABEL}={render_excluded(self.lacks)}",
        ]

    def key_args(self) -> dict[str, str]:
        """What the input key hashes besides the build args: the probe's result. A named
        list is in the context already, and `none` leaves nothing out."""
        return {LEFT_OUT_ARG: ",".join(self.names)} if self.list_name == AUTO else {}


def exclusions(request: BuildRequest) -> Exclusions:
    name = request.build_args.get("PODS_EXCLUSIONS", "")
    lock = context_lock(request) or {}
    vendor = [item for item in lock.get("vendor") or [] if item.get("url")]
    if name in NO_EXCLUSIONS:
        probe_vendor(request, vendor, leave_out=False)
        return Exclusions()
    if name == AUTO:
        names = probe_vendor(request, vendor, leave_out=True)
    else:
        names = sorted(read_list(Path(request.context, LISTS), name))  # the whole list, as always
    lacks = set(parent_lacks(request))
    lacks.update(item["name"] for item in lock.get("vendor") or [] if item["name"] in names)
    return Exclusions(name, tuple(sorted(names)), tuple(sorted(lacks)))


def parent_lacks(request: BuildRequest) -> list[str]:
    parent = request.build_args.get("BASE_IMAGE")
    return parse_excluded((image_labels(parent) or {}).get(EXCLUDED_LABEL, "")) if parent else []


def probe_vendor(request: BuildRequest, vendor: list[dict], leave_out: bool) -> list[str]:
    """The names of the vendor items whose upstream cannot be reached (said in one line),
    or, with leave_out False, a one-line failure naming the first of them."""
    if not vendor:
        return []
    probes = vendor_probe.probe_all([item["url"] for item in vendor])
    for item in vendor:
        found = probes[item["url"]]
        if found.http_error:
            raise EngineError(
                f"{request.pod}: {item['name']}: its upstream answered {found.http_error} for {item['url']}; "
                f"the locked download moved or is gone: re-lock with `{relock_command(request.pod)}`"
            )
    gone = [(item["name"], probes[item["url"]]) for item in vendor if probes[item["url"]].unreachable]
    if gone and not leave_out:
        first, why = gone[0]
        raise EngineError(
            f"{request.pod}: PODS_EXCLUSIONS=none builds every component, but {first}'s upstream "
            f"{why.host} is unreachable ({why.unreachable}); build where it answers, or set "
            "PODS_EXCLUSIONS=auto to leave out what cannot be reached"
        )
    if gone:
        names = ", ".join(n for n, _ in gone)
        whose = "their upstreams are" if len(gone) > 1 else "its upstream is"
        reasons = "; ".join(f"{p.host}: {p.unreachable}" for _, p in gone)
        say(f"{request.pod}: without {names}: {whose} unreachable ({reasons})")
    return [n for n, _ in gone]


def read_list(path: Path, name: str) -> dict:
    try:
        import tomllib
    except ImportError as e:  # python < 3.11
        raise EngineError("PODS_EXCLUSIONS needs python3 >= 3.11 (tomllib) on the host") from e
    try:
        lists = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise EngineError(f"{path}: missing from the build context; add build_files:exclusions") from e
    except tomllib.TOMLDecodeError as e:
        raise EngineError(f"{LISTS}: not valid TOML ({e}); fix the file") from e
    if not isinstance(lists.get(name), dict):
        known = ", ".join(sorted(k for k, v in lists.items() if isinstance(v, dict))) or "none"
        raise EngineError(
            f"{LISTS}: no list [{name}] (PODS_EXCLUSIONS={name}); lists: {known}. "
            "Set PODS_EXCLUSIONS to one of them, to auto (leave out what cannot be reached), "
            "or to none (or empty) to build everything"
        )
    return lists[name]
