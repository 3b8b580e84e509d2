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
are skipped and recorded by bare name in /usr/share/pods/excluded, so the image says what it lacks.
The formats it shares with the host (lock schema, Debian stanzas and closure, hashing, the
excluded list, env) come from pods_contract, shipped beside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

# Its modules (pods_contract, pods_archive, pods_npm): in /usr/local/lib/pods in every
# image (the rootfs Containerfile puts them there); in a checkout, in build_files/ and
# src/python/ (tests and tools run it from there).
IMAGE_LIB = "/usr/local/lib/pods"
_HERE = os.path.dirname(os.path.abspath(__file__))
for _lib in reversed((IMAGE_LIB, _HERE, os.path.normpath(os.path.join(_HERE, "..", "src", "python")))):
    if os.path.isdir(_lib) and _lib not in sys.path:
        sys.path.insert(0, _lib)

import pods_contract as contract  # noqa: E402
from pods_archive import ArchiveError, chown_tree, download, link_bins, unpack  # noqa: E402
from pods_npm import NODE_PACKAGE, link_commands, node_env, prune_npm  # noqa: E402,F401
from pods_repro import restamp_java_trust_store, settle_leftovers  # noqa: E402

CA_SECRET = "/run/secrets/ca"
VENV = "/opt/pods/venv"
NPM_ROOT = "/opt/pods/npm"
VENDOR_ROOT = "/opt/pods/vendor"
BIN = "/usr/local/bin"
PROFILE_DIR = "/etc/profile.d"
EXCLUDED_FILE = contract.IMAGE_EXCLUDED_FILE


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


def relock(pod: str, upgrade: bool = False) -> str:
    return f"run `{contract.relock_command(pod, upgrade)}`"


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


def write_atomically(path: str, text: str) -> None:
    """Replace `path` whole: a failed build never leaves half a file in a layer."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".pods-install-")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# --- Debian ---------------------------------------------------------------------------

# A mirror that drops a connection must not turn into "Unable to locate package" for the
# whole closure: apt retries each download, and an index that still fails is an error.
APT_RETRIES = ["-o", "Acquire::Retries=5"]
# A dry run's "Inst NAME [OLD] (VERSION ...)" lines: what apt would install.
APT_INST = re.compile(r"^Inst (\S+) (?:\[\S+\] )?\((\S+)", re.M)


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


def check_closure(pod: str, pkgs: list[dict], specs: list[str], env: dict) -> None:
    """Before anything is installed, apt must want exactly the locked closure (its dry run),
    each file the one locked (the signed index apt checks every downloaded .deb against)."""
    lock = contract.repo_lock_path(pod)
    sim = subprocess.run(["apt-get", "install", "-s", "-qq", "--no-install-recommends", *specs],
                         env={**os.environ, **env}, text=True, capture_output=True)
    if sim.returncode != 0:
        problems = [line[3:] for line in sim.stderr.splitlines() if line.startswith("E: ")]
        why = problems[0] if problems else f"exit {sim.returncode}"
        raise InstallError(
            f"pod {pod}: debian: apt cannot install the locked closure ({why}): expected every pin "
            f"of {lock} in the archive; the lock is stale: {relock(pod)}")
    would = dict(APT_INST.findall(sim.stdout))
    index = contract.stanzas_by_package(run(["apt-cache", "show", "--no-all-versions", *specs], env, capture=True))
    problem = contract.closure_problem(pkgs, would, index)
    if problem is None:
        return
    if set(would) != {p["name"] for p in pkgs}:
        raise InstallError(f"pod {pod}: debian: {problem}: expected exactly the closure {lock} names "
                           f"on this parent; the lock is stale: {relock(pod)}")
    raise InstallError(f"pod {pod}: debian: {problem}: expected the files {lock} names; "
                       f"if the archive changed that version on purpose, {relock(pod, upgrade=True)}")


def install_debian(pod: str, section: dict) -> None:
    pkgs = section.get("packages", [])
    if not pkgs:
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    specs = [f"{p['name']}={p['version']}" for p in pkgs]
    apt_update(env)
    try:
        check_closure(pod, pkgs, specs, env)
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *APT_RETRIES, *specs], env)
    finally:
        run(["apt-get", "clean"], env)
        shutil.rmtree("/var/lib/apt/lists", ignore_errors=True)
        os.makedirs("/var/lib/apt/lists/partial", exist_ok=True)
    # Any package's install may re-run ca-certificates-java's trigger, which dates every
    # entry by the clock; so after each pod's packages, not once in the pod that brings Java.
    said = restamp_java_trust_store(contract.SOURCE_DATE_EPOCH)
    if said:
        log(f"{pod}: {said}")
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
                f"expected {m.group('expected')} ({contract.repo_lock_path(pod)}), found {m.group('got')}; "
                f"the file is not what was locked: do not install it; if the index re-published it on "
                f"purpose, {relock(pod, upgrade=True)}")
    errors = [line.strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    return f"pod {pod}: pypi: pip install failed: {errors[-1] if errors else ' '.join(stderr.split())[-300:]}"


# --- npm ------------------------------------------------------------------------------

def install_npm(pod: str, section: dict) -> None:
    lock = section.get("package_lock")
    if not lock:
        return
    prefix = os.path.join(NPM_ROOT, pod)
    manifest = {"name": f"pods-{pod}", "private": True,
                "dependencies": dict(sorted(section["requirements"].items()))}
    write_atomically(os.path.join(prefix, "package.json"), json.dumps(manifest, indent=2))
    write_atomically(os.path.join(prefix, "package-lock.json"), json.dumps(lock, indent=2))
    # A fixed folder, not a random one: node-gyp writes the cache's path into each native
    # module's build/config.gypi. A fixed hash seed: gyp (Python) writes its Makefiles'
    # dependency lists in set order. No .pyc: gyp's would be written at import, by the clock.
    cache = "/var/tmp/pods-npm-cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {"npm_config_cache": cache, "npm_config_update_notifier": "false", "npm_config_fund": "false",
           "npm_config_audit": "false", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}
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
    linked = link_commands(prefix, section["requirements"], BIN)
    log(f"{pod}: installed npm packages into {prefix} ({linked} commands on PATH)")


# --- Vendor binaries ------------------------------------------------------------------

DIGESTS = ("sha256", "sha512")


def verify(pod: str, item: dict, archive: str) -> None:
    """The download must match every digest the lock holds for it (at least one)."""
    algorithms = [a for a in DIGESTS if a in item]
    if not algorithms:
        raise InstallError(f"pod {pod}: vendor {item['name']}: {contract.repo_lock_path(pod)} holds no {' or '.join(DIGESTS)}; "
                           f"{relock(pod)}")
    for algorithm in algorithms:
        got = contract.file_digest(archive, algorithm)
        if got != item[algorithm]:
            raise InstallError(
                f"pod {pod}: vendor {item['name']} {item['version']}: {algorithm} mismatch for {item['url']}: "
                f"expected {item[algorithm]} ({contract.repo_lock_path(pod)}), found {got}; the download is not what "
                f"was locked: do not install it; if the upstream re-published it on purpose, "
                f"{relock(pod, upgrade=True)}")


def install_one_vendor(pod: str, item: dict) -> None:
    name = item["name"]
    install = item.get("install", {"kind": "binary"})
    dest = os.path.join(VENDOR_ROOT, name)
    with tempfile.TemporaryDirectory() as tmp:
        archive = os.path.join(tmp, os.path.basename(item["url"]) or name)
        try:
            download(item["url"], archive, ca_bundle())
            verify(pod, item, archive)
            os.makedirs(dest, exist_ok=True)
            if install["kind"] == "binary":
                shutil.copyfile(archive, os.path.join(dest, name))
            else:
                unpack(install["kind"], archive, dest, install.get("paths", []))
        except ArchiveError as e:
            raise InstallError(f"pod {pod}: vendor {name}: {e}") from None
    if install.get("owner"):
        # A tool that writes beside itself (the Actions runner's config) is owned by
        # the pod's user, not root.
        chown_tree(dest, install["owner"])
    link_bins(dest, [name] if install["kind"] == "binary" else install.get("bin", []), BIN)
    log(f"{pod}: installed vendor {name} {item['version']}")


def install_vendor(pod: str, items: list, excluded: set[str]) -> list[str]:
    skipped = []
    for item in items:
        if item["name"] in excluded:
            skipped.append(item["name"])
            log(f"{pod}: {item['name']} {item['version']} excluded by PODS_EXCLUDE (not installed)")
        else:
            install_one_vendor(pod, item)
    return skipped


# --- What the image records -----------------------------------------------------------

def env_script(pod: str, env: dict) -> str:
    """The shell text for pod.yaml's `env:`: values literal, only $NAME/${NAME} expand."""
    try:
        return contract.render_env_script(env)
    except contract.ContractError as e:
        raise InstallError(f"pod {pod}: {contract.repo_lock_path(pod)}: {e}; fix env: in "
                           f"build_files/{pod}/pod.yaml, then {relock(pod)}") from None


def write_env(pod: str, env: dict) -> None:
    """/etc/profile.d/pods-<pod>.sh, which pods-entrypoint loads for every command."""
    if not env:
        return
    path = os.path.join(PROFILE_DIR, f"pods-{pod}.sh")
    write_atomically(path, env_script(pod, env))
    log(f"{pod}: wrote {len(env)} variables to {path}")


def record_excluded(skipped: list[str]) -> None:
    """Add what this pod left out to the image's list, after what its ancestors left out:
    bare names, each once (the same spelling as the label and the SBOM)."""
    if not skipped:
        return
    try:
        with open(EXCLUDED_FILE) as f:
            before = contract.parse_excluded(f.read())
    except FileNotFoundError:
        before = []
    write_atomically(EXCLUDED_FILE, contract.render_excluded_file([*before, *skipped]))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: pods-install LOCK.json", file=sys.stderr)
        return 2
    # Everything the installer runs dates what it writes by the family's epoch, not the
    # clock: Python's byte-compiling (pip's, Debian's) writes checked-hash .pyc files,
    # fontconfig dates its caches by it (pods_repro says what else is put back by hand).
    os.environ["SOURCE_DATE_EPOCH"] = str(contract.SOURCE_DATE_EPOCH)
    try:
        lock = contract.read_lock(argv[1])
        pod = lock["pod"]
        env = lock.get("env") or {}
        env_script(pod, env)  # a bad env: fails before anything is installed
        excluded = set(contract.parse_excluded(os.environ.get("PODS_EXCLUDE", "")))
        install_debian(pod, lock.get("debian", {}))
        install_pypi(pod, lock.get("pypi", {}))
        install_npm(pod, lock.get("npm", {}))
        skipped = install_vendor(pod, lock.get("vendor", []), excluded)
        write_env(pod, env)
        record_excluded(skipped)
        settled = settle_leftovers(contract.SOURCE_DATE_EPOCH)
        if settled:
            log(f"{pod}: settled what installing left dated or random: {', '.join(settled)}")
    except (InstallError, contract.ContractError) as e:
        print(f"pods-install: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
