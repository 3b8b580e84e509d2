"""The contract between the host and the images: every format both sides read or write.

One module, standard library only, imported by the engine (src/engine), the `pods` tool,
the in-image installer (pods-install, which finds it beside itself in every image), the
rootfs builder and the tests. A format defined here is defined nowhere else.

- Label names the engine writes and the SBOM, publish and tests read.
- Where a pod's lock lives (in the repo and in an image), and its schema check.
- The excluded-components format: bare component names, one spelling everywhere.
- Debian's `apt-cache show` stanzas, and the check that an installed closure is the locked one.
- File hashing.
- pod.yaml's `env:`: which names and values are allowed, and the shell text that sets them.
- The family's build epoch, the lock a build holds against gc, and which registries are
  loopback ones.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

# --- labels ---------------------------------------------------------------------------
LABEL_PREFIX = "io.github.bazzite-ai.pods"
# The image's input key: a hash of everything it is made from (src/engine).
KEY_LABEL = f"{LABEL_PREFIX}.input-key"
# Before the input key had its own name (images built before 2026-11; gc still knows it).
LEGACY_KEY_LABEL = f"{LABEL_PREFIX}.key"
# The named exclusion list an image was built with (build_files/exclusions.toml).
LIST_LABEL = f"{LABEL_PREFIX}.exclusions"
# The components the image and its ancestors lack: render_excluded() of their names.
EXCLUDED_LABEL = f"{LABEL_PREFIX}.excluded"
VERSION_LABEL = "org.opencontainers.image.version"
TITLE_LABEL = "org.opencontainers.image.title"
# Tags that move to an image only when it lacks nothing and its fixed tags are in place.
MOVING_TAGS = ("latest", "stable")

# --- locks ----------------------------------------------------------------------------
SCHEMA_VERSION = 1
LOCK_NAME = "pod.lock.json"
BUILD_FILES = "build_files"
# Every image carries its own lock and each ancestor's here, and the list of what it lacks.
IMAGE_LOCK_DIR = "/usr/share/pods"
IMAGE_EXCLUDED_FILE = f"{IMAGE_LOCK_DIR}/excluded"
CONFLICT_MARKERS = ("<<<<<<< ", "=======", ">>>>>>> ")


# --- reproducible builds ----------------------------------------------------------------
# Every time a build writes: the rootfs tarball's mtimes, each image's `created` and history
# times, and the mtime of every file in every layer (podman build --timestamp). Fixed, and
# part of the inputs (this file is in rootfs's, and so every pod's, input key), never the
# clock: the same inputs give the same image ID on any machine, at any time
# (2025-11-30T00:00:00Z). An image's age is therefore not when it was built; records and gc
# go by input keys, not by time.
SOURCE_DATE_EPOCH = 1764460800


class ContractError(Exception):
    """Bad input, said in one line: the file and field, what was expected, what to do."""


# How many layers the engine lays each pod's own files out in (src/engine/chunk_plan.py): base
# holds most small Debian packages, so it gets the most buckets. The deepest chain, rootfs ->
# base -> nvidia -> nvidia-python -> jupyter, sums to 98 of the 100 layers a pod may have
# (tests/unit/test_layer_budget.py checks every chain of the family tree).
LAYER_BUDGET = {"rootfs": 8, "base": 40, "nvidia": 16, "nvidia-python": 18, "jupyter": 16}
DEFAULT_LAYER_BUDGET = 24
MAX_LAYERS = 100
# The tag the engine keeps a pod's plain build under (`<repository>:pods-plain-<key12>`): podman's
# layer cache for the next build, and what the filesystem-identity test compares with.
PLAIN_TAG_PREFIX = "pods-plain-"


def layer_budget(pod: str) -> int:
    return LAYER_BUDGET.get(pod, DEFAULT_LAYER_BUDGET)


def repo_lock_path(pod: str) -> str:
    """The lock's path relative to the repository root (named in every error)."""
    return f"{BUILD_FILES}/{pod}/{LOCK_NAME}"


def image_lock_path(pod: str) -> str:
    return f"{IMAGE_LOCK_DIR}/{pod}.lock.json"


def relock_command(pod: str, upgrade: bool = False) -> str:
    return f"./pants run src/python/pods:pods -- lock {'--upgrade ' if upgrade else ''}{pod}"


def parse_lock(text: bytes | str, display: str) -> dict:
    """A lock's JSON, schema-checked; ContractError in one line for anything else."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(CONFLICT_MARKERS):
            marker = line.split()[0] if line.split() else line
            raise ContractError(
                f"{display}: line {number}: a merge conflict marker ({marker}); "
                "expected a lock: resolve the conflict in pod.yaml, then re-lock with "
                "`./pants run src/python/pods:pods -- lock`"
            )
    try:
        lock = json.loads(text)
    except json.JSONDecodeError as e:
        raise ContractError(f"{display}: not valid JSON (line {e.lineno}: {e.msg}); re-lock it") from None
    if not isinstance(lock, dict) or lock.get("schema_version") != SCHEMA_VERSION:
        found = lock.get("schema_version") if isinstance(lock, dict) else type(lock).__name__
        raise ContractError(
            f"{display}: field schema_version: expected {SCHEMA_VERSION}, found {found!r}; "
            "re-lock with a matching pods tool"
        )
    return lock


def read_lock(path: str, display: str | None = None) -> dict:
    try:
        with open(path, "rb") as f:
            return parse_lock(f.read(), display or str(path))
    except FileNotFoundError:
        raise ContractError(f"{display or path}: missing; lock the pod first") from None


# --- exclusions -----------------------------------------------------------------------
# A component is named by its bare lock name (`helm`), never qualified by pod: the label,
# the image's excluded file, the SBOM and publish all compare these strings.


def parse_excluded(text: str) -> list[str]:
    """Names from a label value (comma-separated) or the image's file (one per line)."""
    return sorted({n.strip() for n in re.split(r"[,\s]+", text or "") if n.strip()})


def render_excluded(names: Iterable[str]) -> str:
    """The label value: sorted, unique, comma-separated."""
    return ",".join(sorted(set(names)))


def render_excluded_file(names: Iterable[str]) -> str:
    return "".join(f"{n}\n" for n in sorted(set(names)))


def parse_excluded_file(text: str) -> list[str]:
    """The names in an image's excluded file: bare (`helm`), or, as older installers wrote
    them, qualified by pod (`base/helm`)."""
    return parse_excluded(" ".join(name.rsplit("/", 1)[-1] for name in text.split()))


# --- Debian ---------------------------------------------------------------------------


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """`apt-cache show` (or a Packages file): one dict per stanza, continuation lines dropped."""
    out = []
    for stanza in re.split(r"\n\s*\n", text.strip()):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            out.append(fields)
    return out


def stanzas_by_package(text: str) -> dict[str, dict[str, str]]:
    return {s["Package"]: s for s in parse_stanzas(text)}


def closure_problem(
    locked: Iterable[Mapping], found: Mapping[str, str | None], index: Mapping[str, Mapping[str, str]]
) -> str | None:
    """Why an apt closure is not the locked one, or None.

    `found`: package -> version that apt installed or would install (None: version unknown,
    as in a dry run's list of names). `index`: the archive's stanzas by package, whose
    SHA256 apt checks every downloaded .deb against; so a lock whose sha256 differs from
    the signed index names a file that is not the one locked.
    """
    want = {p["name"]: p for p in locked}
    extra = sorted(set(found) - set(want))
    missing = sorted(set(want) - set(found))
    if extra or missing:
        parts = [f"also {', '.join(extra)}" if extra else "", f"not {', '.join(missing)}" if missing else ""]
        return "apt's closure differs from the lock: " + "; ".join(p for p in parts if p)
    for name, pkg in sorted(want.items()):
        if found[name] is not None and found[name] != pkg["version"]:
            return f"{name}: locked at {pkg['version']}, apt has {found[name]}"
        index_sha = (index.get(name) or {}).get("SHA256")
        if index_sha != pkg["sha256"]:
            what = f"{name} {pkg['version']}"
            return f"{what}: sha256 {pkg['sha256']} in the lock, {index_sha} in the archive index"
    return None


# --- hashing --------------------------------------------------------------------------


def file_digest(path: str, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- pod.yaml env ---------------------------------------------------------------------
# Values are literal, except references to other variables ($NAME, ${NAME}), which expand
# when the pod's shell starts (nvidia's PATH needs it). Nothing else is ever run.
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ENV_REFERENCE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def env_problem(name: str, value: object) -> str | None:
    """Why one `env:` entry is not allowed, or None."""
    if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
        return f"name {name!r}: expected a shell identifier (letters, digits, _; not starting with a digit)"
    if not isinstance(value, str):
        return f"{name}: expected a string value, found {type(value).__name__}"
    if "\0" in value:
        return f"{name}: a NUL byte cannot be in an environment variable"
    rest = _ENV_REFERENCE.sub("", value)
    if "$" in rest:
        at = rest.index("$")
        return (
            f"{name}: `{rest[at:at + 3]}...` is not a variable reference: only $NAME and ${{NAME}} expand, "
            "nothing is run (no $(...), backticks or ${NAME:-...}); write the value without it"
        )
    return None


def _single_quoted(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def render_env_script(env: Mapping[str, str]) -> str:
    """POSIX shell text exporting `env`: literal except $NAME/${NAME} references.

    Literal runs are single-quoted (quotes, backticks and newlines come back exactly as
    written); each reference is a double-quoted "${NAME}", so nothing but a variable is
    ever expanded.
    """
    lines = []
    for name, value in sorted(env.items()):
        problem = env_problem(name, value)
        if problem:
            raise ContractError(f"env: {problem}")
        parts, last = [], 0
        for m in _ENV_REFERENCE.finditer(value):
            if m.start() > last:
                parts.append(_single_quoted(value[last : m.start()]))
            parts.append('"${' + (m.group("braced") or m.group("bare")) + '}"')
            last = m.end()
        if last < len(value) or not parts:
            parts.append(_single_quoted(value[last:]))
        lines.append(f"export {name}={''.join(parts)}\n")
    return "".join(lines)


def read_image_locks(folder: str | os.PathLike, display: str) -> tuple[dict[str, dict], list[str]]:
    """A copy of an image's IMAGE_LOCK_DIR at `folder`: its locks by pod, and the components
    its excluded file names (bare, or qualified by pod as older installers wrote them)."""
    locks = {}
    for path in sorted(Path(folder).glob(f"*.{LOCK_NAME.split('.', 1)[1]}")):
        lock = parse_lock(path.read_bytes(), f"{display}:{IMAGE_LOCK_DIR}/{path.name}")
        locks[lock.get("pod") or path.name.removesuffix(".lock.json")] = lock
    excluded_file = Path(folder, Path(IMAGE_EXCLUDED_FILE).name)
    excluded = parse_excluded_file(excluded_file.read_text()) if excluded_file.exists() else []
    return locks, excluded


# --- the host ---------------------------------------------------------------------------


def is_loopback_registry(ref: str) -> bool:
    """A registry on this machine (a test's, a runner's own cache) speaks plain HTTP."""
    return ref.split("/", 1)[0].rsplit(":", 1)[0] in ("127.0.0.1", "localhost", "[::1]")


def builds_lock_path() -> Path:
    """The lock every image build holds (shared) and `pods gc` takes (exclusive) to prune.

    A running build's intermediate layers are dangling until it tags its result, and
    pruning them breaks it ("layer not known"). Images carry the family's fixed epoch, not
    the time they were built, so "dangling for an hour" cannot tell them apart: the lock can.
    In the per-user folder the engine's key locks use (made private by the engine).
    """
    return Path(tempfile.gettempdir(), f"pods-locks-{os.getuid()}", "builds.lock")
