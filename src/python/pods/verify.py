"""`pods verify POD [--against REF]`: rebuild a pod from scratch and check it is bit-for-bit
the image the user holds (or a registry serves).

The rebuild is what a stranger would do: a copy of the working tree in a temp folder (the
files git tracks or would track, uncommitted edits included), Pants with no daemon and
empty caches, an empty private engine storage and no cache registry, so nothing built
before can stand in for a build. Then each pod of the chain, root first, is compared with
its reference: input key first (different inputs are not a reproducibility failure), then
image ID (the config digest) and every layer's diff ID. A mismatch names the first layer
the pod itself made that differs, the build step that made it, and the first files that
differ in it, read by streaming both layer tars (pods.layers).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pods_contract import KEY_LABEL

from pods import layers
from pods.container import _skopeo, registry_manifest, tls_args
from pods.errors import PodsError
from pods.graph import load_graph
from pods.settings import load_settings

REGISTRY = "docker://"
FILES_SHOWN = 20
# The nested Pants must not inherit the variables of the Pants (or pex) that runs us.
_INHERITED_PREFIXES = ("PEX_", "PANTS_", "PYTHON", "VIRTUAL_ENV", "PODS_BUILDROOT", "PODS_REPO")
_LOG_LINES_ON_FAILURE = 40

Manifest = dict[str, layers.Entry]
# Manifests of the asked layers (by index), read in one pass over the image.
LayerReader = Callable[[Sequence[int]], dict[int, Manifest]]


@dataclass(frozen=True)
class Image:
    """What is compared of one image, and a way to read its layers."""

    ref: str
    image_id: str  # the config digest, hex
    key: str | None  # the input-key label
    diff_ids: tuple[str, ...]
    steps: tuple[str, ...]  # the history's created_by of each layer (empty-layer steps left out)
    config: dict[str, Any]  # what else the config digest covers, named for a report
    read_layers: LayerReader = field(compare=False, repr=False)

    def manifests(self, indexes: Sequence[int]) -> dict[int, Manifest]:
        """An index the image does not have reads as an empty layer."""
        present = [i for i in indexes if i < len(self.diff_ids)]
        found = self.read_layers(present) if present else {}
        return {i: found.get(i, {}) for i in indexes}


def digest_hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _image(ref: str, image_id: str, config: dict[str, Any], reader: LayerReader) -> Image:
    """From an OCI image config (or podman's inspect, which has the same parts under other names)."""
    inner = config.get("config") or config.get("Config") or {}
    labels = inner.get("Labels") or config.get("Labels") or {}
    history = config.get("history") or config.get("History") or []
    diff_ids = (config.get("rootfs") or config.get("RootFS") or {}).get("diff_ids") or (
        config.get("RootFS") or {}
    ).get("Layers", [])
    steps = tuple(h.get("created_by", "") for h in history if not h.get("empty_layer"))
    compared = {
        "created": config.get("created") or config.get("Created"),
        "history": [(h.get("created"), h.get("created_by"), h.get("comment")) for h in history],
        "labels": labels,
        "config": {k: v for k, v in inner.items() if k != "Labels"},
    }
    return Image(ref, digest_hex(image_id), labels.get(KEY_LABEL), tuple(diff_ids), steps, compared, reader)


# --- local images ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Storage:
    """An engine storage: the user's (env None) or a private one (its environment)."""

    wrapper: str
    env: Mapping[str, str] | None = None

    def run(self, args: Sequence[str], timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.wrapper, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(self.env) if self.env is not None else None,
        )

    def image(self, ref: str) -> Image:
        found = self.run(["image", "inspect", ref], timeout=120)
        if found.returncode != 0:
            raise PodsError(
                ref, "no such image in this engine storage; name a local image or a docker:// reference"
            )
        info = json.loads(found.stdout)[0]
        diff_ids = info["RootFS"]["Layers"]
        return _image(ref, info["Id"], info, lambda indexes: self.saved_layers(info["Id"], diff_ids, indexes))

    def saved_layers(
        self, image_id: str, diff_ids: Sequence[str], indexes: Sequence[int]
    ) -> dict[int, Manifest]:
        """The asked layers' manifests, streamed out of one `save --format docker-archive`
        (which names each layer <diff ID>.tar, bottom first): nothing is written to disk."""
        wanted: dict[str, list[int]] = {}
        for i in indexes:
            wanted.setdefault(f"{digest_hex(diff_ids[i])}.tar", []).append(i)
        found: dict[int, Manifest] = {}
        with tempfile.TemporaryFile() as errors:
            proc = subprocess.Popen(
                [self.wrapper, "save", "--format", "docker-archive", image_id],
                stdout=subprocess.PIPE,
                stderr=errors,
                env=dict(self.env) if self.env is not None else None,
            )
            assert proc.stdout is not None
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
                    for member in archive:
                        if member.name in wanted and member.isreg():
                            read = layers.manifest(archive.extractfile(member))  # type: ignore[arg-type]
                            found.update((i, read) for i in wanted.pop(member.name))
                            if not wanted:
                                return found
            finally:
                proc.terminate()
                proc.wait()
            errors.seek(0)
            why = errors.read().decode(errors="replace").strip().splitlines()
            raise PodsError(
                image_id[:12], f"`save` gave no layer {', '.join(wanted)}: {why[-1] if why else 'no output'}"
            )

    def remove_all(self) -> None:
        self.run(["rmi", "--all", "--force"], timeout=900)


# --- registry images ------------------------------------------------------------------------


def registry_image(ref: str, scratch: Path) -> Image:
    """A `docker://REGISTRY/REPO:TAG` image: its config digest and config from the registry;
    its layers copied (uncompressed) into `scratch` only if a layer must be read."""
    name = ref.removeprefix(REGISTRY)
    manifest = registry_manifest(name)
    if manifest.returncode != 0:
        raise PodsError(ref, f"cannot read its manifest: {manifest.last_error_line('no output')}")
    document = json.loads(manifest.stdout)
    if "config" not in document:
        raise PodsError(ref, "is a multi-platform index, not an image; name the linux/amd64 image's digest")
    config = _skopeo_json(["inspect", "--config", *tls_args(name), ref], ref)
    copied = scratch / "registry-image"

    def read_layers(indexes: Sequence[int]) -> dict[int, Manifest]:
        if not copied.exists():
            argv = [_skopeo(), "copy", "--quiet", "--dest-decompress", *tls_args(name), ref, f"dir:{copied}"]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
            if done.returncode != 0:
                raise PodsError(ref, f"`skopeo copy` failed: {done.stderr.strip().splitlines()[-1:]}")
        blobs = json.loads((copied / "manifest.json").read_text())["layers"]
        out = {}
        for i in indexes:
            with open(copied / digest_hex(blobs[i]["digest"]), "rb") as blob:
                out[i] = layers.manifest(blob)
        return out

    return _image(ref, document["config"]["digest"], config, read_layers)


def _skopeo_json(args: list[str], ref: str) -> dict[str, Any]:
    done = subprocess.run([_skopeo(), *args], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()
        raise PodsError(ref, f"`skopeo {args[0]}` failed: {last[-1] if last else 'no output'}")
    return json.loads(done.stdout)


# --- comparing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    pod: str
    ok: bool
    lines: tuple[str, ...]
    first: str = ""  # where it first differs, for the closing line


def compare(
    pod: str,
    reference: Image,
    rebuilt: Image,
    inherited: int = 0,
    files: int = FILES_SHOWN,
    every_layer: bool = False,
) -> Verdict:
    """Is `rebuilt` bit-for-bit `reference`? If not, say where, as precisely as the images tell.

    `inherited`: how many bottom layers come from the parent; a difference there is the
    parent's and is reported with it, so the pod's own first differing layer is explained.
    `every_layer`: explain each of its differing layers file by file, not just the first.
    """
    if reference.key != rebuilt.key:
        return Verdict(
            pod,
            False,
            (
                f"{pod}: INPUTS DIFFER: input key {_short(reference.key)} (reference) vs "
                f"{_short(rebuilt.key)} (rebuilt): the two were built from different inputs, which "
                f"is not a reproducibility failure; rebuild the reference from this tree "
                f"(./pants package build_files/{pod}:{pod}) or check out the reference's commit",
            ),
            f"{pod} inputs",
        )
    count = len(rebuilt.diff_ids)
    if reference.image_id == rebuilt.image_id:
        return Verdict(pod, True, (f"{pod}: reproducible (image {rebuilt.image_id[:12]}, {count} layers)",))
    differing = [
        i
        for i in range(max(len(reference.diff_ids), count))
        if _at(reference.diff_ids, i) != _at(rebuilt.diff_ids, i)
    ]
    head = f"{pod}: DIFFERS: image {reference.image_id[:12]} (reference) vs {rebuilt.image_id[:12]} (rebuilt)"
    if not differing:
        what = ", ".join(_config_differences(reference.config, rebuilt.config)) or "bytes of the config"
        return Verdict(
            pod, False, (f"{head}; all {count} layers match; the image config differs in: {what}",), pod
        )
    own = [i for i in differing if i >= inherited]
    listed = ", ".join(map(str, differing))
    head += f"; layers differ: {listed} (of {len(reference.diff_ids)} / {count})"
    if not own:
        return Verdict(pod, False, (f"{head}: only layers of its parent; its own layers match",), pod)
    index = own[0]
    explained = own if every_layer else own[:1]
    # One pass over each image for every layer explained.
    old, new = reference.manifests(explained), rebuilt.manifests(explained)
    lines = [head]
    for i in own:
        if i in old:
            title = "first differing layer" if i == index else "also differs: layer"
            lines += layer_report(reference, rebuilt, i, old[i], new[i], files, title)
        else:
            lines.append(f"  also differs: layer {i}, made by: {_step(_at(rebuilt.steps, i))}")
    return Verdict(pod, False, tuple(lines), f"{pod} layer {index}")


def _at(items: Sequence[str], index: int) -> str | None:
    return items[index] if index < len(items) else None


def _short(key: str | None) -> str:
    return key[:12] if key else "(none: no input-key label)"


def _config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    out = [name for name in ("created", "labels", "config") if old.get(name) != new.get(name)]
    for i, (a, b) in enumerate(zip(old.get("history", []), new.get("history", []), strict=False)):
        if a != b:
            parts = [
                what for what, x, y in zip(("created", "created_by", "comment"), a, b, strict=True) if x != y
            ]
            out.append(f"history[{i}] {'/'.join(parts)}")
            break  # the first is enough to act on; the rest are usually the same cause
    if len(old.get("history", [])) != len(new.get("history", [])):
        out.append("history length")
    return out


def layer_report(
    reference: Image, rebuilt: Image, index: int, old: Manifest, new: Manifest, files: int, title: str
) -> list[str]:
    lines = [
        f"  {title} {index}: {_at(reference.diff_ids, index) or 'none'} (reference) "
        f"vs {_at(rebuilt.diff_ids, index) or 'none'} (rebuilt)",
    ]
    made_ref, made_new = _at(reference.steps, index), _at(rebuilt.steps, index)
    lines.append(f"  made by: {_step(made_new or made_ref)}")
    if made_ref and made_new and made_ref != made_new:
        lines.append(f"  (reference's step: {_step(made_ref)})")
    changes = layers.diff(old, new)
    if not changes:
        lines.append(
            "  no file differs in path, type, mode, owner, size, content, link or mtime: "
            "the tars differ in entry order or headers"
        )
    else:
        clock = sum(1 for c in changes if layers.mtime_only(c))
        lines.append(
            f"  paths that differ in it: {len(changes)}" + (f" ({clock} only in mtime)" if clock else "")
        )
        lines += [f"    {line}" for line in layers.summarize(layers.content_first(changes), files)]
    return lines


def _step(created_by: str | None, width: int = 160) -> str:
    text = " ".join((created_by or "(no history entry)").split())
    return text if len(text) <= width else text[: width - 3] + "..."


# --- rebuilding -----------------------------------------------------------------------------


def copy_tree(source: Path, dest: Path) -> int:
    """The files git tracks or would track (not ignored), as they are on disk; returns how many."""
    listed = subprocess.run(
        ["git", "-C", str(source), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout
    copied = 0
    for name in filter(None, listed.split(b"\0")):
        src = source / os.fsdecode(name)
        if not os.path.lexists(src):  # deleted in the working tree, not yet in the index
            continue
        target = dest / os.fsdecode(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target, follow_symlinks=False)
        copied += 1
    return copied


def private_storage(root: Path) -> Path:
    """storage.conf of an empty storage under `root`, for CONTAINERS_STORAGE_CONF."""
    root.mkdir(parents=True, exist_ok=True)
    conf = root / "storage.conf"
    conf.write_text(f'[storage]\ndriver = "overlay"\nrunroot = "{root}/run"\ngraphroot = "{root}/graph"\n')
    return conf


def nested_env(storage_conf: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    # No cache registry: an image pulled from it would prove nothing about this build.
    env.update(CONTAINERS_STORAGE_CONF=str(storage_conf), PODS_CACHE_REGISTRY="")
    return env


def pants_command(work: Path, chain: Sequence[str]) -> list[str]:
    # --named-caches-dir stays the default: it holds pip's downloads, not build results.
    return [
        "./pants",
        "--no-pantsd",
        "--no-local-cache",
        f"--local-store-dir={work / 'lmdb_store'}",
        # Pants wants the dist dir inside its buildroot: the copy's own dist/.
        "--pants-distdir=dist",
        "package",
        *(f"build_files/{pod}:{pod}" for pod in chain),
    ]


def _progress(line: str) -> str | None:
    """The nested log's lines worth a user's eye: the engine's, one or two per image."""
    line = line.strip()
    return line if line.startswith("pods: ") else None


def rebuild(repo: Path, chain: Sequence[str], work: Path, say: Callable[[str], None]) -> dict[str, str]:
    """Build `chain` from a copy of `repo` into a private storage under `work`; {pod: image ID}."""
    started = time.monotonic()
    copied = copy_tree(repo, work / "repo")
    say(f"copied {copied} files of {repo} to {work / 'repo'}")
    env = nested_env(private_storage(work / "storage"))
    log = work / "pants.log"
    say(f"building {', '.join(chain)} with empty caches into an empty storage (log: {log})")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            pants_command(work, chain),
            cwd=work / "repo",
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                out.write(line)
                out.flush()  # the log is there to be tailed while the build runs
                shown = _progress(line)
                if shown:
                    say(f"  {shown}")
        finally:
            # On Ctrl-C, Pants got the signal too; wait so that nothing writes into the
            # storage while it is removed.
            returncode = proc.wait()
    if returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-_LOG_LINES_ON_FAILURE:]
        print("\n".join(tail), file=sys.stderr)
        raise PodsError(log.name, f"the rebuild failed (Pants exited {returncode}); its last lines are above")
    say(f"rebuilt in {time.monotonic() - started:.0f} s")
    return {pod: image_id_of(work / "repo/dist/pods", pod) for pod in chain}


def image_id_of(info_dir: Path, pod: str) -> str:
    path = info_dir / f"{pod}.docker-info.json"
    try:
        image_id = json.loads(path.read_text())["image_id"]
    except (OSError, ValueError, KeyError):
        raise PodsError(
            str(path),
            f"no image_id of {pod}; expected the docker-info.json of a package run: "
            f"run `./pants package build_files/{pod}:{pod}`",
        ) from None
    if not image_id or image_id == "<unknown>":
        raise PodsError(str(path), f"image_id is {image_id!r}; expected the ID the engine reported for {pod}")
    return image_id


def unmount_under(root: Path) -> None:
    """The storage's overlay mounts under `root`, deepest first: rmtree cannot cross them."""
    with open("/proc/self/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted((p for p in points if p.startswith(f"{root}/")), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True)


@contextlib.contextmanager
def workspace(wrapper: str, say: Callable[[str], None]) -> Iterator[tuple[Path, Storage]]:
    """A temp folder and the private storage in it; both gone afterwards, also on failure or
    Ctrl-C."""
    work = Path(tempfile.mkdtemp(prefix="pods-verify-"))
    storage = Storage(wrapper, {**os.environ, "CONTAINERS_STORAGE_CONF": str(work / "storage/storage.conf")})
    try:
        yield work, storage
    finally:
        if (work / "storage/storage.conf").exists():
            storage.remove_all()
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
        if work.exists():
            say(f"could not remove {work} entirely; remove it by hand")


# --- the command ----------------------------------------------------------------------------


def add_parser(sub: argparse._SubParsersAction) -> None:
    verify = sub.add_parser(
        "verify",
        help="rebuild a pod and its ancestors from scratch, in an empty private storage, and "
        "check each is bit-for-bit the reference image (docs/reproducible.md)",
    )
    verify.add_argument(
        "pods",
        nargs="+",
        metavar="POD",
        help="the pods to rebuild, or `all` (their ancestors are rebuilt and checked too; "
        "one rebuild for all of them)",
    )
    verify.add_argument(
        "--against",
        metavar="REF",
        help=f"the reference for POD itself: a local image name or ID, or {REGISTRY}REGISTRY/REPO:TAG "
        "(default: the image the last package run made, by dist/pods/POD.docker-info.json)",
    )
    verify.add_argument(
        "--info-dir",
        type=Path,
        help="where the reference images' docker-info.json files are (default: <repo>/dist/pods)",
    )
    verify.add_argument(
        "--every-layer",
        action="store_true",
        help="explain every differing layer of a pod file by file (default: the first; the rest by step)",
    )
    verify.add_argument(
        "--repo", type=Path, help="the working tree to rebuild (default: the Pants buildroot)"
    )


def say(line: str) -> None:
    print(f"pods verify: {line}", file=sys.stderr, flush=True)


def references(
    chain: Sequence[str],
    info_dir: Path,
    against: str | None,
    local: Storage,
    scratch: Path,
    against_pod: str | None = None,
) -> dict[str, Image]:
    out = {}
    for pod in chain:
        if pod == (against_pod or chain[-1]) and against:
            out[pod] = (
                registry_image(against, scratch) if against.startswith(REGISTRY) else local.image(against)
            )
        else:
            image_id = image_id_of(info_dir, pod)
            try:
                out[pod] = local.image(image_id)
            except PodsError:
                raise PodsError(
                    str(info_dir / f"{pod}.docker-info.json"),
                    f"names image {image_id[:12]}, which the engine does not have; "
                    f"run `./pants package build_files/{pod}:{pod}`",
                ) from None
    return out


def verify_chain(
    repo: Path,
    wrapper: str,
    pod: str | Sequence[str],
    against: str | None,
    info_dir: Path,
    out: Callable[[str], None] = print,
    every_layer: bool = False,
) -> int:
    """Rebuild `pod` (or several, `all` for the family) and every ancestor once, and compare
    each with its reference; 0 only when all match."""
    graph = load_graph(repo)
    wanted = [pod] if isinstance(pod, str) else list(pod)
    if wanted == ["all"]:
        wanted = list(graph.topological())
    for name in wanted:
        if name not in graph.pods:
            raise PodsError(
                f"pod {name}", f"no such pod; expected one of {', '.join(graph.topological())}, or all"
            )
    if against and len(wanted) != 1:
        raise PodsError("--against", f"names one pod's reference; name one POD, not {len(wanted)}")
    needed = {p for name in wanted for p in (name, *graph.ancestors(name))}
    chain = [p for p in graph.topological() if p in needed]
    title = " ".join(wanted) if len(wanted) < len(graph.pods) else "all"
    local = Storage(wrapper)
    with workspace(wrapper, say) as (work, private):
        # The references are read first: a missing one fails in a second, not after the build.
        refs = references(chain, info_dir, against if against else None, local, work, wanted[-1])
        built = rebuild(repo, chain, work, say)
        verdicts, layers = [], {}
        for name in chain:
            say(f"comparing {name}")
            rebuilt = private.image(built[name])
            parent = graph.parent_of(name)
            inherited = layers.get(parent, 0) if parent else 0
            verdict = compare(name, refs[name], rebuilt, inherited, every_layer=every_layer)
            for line in verdict.lines:
                out(line)
            verdicts.append(verdict)
            layers[name] = len(rebuilt.diff_ids)
    failed = [v for v in verdicts if not v.ok]
    if not failed:
        out(f"pods verify {title}: all {len(chain)} pods reproducible ({', '.join(chain)})")
        return 0
    out(
        f"pods verify {title}: FAILED: {len(failed)} of {len(chain)} pods differ from the reference "
        f"({', '.join(v.first for v in failed)})"
    )
    return 1


def run(args: argparse.Namespace) -> int:
    repo = args.repo or (Path(os.environ["PODS_BUILDROOT"]) if os.environ.get("PODS_BUILDROOT") else None)
    settings = load_settings(repo)
    info_dir = args.info_dir or settings.repo / "dist/pods"
    return verify_chain(
        settings.repo, settings.engine, args.pods, args.against, info_dir, every_layer=args.every_layer
    )
