"""Content-addressed builds and safe pushes behind the `docker` wrapper (see ./docker).

Pants 2.17 runs `docker build` and `docker push` for every image on every invocation; it
has no notion of "this image already exists" (pants issue #22390). This module adds it:

- Input key. Every pod's first tag is `{pants.hash}`: a hash of its build args, its
  Containerfile and context (lock, scripts, exclusion lists) and, through the parent's
  docker-info.json in that context, its parent. Nothing machine-specific enters it (the
  wrapper's settings come from .pods/engine.env, not from Pants). If an image with that
  key exists locally, the build is skipped; if PODS_CACHE_REGISTRY holds it, it is pulled.
  A fresh build is pushed there under its key, so another runner never rebuilds it.
- Exclusions. PODS_EXCLUSIONS names a list in build_files/exclusions.toml; the installer
  gets its names, and the image is labelled with the list and what it lacks.
- Pushes. The key and version tags are pushed first; `latest` and `stable` move only when
  every other tag of the image already points at this image in that registry, and never
  for an image built with exclusions. A tag already pointing at the image is not pushed
  again, so re-publishing uploads nothing.

Standard library only: it runs on the host's python3 under Pants' `env -i`.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

KEY_LABEL = "io.github.bazzite-ai.pods.input-key"
LIST_LABEL = "io.github.bazzite-ai.pods.exclusions"
EXCLUDED_LABEL = "io.github.bazzite-ai.pods.excluded"
MOVING_TAGS = ("latest", "stable")
# Pants' content tag ({pants.hash}): the tag SBOMs and signatures hang off.
KEY_RE = re.compile(r"[0-9a-f]{64}")


class EngineError(Exception):
    """One line for the user: what failed, and what to do."""


def say(line: str) -> None:
    print(f"pods: {line}", flush=True)


def podman(*args: str, check: bool = True, capture: bool = True, timeout: float | None = None):
    result = subprocess.run(["podman", *args], capture_output=capture, text=True, timeout=timeout)
    if check and result.returncode != 0:
        detail = (result.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else result.returncode
        raise EngineError(f"`podman {' '.join(args[:3])}` failed: {reason}")
    return result


def split_ref(ref: str) -> tuple[str, str]:
    """`host/ns/name:tag` -> (`host/ns/name`, `tag`); a digest reference is not a tag."""
    if "@" in ref:
        raise EngineError(f"{ref}: a digest reference has no tag to push; push a tagged image")
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon <= slash:
        return ref, "latest"
    return ref[:colon], ref[colon + 1 :]


def registry_host(ref: str) -> str:
    return ref.split("/", 1)[0]


def tls_args(ref: str) -> list[str]:
    # Loopback registries (tests, a CI runner's own cache) speak plain HTTP.
    host = registry_host(ref).split(":")[0]
    return ["--tls-verify=false"] if host in ("127.0.0.1", "localhost", "[::1]") else []


# --- build ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildRequest:
    tags: tuple[str, ...]
    build_args: dict[str, str]
    containerfile: str
    context: str
    passthrough: tuple[str, ...]

    @property
    def repository(self) -> str:
        return split_ref(self.tags[0])[0] if self.tags else f"localhost/{self.pod}"

    @property
    def pod(self) -> str:
        return Path(self.containerfile).parent.name


def parse_build(argv: list[str]) -> BuildRequest:
    tags: list[str] = []
    build_args: dict[str, str] = {}
    containerfile = "Containerfile"
    passthrough: list[str] = []
    i = 0
    while i < len(argv) - 1:
        arg = argv[i]
        value = argv[i + 1]
        if arg in ("--tag", "-t"):
            tags.append(value)
        elif arg == "--build-arg":
            # Pants passes `--build-arg NAME` for args taken from its environment, and
            # sets NAME in ours; the engine would read it from there, so do we.
            name, eq, val = value.partition("=")
            build_args[name] = val if eq else os.environ.get(name, "")
        elif arg in ("--file", "-f"):
            containerfile = value
        else:
            passthrough.append(arg)
            i += 1
            continue
        i += 2
    context = argv[-1] if argv else "."
    return BuildRequest(tuple(tags), build_args, containerfile, context, tuple(passthrough))


def input_key(request: BuildRequest) -> str:
    """Hash of what the image is made from: every file of the build context (the
    Containerfile, the lock, scripts, exclusion lists), the build args, and the parent's
    own input key in place of the parent's tag.

    Pants' {pants.hash} would do on one machine, but it also covers the parent's
    docker-info.json (its image ID, which a rebuild elsewhere changes, and every
    configured registry address); this key depends on inputs only, so two runners, or one
    runner before and after adding a registry, agree on it.
    """
    h = hashlib.sha256(b"pods-input-key-v2\0")
    root = Path(request.context)
    for path in context_files(root):
        rel = path.relative_to(root).as_posix()
        mode = "x" if os.access(path, os.X_OK) else "-"
        h.update(f"file\0{rel}\0{mode}\0{file_sha256(path)}\0".encode())
    for name, value in sorted(request.build_args.items()):
        if name == "BASE_IMAGE":
            labels = image_labels(value)
            if labels is None:
                raise EngineError(
                    f"{request.containerfile}: parent image {value} is not here; build it first"
                )
            parent_key = labels.get(KEY_LABEL)
            if not parent_key:
                raise EngineError(
                    f"{request.containerfile}: parent image {value} has no {KEY_LABEL} label; "
                    "rebuild it through ./pants so it gets one"
                )
            value = f"key:{parent_key}"
        h.update(f"arg\0{name}\0{value}\0".encode())
    return h.hexdigest()


def context_files(root: Path) -> list[Path]:
    # A parent's docker-info.json stands for the parent; its key replaces it (above).
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.endswith(".docker-info.json"))


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def local_image(ref: str) -> tuple[str, dict[str, str], list[str]] | None:
    """(image ID, labels, tags) of a local image in one engine call, or None."""
    fmt = "{{.Id}}\t{{json .Labels}}\t{{json .RepoTags}}"
    result = podman("image", "inspect", "--format", fmt, ref, check=False)
    if result.returncode != 0:
        return None
    image, labels, tags = result.stdout.strip().split("\t")
    return image, json.loads(labels) or {}, json.loads(tags) or []


@functools.cache
def image_labels(ref: str) -> dict[str, str] | None:
    """Labels of a parent image (asked for twice per build: key, exclusions); they never change."""
    found = local_image(ref)
    return found[1] if found else None


def image_id(ref: str) -> str | None:
    found = local_image(ref)
    return found[0] if found else None


def exclusions(request: BuildRequest) -> tuple[str, list[str], list[str]]:
    """(list name, the list's component names, the names this image lacks)."""
    name = request.build_args.get("PODS_EXCLUSIONS", "")
    if not name:
        return "", [], []
    path = Path(request.context, "build_files/exclusions.toml")
    try:
        import tomllib
    except ImportError as e:  # python < 3.11
        raise EngineError("PODS_EXCLUSIONS needs python3 >= 3.11 (tomllib) on the host") from e
    try:
        lists = tomllib.loads(path.read_text())
    except FileNotFoundError as e:
        raise EngineError(f"{path}: missing from the build context; add build_files:exclusions") from e
    except tomllib.TOMLDecodeError as e:
        raise EngineError(f"build_files/exclusions.toml: not valid TOML ({e}); fix the file") from e
    if not isinstance(lists.get(name), dict):
        known = ", ".join(sorted(k for k, v in lists.items() if isinstance(v, dict))) or "none"
        raise EngineError(
            f"build_files/exclusions.toml: no list [{name}] (PODS_EXCLUSIONS={name}); lists: {known}. "
            "Set PODS_EXCLUSIONS to one of them, or to empty to build everything"
        )
    names = sorted(lists[name])
    lacks: set[str] = set()
    parent = request.build_args.get("BASE_IMAGE")
    if parent:
        parent_labels = image_labels(parent) or {}
        lacks.update(x for x in parent_labels.get(EXCLUDED_LABEL, "").split(",") if x)
    lock_path = Path(request.context, "build_files", request.pod, "pod.lock.json")
    if lock_path.exists():
        lock = json.loads(lock_path.read_text())
        declared = {item["name"] for item in lock.get("vendor", [])}
        lacks.update(declared & set(names))
    return name, names, sorted(lacks)


STARTED = time.monotonic()


def checked() -> str:
    # Pants logs a build's output only when it differs from the previous run's, so an
    # unchanged "skipped" line would go unsaid on the second run; when and how long the
    # check took makes each line new, and is worth knowing anyway.
    return f" (checked at {time.strftime('%H:%M:%S')} in {(time.monotonic() - STARTED) * 1000:.0f} ms)"


def log_path(pod: str, key: str) -> Path:
    here = Path(__file__).resolve().parent
    logs = here.parent.parent / ".pods" / "logs"
    try:
        logs.mkdir(parents=True, exist_ok=True)
    except OSError:
        logs = Path(tempfile.gettempdir()) / "pods-logs"
        logs.mkdir(parents=True, exist_ok=True)
    return logs / f"{pod}-{key[:12]}.log"


def skipped(request: BuildRequest, key: str, image: str, how: str) -> int:
    """Tell the user, and Pants (which parses the image ID from this line), what stood in for a build."""
    say(f"{request.pod}: key {key[:12]} {how}; build skipped{checked()}")
    print(f"Successfully built {image.removeprefix('sha256:')}")
    return 0


def found(request: BuildRequest, key: str, image: str, how: str) -> int:
    podman("tag", image, *request.tags)
    remember(request, image, key)
    return skipped(request, key, image, how)


def local_image_with_key(request: BuildRequest, key: str) -> str | None:
    # Fast path: Pants' content tag already names an image made from these inputs.
    if request.tags and storage_has_name(request.tags[0]) is not False:
        found = local_image(request.tags[0])
        if found and found[1].get(KEY_LABEL) == key:
            return found[0]
    images = storage_images()
    if images is not None:
        # Under another tag: the machine-wide key index, written whenever a wrapper on this
        # machine built, pulled or found an image for this storage.
        try:
            index = key_index()
        except OSError:
            index = None  # no index we can trust: ask the engine
        if index:
            try:
                image = (index / key).read_text().strip()
            except OSError:
                return None
            return image if any(i.get("id") == image for i in images) else None
    # Ask the engine for the label (~1 s on a full storage).
    result = podman("images", "--quiet", "--no-trunc", "--filter", f"label={KEY_LABEL}={key}", check=False)
    ids = result.stdout.split() if result.returncode == 0 else []
    return ids[0] if ids else None


def cache_ref(request: BuildRequest, key: str) -> str | None:
    registry = os.environ.get("PODS_CACHE_REGISTRY", "").rstrip("/")
    if not registry:
        return None
    return f"{registry}/{request.repository.rsplit('/', 1)[-1]}:{key}"


def pull_from_cache(ref: str) -> bool:
    result = podman("pull", "--quiet", *tls_args(ref), ref, check=False)
    if result.returncode == 0:
        return True
    err = (result.stderr or "").strip().splitlines()
    reason = err[-1] if err else f"exit {result.returncode}"
    if "manifest unknown" not in reason and "not found" not in reason:
        say(f"cache registry: could not pull {ref} ({reason}); building instead")
    return False


def push_to_cache(image: str, ref: str) -> None:
    result = podman("push", "--quiet", *tls_args(ref), image, ref, check=False)
    if result.returncode == 0:
        say(f"cache registry: pushed {ref}")
    else:
        err = (result.stderr or "").strip().splitlines()
        say(f"cache registry: could not push {ref} ({err[-1] if err else result.returncode}); continuing")


def working_containers() -> dict[str, int]:
    """Containers that exist only in storage (buildah's working containers): ID -> created."""
    result = podman("ps", "--all", "--external", "--format", "json", check=False)
    if result.returncode != 0:
        return {}
    listed = json.loads(result.stdout or "[]")
    return {c["Id"]: int(c.get("Created", 0)) for c in listed if c.get("State") == "storage"}


def remove_working_containers(before: dict[str, int], started_monotonic: float) -> int:
    since = time.time() - (time.monotonic() - started_monotonic) - 1
    ours = [cid for cid, created in working_containers().items() if cid not in before and created >= since]
    for cid in ours:
        podman("rm", "--force", cid, check=False)
    return len(ours)


@contextlib.contextmanager
def key_lock(pod: str, key: str):
    """One build per input key on this machine at a time.

    Two `./pants package` runs (two worktrees, two terminals, a CI retry) may ask for the
    same image at once; the second waits for the first and then finds the image built.
    """
    try:
        folder = private_tmp(f"pods-locks-{os.getuid()}")
    except OSError:
        folder = state_dir("locks")  # still one build per key in this checkout
    with open(folder / f"{key}.lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"{pod}: key {key[:12]} is being built by another run; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def unchanged_since_last_run(request: BuildRequest) -> bool:
    """The no-op fast path: Pants' first tag ({pants.hash}) already names one of our images.

    That tag hashes the whole context, the build args and the parent's image ID, so an
    image under it was made from exactly these inputs; nothing needs hashing again. It
    matters because Pants asks for every build on every run.
    """
    if not request.tags or storage_has_name(request.tags[0]) is False:
        return False
    fmt = '{{.Id}} {{index .Labels "' + KEY_LABEL + '"}} {{json .RepoTags}}'
    result = podman("image", "inspect", "--format", fmt, request.tags[0], check=False)
    if result.returncode != 0:
        return False
    image, key, tags = result.stdout.strip().split(" ", 2)
    if not key or key == "<no value>":
        return False
    missing = [t for t in request.tags if t not in json.loads(tags)]
    if missing:
        podman("tag", image, *missing)
    remember(request, image, key)
    skipped(request, key, image, "exists locally")
    return True


# --- the no-op check without the engine --------------------------------------------------
# Pants asks for every image on every run, one after another down each chain, and one
# `podman image inspect` costs ~0.1 s of podman's own start: most of a no-op. Podman's
# storage lists its images in a JSON file it replaces atomically, so the check reads
# that, against what this checkout recorded for the tag when it last built or found the
# image. Anything unexpected (another storage, a moved tag) falls back to asking podman.


def storage_record_key() -> str:
    conf = os.environ.get("CONTAINERS_STORAGE_CONF", "")
    try:
        stamp = os.stat(conf).st_mtime_ns if conf else 0
    except OSError:
        stamp = -1
    return hashlib.sha256(f"{os.getuid()}\0{conf}\0{stamp}".encode()).hexdigest()[:32]


def images_file(ask: bool) -> Path | None:
    """The image list of the storage podman uses here; asks podman (slow) only if `ask`."""
    record = state_dir("engine") / f"storage-{storage_record_key()}.json"
    with contextlib.suppress(OSError, ValueError, KeyError):
        return Path(json.loads(record.read_text())["images"])
    if not ask:
        return None
    result = podman("info", "--format", "{{.Store.GraphRoot}}\t{{.Store.GraphDriverName}}", check=False)
    if result.returncode != 0 or "\t" not in result.stdout:
        return None
    root, driver = result.stdout.strip().split("\t")
    path = Path(root) / f"{driver}-images" / "images.json"
    write_json(record, {"images": str(path)})
    return path


def seen_record(tag: str) -> Path:
    return state_dir("engine") / "seen" / f"{hashlib.sha256(tag.encode()).hexdigest()[:32]}.json"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


def storage_images() -> list[dict] | None:
    """Podman's image list for this storage (ID, names), or None when it cannot be read."""
    listed = images_file(ask=False)
    try:
        return json.loads(listed.read_text()) if listed else None
    except (OSError, ValueError):
        return None


def storage_has_name(ref: str) -> bool | None:
    """Whether some image is named `ref`; None when the list cannot be read (ask podman)."""
    first, _, rest = ref.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost") or ":" not in rest:
        return None  # a short name: podman's list holds it normalised; let podman resolve it
    images = storage_images()
    if images is None:
        return None
    return any(ref in (i.get("names") or []) for i in images)


def private_tmp(name: str) -> Path:
    """A folder in the shared temp dir that only this user can have written to.

    Machine-wide records live there (every checkout of this user shares them); a folder of
    that name made by someone else could point a key at another of our images, so it is
    refused (OSError), and callers fall back to asking podman or to the checkout.
    """
    folder = Path(tempfile.gettempdir(), name)
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    st = folder.lstat()
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise OSError(f"{folder} is not a private folder of this user")
    return folder


def key_index() -> Path:
    """input key -> image ID, for every checkout on this machine that uses this storage."""
    return private_tmp(f"pods-keys-{storage_record_key()}")


def remember(request: BuildRequest, image: str, key: str) -> None:
    """Record which image Pants' content tag and this key name, for the next runs' engine-free checks."""
    if not images_file(ask=True):
        return
    image = image.removeprefix("sha256:")
    with contextlib.suppress(OSError):
        index = key_index()
        tmp = index / f".{key}.{os.getpid()}"
        tmp.write_text(image)
        tmp.replace(index / key)
        if request.tags:
            write_json(seen_record(request.tags[0]), {"id": image, "key": key})


def seen_unchanged(request: BuildRequest) -> bool:
    if not request.tags:
        return False
    try:
        seen = json.loads(seen_record(request.tags[0]).read_text())
    except (OSError, ValueError):
        return False
    entry = next((i for i in storage_images() or [] if i.get("id") == seen.get("id")), None)
    if not entry or not set(request.tags) <= set(entry.get("names") or []):
        return False
    skipped(request, seen["key"], seen["id"], "exists locally")
    return True


def build(argv: list[str], secrets: list[str]) -> int:
    request = parse_build(argv)
    if seen_unchanged(request) or unchanged_since_last_run(request):
        return 0
    key = input_key(request)
    with key_lock(request.pod, key):
        existing = local_image_with_key(request, key)
        if existing:
            return found(request, key, existing, "exists locally")
        ref = cache_ref(request, key)
        if ref and pull_from_cache(ref):
            return found(request, key, image_id(ref), f"pulled from {ref.rsplit('/', 1)[0]}")
        return build_image(request, key, argv, secrets, ref)


def build_image(request: BuildRequest, key: str, argv: list[str], secrets: list[str], ref: str | None) -> int:
    list_name, list_names, lacks = exclusions(request)
    extra = [*secrets, "--label", f"{KEY_LABEL}={key}"]
    if list_name:
        extra += [
            "--build-arg",
            f"PODS_EXCLUDE={','.join(list_names)}",
            "--label",
            f"{LIST_LABEL}={list_name}",
            "--label",
            f"{EXCLUDED_LABEL}={','.join(lacks)}",
        ]
    log = log_path(request.pod, key)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        iid = Path(tmp, "iid")
        # Docker image format: OCI image configs have no HEALTHCHECK; podman drops it silently.
        cmd = ["podman", "build", "--format", "docker", "--iidfile", str(iid), *extra, *argv]
        before = working_containers()
        with open(log, "w") as out:
            inputs = [p.relative_to(request.context).as_posix() for p in context_files(Path(request.context))]
            out.write(f"pods: input key {key} from {', '.join(inputs)} and build args {request.build_args}\n")
            out.flush()
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
            try:
                rc = proc.wait()
            except KeyboardInterrupt:
                # Ctrl-C reaches podman too (same process group); let it stop on its own
                # rather than kill it mid-write. Tags are only applied to a finished
                # image, so nothing half-built carries a key.
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                # An interrupted `podman build` leaves its working container behind
                # (buildah's "<image>-working-container"); remove the ones this build made.
                left = remove_working_containers(before, started)
                say(
                    f"{request.pod}: build interrupted; nothing was tagged"
                    + (f", {left} working container(s) removed" if left else "")
                    + f" (log: {log})"
                )
                return 130
        if rc != 0:
            lines = log.read_text(errors="replace").splitlines()
            print("\n".join(lines[-60:]))
            say(f"{request.pod}: build failed (exit {rc}); whole log: {log}")
            return rc
        built = iid.read_text().strip()
    say(
        f"{request.pod}: key {key[:12]} built in {time.monotonic() - started:.0f} s"
        + (f", without {', '.join(lacks)} (list {list_name})" if lacks else "")
        + f"; log: {log}"
    )
    if ref:
        push_to_cache(built, ref)
    remember(request, built, key)
    print(f"Successfully built {built.removeprefix('sha256:')}")
    return 0


# --- push -----------------------------------------------------------------------------


def state_dir(name: str) -> Path:
    """A folder under the checkout's .pods/ (or the temp dir when that is not writable)."""
    folder = Path(__file__).resolve().parent.parent.parent / ".pods" / name
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        folder = Path(tempfile.gettempdir()) / f"pods-{name}"
        folder.mkdir(parents=True, exist_ok=True)
    return folder


# --- what is where, cheaply ----------------------------------------------------------------
# Pants runs one `docker push` per tag, one after another: four engine calls per image on
# a re-publish that uploads nothing. Each answers from files where it can: the local
# image from podman's image list, its labels from a record (an image ID's labels never
# change), and the registry's tags from one concurrent read of all the image's tags,
# made by whichever call comes first.


@functools.cache
def pushed_image(ref: str) -> tuple[str, tuple[str, ...]]:
    """(image ID, every name) of the local image `ref` names."""
    if storage_has_name(ref):
        entry = next((i for i in storage_images() or [] if ref in (i.get("names") or [])), None)
        if entry:  # else removed between the two reads: ask podman
            return entry["id"], tuple(entry.get("names") or ())
    found = local_image(ref)
    if not found:
        raise EngineError(f"{ref}: no such local image; run `./pants package` first")
    store_labels(found[0], found[1])
    return found[0], tuple(found[2])


def labels_record(image: str) -> Path:
    return state_dir("engine") / "labels" / f"{image}.json"


def store_labels(image: str, labels: dict[str, str]) -> None:
    wanted = {k: v for k, v in labels.items() if k in (KEY_LABEL, LIST_LABEL, EXCLUDED_LABEL)}
    with contextlib.suppress(OSError):
        write_json(labels_record(image), wanted)


def push_labels(image: str) -> dict[str, str]:
    """The labels a push decides by (key, exclusions) of a local image ID."""
    with contextlib.suppress(OSError, ValueError):
        return json.loads(labels_record(image).read_text())
    found = local_image(image)
    if not found:
        raise EngineError(f"{image[:12]}: no such local image; run `./pants package` first")
    store_labels(image, found[1])
    return found[1]


# A registry read is trusted this long: long enough for the other tags of the same
# `./pants publish` (seconds apart), short enough that a tag someone else moved since is
# seen by the next run. A tag read as elsewhere is simply pushed (pushes are idempotent).
REMOTE_TRUST_SECONDS = 60


def remote_record(repository: str) -> Path:
    return state_dir("push") / f"remote-{hashlib.sha256(repository.encode()).hexdigest()[:24]}.json"


def read_remote(ref: str) -> tuple[str, dict] | None:
    """The manifest a registry tag points at, with its digest, or None."""
    cmd = ["skopeo", "inspect", "--raw", *tls_args(ref), f"docker://{ref}"]
    result = subprocess.run(cmd, capture_output=True)
    if result.returncode != 0:
        return None
    return "sha256:" + hashlib.sha256(result.stdout).hexdigest(), json.loads(result.stdout)


def remote_tags(refs: list[str]) -> dict[str, list | None]:
    """ref -> [manifest digest, config digest (= podman's image ID)] or None, for tags of one
    repository: from this run's record where fresh, else read at once for all of them."""
    record = remote_record(split_ref(refs[0])[0])
    now = time.time()
    try:
        known = json.loads(record.read_text())
    except (OSError, ValueError):
        known = {}
    fresh = {r: v for r, v in known.items() if now - v[0] < REMOTE_TRUST_SECONDS}
    stale = [r for r in refs if r not in fresh]
    if stale:
        import concurrent.futures  # here: builds, which never read a registry, skip its import

        with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(stale))) as pool:
            for r, found in zip(stale, pool.map(read_remote, stale), strict=True):
                digests = [found[0], (found[1].get("config") or {}).get("digest")] if found else None
                fresh[r] = [now, digests]
        with contextlib.suppress(OSError):
            write_json(record, fresh)
    return {r: fresh[r][1] for r in refs}


def note_remote(ref: str, manifest_digest: str, config_digest: str) -> None:
    """Record what we just made `ref` point at, for the rest of this publish."""
    record = remote_record(split_ref(ref)[0])
    try:
        known = json.loads(record.read_text())
    except (OSError, ValueError):
        known = {}
    known[ref] = [time.time(), [manifest_digest, config_digest]]
    with contextlib.suppress(OSError):
        write_json(record, known)


# What this checkout pushed or found in place, so that `latest`/`stable`, pushed right
# after their siblings by the same `./pants publish`, are not refused when that took
# longer than a registry read is trusted (a big first upload, a slow signature).
PUSHED_TRUST_SECONDS = 900


def record_pushed(ref: str, config_digest: str) -> None:
    path = state_dir("push") / "pushed.json"
    try:
        pushed = json.loads(path.read_text())
    except (OSError, ValueError):
        pushed = {}
    now = time.time()
    pushed = {r: v for r, v in pushed.items() if now - v[1] < PUSHED_TRUST_SECONDS}
    pushed[ref] = [config_digest, now]
    write_json(path, pushed)


def recently_pushed(ref: str, config_digest: str) -> bool:
    try:
        digest, when = json.loads((state_dir("push") / "pushed.json").read_text())[ref]
    except (OSError, ValueError, KeyError):
        return False
    return digest == config_digest and time.time() - when < PUSHED_TRUST_SECONDS


def push(ref: str) -> int:
    local, names = pushed_image(ref)
    want = f"sha256:{local}"
    repository, tag = split_ref(ref)
    siblings = [n for n in names if split_ref(n)[0] == repository]
    remote = remote_tags(sorted(set(siblings) | {ref}))
    if tag in MOVING_TAGS:
        labels = push_labels(local)
        lacks = labels.get(EXCLUDED_LABEL, "")
        if lacks:
            raise EngineError(
                f"{ref}: refusing to move `{tag}`: built without {lacks.replace(',', ', ')} "
                f"(exclusion list {labels.get(LIST_LABEL, '?')}); rebuild with PODS_EXCLUSIONS= "
                "where those upstreams are reachable"
            )
        # Only after every other tag of this image is in place here, pointing at this image.
        fixed = [t for t in siblings if split_ref(t)[1] not in MOVING_TAGS]
        missing = [
            t for t in fixed if not recently_pushed(t, want) and (remote[t] or [None, None])[1] != want
        ]
        if not fixed or missing:
            raise EngineError(
                f"{ref}: refusing to move `{tag}`: {', '.join(missing) or 'no key tag'} "
                "not pushed yet; re-run `./pants publish`"
            )
    if remote[ref] and remote[ref][1] == want:
        record_pushed(ref, want)
        say(f"{ref}: already points at {local[:12]}; nothing to upload{checked()}")
        return 0
    attempts = int(os.environ.get("PODS_PUSH_ATTEMPTS", "3") or 3)
    for attempt in range(1, attempts + 1):
        with tempfile.TemporaryDirectory() as tmp:
            digest_file = Path(tmp, "digest")
            result = podman(
                "push", "--quiet", "--digestfile", str(digest_file), *tls_args(ref), ref, check=False
            )
            if result.returncode == 0:
                digest = digest_file.read_text().strip()
                record_pushed(ref, want)
                note_remote(ref, digest, want)
                say(f"{ref}: pushed {local[:12]} as {digest}")
                return 0
        err = (result.stderr or "").strip().splitlines()
        reason = err[-1] if err else f"exit {result.returncode}"
        if "unauthorized" in reason.lower() or "authentication required" in reason.lower():
            raise EngineError(
                f"{ref}: the registry refused our credentials ({reason}); log in with "
                f"`podman login {registry_host(ref)}` or set REGISTRY_AUTH_FILE"
            )
        if attempt < attempts:
            say(f"{ref}: push attempt {attempt}/{attempts} failed ({reason}); retrying")
            time.sleep(min(2**attempt, 10))
    raise EngineError(
        f"{ref}: push failed after {attempts} attempts ({reason}); tags that moved still point at a "
        "complete image; re-run `./pants publish`"
    )


def main(argv: list[str]) -> int:
    try:
        if argv and argv[0] == "build":
            secrets = []
            while len(argv) > 2 and argv[1] == "--pods-secret":
                secrets += ["--secret", argv[2]]
                argv = [argv[0], *argv[3:]]
            return build(argv[1:], secrets)
        if len(argv) == 2 and argv[0] == "push":
            rc = push(argv[1])
            repository, tag = split_ref(argv[1])
            if rc == 0 and KEY_RE.fullmatch(tag):
                # SBOM, signature and attestation go to the key tag's digest (supply_chain.py).
                # Imported here: a build (every image, every run) does not need it.
                import supply_chain

                # The registry's manifest for this tag, as push() just read or wrote it.
                digests = remote_tags([argv[1]])[argv[1]]
                known = (digests[0], {"config": {"digest": digests[1]}}) if digests else None
                try:
                    supply_chain.publish_supply_chain(
                        argv[1], repository, pushed_image(argv[1])[0], known=known
                    )
                except supply_chain.SupplyChainError as e:
                    raise EngineError(str(e)) from e
            return rc
        raise EngineError(f"pods_engine: unsupported command {' '.join(argv[:2])}")
    except EngineError as e:
        print(f"pods: error: {e}", file=sys.stderr, flush=True)
        return 1


def cli() -> int:
    """The wrapper's entry point. The wrapper imports this module rather than running it as
    a script, so Python reuses its compiled bytecode: ~35 ms less on every image check."""
    if shutil.which("podman") is None:
        print("pods: error: podman is not on PATH; run ./pants once as root to install it", file=sys.stderr)
        return 127
    return main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(cli())
