"""SBOM, signature and SBOM attestation for each published pod image (cosign).

Called by pods_engine.publish after an image's key tag (its 64-hex input key) is in a
registry. Everything is attached to the pushed manifest digest, never to a tag, so it
holds for every tag of the image (version, latest, stable) and cannot be moved:

- always: the CycloneDX SBOM (src/engine/sbom.py) as cosign's SBOM attachment
  (`<repo>:sha256-<digest>.sbom`; read back with `cosign download sbom`). That form is
  deprecated in cosign 2.x but is the one that needs no key and that cosign 2.5 can
  still download; with a key the SBOM is also attested, which is the form to trust.
- with PODS_COSIGN_KEY (a cosign private key): `cosign sign` of the digest, and
  `cosign attest --type cyclonedx` with the SBOM as predicate. No transparency log:
  these registries and keys are private, and the log is a public service.

Re-publishing an unchanged image uploads nothing: the SBOM attachment is compared by
content, and a signature or attestation is made only when none made by this key (and, for
the attestation, none with this exact SBOM) verifies.

The key's password comes from PODS_COSIGN_PASSWORD or COSIGN_PASSWORD, or under Pants
from the file PODS_COSIGN_PASSWORD_FILE names (./pants keeps it on a tmpfs for the run).
It reaches cosign only through cosign's environment and is scrubbed from anything printed.

Standard library only: it runs on the host's python3 under Pants' `env -i`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import sbom
from engine_binary import ENGINE, EngineError, is_loopback, say
from records import state_dir, write_atomic

# Signed without the public transparency log, so verified without it too.
NO_TLOG = ("--insecure-ignore-tlog=true",)
COSIGN_HINT = "run ./pants once (it provisions cosign into its cache) or put cosign on PATH"


class SupplyChainError(EngineError):
    """One line for the user: what failed, and what to do."""


def find_cosign() -> str:
    configured = os.environ.get("PODS_COSIGN", "")
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise SupplyChainError(f"PODS_COSIGN={configured} is not an executable; {COSIGN_HINT}")
    found = shutil.which("cosign")
    if not found:
        raise SupplyChainError(f"cosign not found (PODS_COSIGN unset, none on PATH); {COSIGN_HINT}")
    return found


def key_password() -> str | None:
    """The private key's password, or None when no key is configured."""
    if not os.environ.get("PODS_COSIGN_KEY"):
        return None
    for name in ("PODS_COSIGN_PASSWORD", "COSIGN_PASSWORD"):
        if name in os.environ:
            return os.environ[name]
    path = os.environ.get("PODS_COSIGN_PASSWORD_FILE", "")
    if path:
        try:
            return Path(path).read_text().removesuffix("\n")
        except OSError as e:
            raise SupplyChainError(
                f"PODS_COSIGN_PASSWORD_FILE: cannot read it ({e.strerror}); run ./pants again with "
                "PODS_COSIGN_PASSWORD set"
            ) from e
    raise SupplyChainError(
        "PODS_COSIGN_KEY is set but no password is: set PODS_COSIGN_PASSWORD (empty for a key without one)"
    )


class Cosign:
    def __init__(self, ref: str, password: str | None) -> None:
        self.exe = find_cosign()
        self.password = password
        # cosign reads the registry credentials podman writes (REGISTRY_AUTH_FILE /
        # containers auth.json) through its default keychain; nothing to pass.
        self.registry_flags = (
            ["--allow-insecure-registry", "--allow-http-registry"] if is_loopback(ref) else []
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ("PODS_COSIGN_PASSWORD", "COSIGN_PASSWORD")}
        if self.password is not None:
            env["COSIGN_PASSWORD"] = self.password
        # No prompts (there is no terminal under Pants) and no Sigstore public services.
        env.setdefault("COSIGN_YES", "true")
        env.setdefault("TUF_ROOT", str(Path(tempfile.gettempdir(), "pods-cosign-tuf")))
        return subprocess.run(
            [self.exe, *args[:1], *([] if args[0] == "public-key" else self.registry_flags), *args[1:]],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )

    def check(
        self, what: str, *args: str, todo: str = "re-run `./pants publish`"
    ) -> subprocess.CompletedProcess:
        result = self.run(*args)
        if result.returncode != 0:
            raise SupplyChainError(f"{what} failed ({self.last_line(result)}); {todo}")
        return result

    def last_line(self, result: subprocess.CompletedProcess) -> str:
        lines = [x for x in (result.stderr or "").strip().splitlines() if not x.startswith("WARNING")]
        text = lines[-1] if lines else f"exit {result.returncode}"
        return text.replace(self.password, "***") if self.password else text


def attachment_ref(repository: str, digest: str, kind: str) -> str:
    return f"{repository}:{digest.replace(':', '-')}.{kind}"


def publish_supply_chain(ref: str, repository: str, local_id: str, digest: str) -> None:
    """Attach the SBOM to the manifest `digest` that `ref` was pushed as (and sign and
    attest it, with a key). `local_id` is the image ID that manifest describes."""
    target = f"{repository}@{digest}"
    password = key_password()
    cosign = Cosign(ref, password)
    document = cached_sbom(ref, local_id)

    with tempfile.TemporaryDirectory(prefix="pods-supply-chain-") as tmp:
        sbom_path = Path(tmp, "sbom.cdx.json")
        sbom_path.write_bytes(document)
        # The key is read first, so a wrong password uploads nothing.
        public = read_public_key(cosign, Path(tmp, "cosign.pub")) if password is not None else None
        attach_sbom(cosign, target, attachment_ref(repository, digest, "sbom"), sbom_path, document)
        if public is None:
            say(f"{target}: no PODS_COSIGN_KEY; SBOM attached unsigned")
            return
        key = os.environ["PODS_COSIGN_KEY"]
        sign(cosign, target, attachment_ref(repository, digest, "sig"), key, public)
        attest(cosign, target, attachment_ref(repository, digest, "att"), key, public, sbom_path, document)


def cached_sbom(ref: str, local_id: str) -> bytes:
    """The image's SBOM, made once per image ID: it depends on the image alone, and making
    it (reading the locks out of a container) is the slow part of a re-publish."""
    path = state_dir("sbom") / f"{local_id}.cdx.json"
    if path.is_file():
        return path.read_bytes()
    try:
        document = sbom.sbom_for_image(local_id)
    except EngineError as e:
        raise SupplyChainError(f"{ref}: SBOM: {e}") from e
    with contextlib.suppress(OSError):  # a read-only checkout just makes it again next time
        write_atomic(path, document)
    return document


def read_public_key(cosign: Cosign, public: Path) -> Path:
    key = os.environ["PODS_COSIGN_KEY"]
    if not Path(key).is_file():
        raise SupplyChainError(f"PODS_COSIGN_KEY={key} is not a file; point it at a cosign private key")
    cosign.check(
        f"PODS_COSIGN_KEY={key}: reading the private key",
        "public-key",
        "--key",
        key,
        "--outfile",
        str(public),
        todo="check PODS_COSIGN_PASSWORD (or COSIGN_PASSWORD) and that the file is a cosign private key",
    )
    return public


def attach_sbom(cosign: Cosign, target: str, tag_ref: str, path: Path, document: bytes) -> None:
    existing = ENGINE.manifest(tag_ref)
    layers = (existing[1].get("layers") or []) if existing else []
    if [layer.get("digest") for layer in layers] == ["sha256:" + hashlib.sha256(document).hexdigest()]:
        say(f"{target}: SBOM already attached")
        return
    cosign.check(
        f"{target}: cosign attach sbom",
        "attach",
        "sbom",
        "--type",
        "cyclonedx",
        "--input-format",
        "json",
        "--sbom",
        str(path),
        target,
    )
    say(f"{target}: SBOM attached ({tag_ref.rsplit(':', 1)[1]})")


def sign(cosign: Cosign, target: str, tag_ref: str, key: str, public: Path) -> None:
    if (
        ENGINE.manifest(tag_ref)
        and cosign.run("verify", "--key", str(public), *NO_TLOG, target).returncode == 0
    ):
        say(f"{target}: already signed by this key")
        return
    cosign.check(f"{target}: cosign sign", "sign", "--key", key, "--tlog-upload=false", target)
    say(f"{target}: signed")


def attest(
    cosign: Cosign, target: str, tag_ref: str, key: str, public: Path, path: Path, document: bytes
) -> None:
    if ENGINE.manifest(tag_ref):
        result = cosign.run(
            "verify-attestation", "--key", str(public), "--type", "cyclonedx", *NO_TLOG, target
        )
        if result.returncode == 0 and json.loads(document) in attested_predicates(result.stdout):
            say(f"{target}: SBOM already attested by this key")
            return
    # --replace: one CycloneDX attestation per image, not one more per publish.
    cosign.check(
        f"{target}: cosign attest",
        "attest",
        "--key",
        key,
        "--type",
        "cyclonedx",
        "--predicate",
        str(path),
        "--replace",
        "--tlog-upload=false",
        target,
    )
    say(f"{target}: SBOM attested")


def attested_predicates(verify_output: str) -> list[dict]:
    """The predicates of the in-toto statements `cosign verify-attestation` printed."""
    out = []
    for line in verify_output.splitlines():
        if line.startswith("{"):
            envelope = json.loads(line)
            out.append(json.loads(base64.b64decode(envelope["payload"])).get("predicate"))
    return out
