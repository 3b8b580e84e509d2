"""What installers stamp with the clock, put back to the family's epoch.

pods-install exports SOURCE_DATE_EPOCH to everything it runs, which settles most of it:
Python writes checked-hash .pyc files (pip's and Debian's byte-compiling alike), and
fontconfig dates its caches by it. podman build --timestamp sets every file's mtime in the
layer. What is left was found by building a pod twice and comparing the layers (diffoscope):
  - the Java trust store that ca-certificates-java's trigger writes: each entry records when
    it was added, in milliseconds;
  - node-gyp's build files, handled in pods-install's npm step (a fixed cache folder, a
    fixed hash seed for gyp's Python, and no .pyc written when npm's rebuild imports gyp);
  - what apt, dpkg and ldconfig leave behind (`settle_leftovers`): their logs hold the
    clock's time of each step, ldconfig's aux-cache the inode times of the libraries it
    scanned, and dbus makes a random machine-id when it is installed;
  - /etc/gitconfig, where git-lfs's install writes its filter's keys in Go's map order,
    which is random: each section's keys are put in one order.

Standard library only, like the installer that imports it.
"""

from __future__ import annotations

import hashlib
import os
import struct

JAVA_TRUST_STORE = "/etc/ssl/certs/java/cacerts"
# ca-certificates-java's store password (its /etc/default/cacerts, `storepass`).
JAVA_STORE_PASSWORD = "changeit"
_JKS_MAGIC = 0xFEEDFEED
_TRUSTED_CERT = 2


class StoreFormatError(Exception):
    """Not a store this module understands; left as it is, and said so."""


def _integrity(password: str, body: bytes) -> bytes:
    # JKS's keyed SHA-1: the password as UTF-16BE, a fixed phrase, then the store itself.
    return hashlib.sha1(password.encode("utf-16-be") + b"Mighty Aphrodite" + body).digest()


def restamp_jks(data: bytes, epoch: int, password: str = JAVA_STORE_PASSWORD) -> bytes:
    """The same JKS trust store with every entry dated `epoch` (seconds) and its integrity
    digest recomputed. Only trusted-certificate stores (what ca-certificates-java writes):
    anything else raises StoreFormatError, and a digest that does not verify with
    `password` too, so a store is never rewritten with a digest it did not have before."""
    body, digest = data[:-20], data[-20:]
    if len(data) < 32 or struct.unpack(">I", data[:4])[0] != _JKS_MAGIC:
        raise StoreFormatError("not a JKS store")
    if _integrity(password, body) != digest:
        raise StoreFormatError("its integrity digest does not match the store password")
    out = bytearray(body)
    _, count = struct.unpack(">II", body[4:12])
    pos = 12
    for _ in range(count):
        (tag,) = struct.unpack(">I", body[pos : pos + 4])
        if tag != _TRUSTED_CERT:
            raise StoreFormatError(f"entry type {tag} (only trusted certificates are restamped)")
        pos += 4
        (alias_len,) = struct.unpack(">H", body[pos : pos + 2])
        pos += 2 + alias_len
        out[pos : pos + 8] = struct.pack(">q", epoch * 1000)
        pos += 8
        (type_len,) = struct.unpack(">H", body[pos : pos + 2])
        pos += 2 + type_len
        (cert_len,) = struct.unpack(">I", body[pos : pos + 4])
        pos += 4 + cert_len
    if pos != len(body):
        raise StoreFormatError(f"{len(body) - pos} bytes after the last entry")
    return bytes(out) + _integrity(password, bytes(out))


def restamp_java_trust_store(epoch: int, path: str = JAVA_TRUST_STORE) -> str | None:
    """Restamp the store at `path` in place if there is one; a line for the log, or None."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as f:
        data = f.read()
    try:
        restamped = restamp_jks(data, epoch)
    except StoreFormatError as e:
        return f"{path} left as it is ({e}): it is not reproducible"
    if restamped != data:
        tmp = f"{path}.pods-repro"
        with open(tmp, "wb") as f:
            f.write(restamped)
        os.chmod(tmp, os.stat(path).st_mode & 0o7777)
        os.replace(tmp, path)
    return f"{path}: entries dated at the family's epoch"


# Logs that every install writes with the clock's time in them (dpkg, apt, alternatives).
LOG_ROOT = "/var/log"
# ldconfig's cache of each scanned library's inode, size and ctime: it only saves work, and
# ldconfig makes it again at its next run.
LDCONFIG_AUX_CACHE = "/var/cache/ldconfig/aux-cache"
MACHINE_ID_FILES = ("/etc/machine-id", "/var/lib/dbus/machine-id")
GITCONFIG = "/etc/gitconfig"


def family_machine_id(epoch: int) -> str:
    """The one machine-id every pod carries, where a package made one (dbus needs it valid).
    Containers of an image always shared the one baked in; now it is the same on every build."""
    return hashlib.sha256(f"pods machine-id {epoch}".encode()).hexdigest()[:32] + "\n"


def sorted_sections(text: str) -> str:
    """A git config with each section's keys in sorted order. A section with a comment, a
    blank line or a key given twice (order matters for multi-valued keys) is left as it is."""
    out, section = [], []

    def flush() -> None:
        body = section[1:]
        keys = [line.split("=", 1)[0].strip().lower() for line in body]
        plain = all("=" in line and not line.lstrip().startswith(("#", ";")) for line in body)
        if plain and len(set(keys)) == len(keys):
            body = sorted(body, key=lambda line: line.split("=", 1)[0].strip().lower())
        out.extend(section[:1] + body)

    for line in text.splitlines():
        if line.lstrip().startswith("["):
            flush()
            section = [line]
        elif section:
            section.append(line)
        else:
            out.append(line)
    flush()
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def settle_leftovers(epoch: int, log_root: str = LOG_ROOT, aux_cache: str = LDCONFIG_AUX_CACHE,
                     machine_ids: tuple[str, ...] = MACHINE_ID_FILES,
                     gitconfig: str = GITCONFIG) -> list[str]:
    """Empty the logs, drop ldconfig's aux-cache, pin the machine-id and order the system git
    config; what was changed.
    Only what holds something is touched: opening an unchanged file of a parent layer for
    writing would copy it into this layer."""
    changed = []
    for root, _dirs, files in os.walk(log_root):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path) and os.path.isfile(path) and os.path.getsize(path) > 0:
                os.truncate(path, 0)
                changed.append(path)
    if os.path.lexists(aux_cache):
        os.unlink(aux_cache)
        changed.append(aux_cache)
    wanted = family_machine_id(epoch)
    for path in machine_ids:
        if os.path.isfile(path) and not os.path.islink(path) and os.path.getsize(path) > 0:
            with open(path) as f:
                if f.read() == wanted:
                    continue
            with open(path, "w") as f:
                f.write(wanted)
            changed.append(path)
    if os.path.isfile(gitconfig) and not os.path.islink(gitconfig):
        with open(gitconfig) as f:
            text = f.read()
        if sorted_sections(text) != text:
            with open(gitconfig, "w") as f:
                f.write(sorted_sections(text))
            changed.append(gitconfig)
    return changed
