"""Promises every pod keeps: Debian 13, user jovian, /workspace, labels, its own lock."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pods_contract
from images.harness import Pod, engine
from pods.sizes import compressed_size

# What a user downloads (compressed layers) may not exceed the reference family's sizes.
SIZE_LIMITS_GB = {
    "rootfs": 0.2,
    "base": 2,
    "nvidia": 3,
    "devops": 4,
    "githubrunner": 3,
    "nvidia-python": 6,
    "jupyter": 11,
    "playwright": 5,
}


def test_is_debian_13(pod: Pod) -> None:
    assert pod.run("cat", "/etc/debian_version").stdout.startswith("13.")


def test_runs_as_jovian_uid_1000(pod: Pod) -> None:
    assert pod.sh("id -un; id -u; id -g; echo $HOME").split() == ["jovian", "1000", "1000", "/home/jovian"]


def test_the_image_itself_runs_as_jovian(pod: Pod) -> None:
    # The default user of the image config, not just of our test runs.
    assert pod.inspect()["Config"]["User"] in ("1000:1000", "1000", "jovian")


def test_jovian_cannot_become_root_without_a_password(pod: Pod) -> None:
    """Passwordless sudo is not offered: sudo is absent, or asks for a password."""
    out = pod.sh(
        "if command -v sudo >/dev/null; then sudo -n true 2>/dev/null && echo root || echo refused; "
        "else echo no-sudo; fi; grep -rs NOPASSWD /etc/sudoers /etc/sudoers.d || true"
    )
    assert out in ("no-sudo", "refused"), out


def test_workdir_is_workspace_owned_by_jovian(pod: Pod) -> None:
    assert pod.sh("pwd; stat -c %U /workspace; touch /workspace/probe && echo writable").split() == [
        "/workspace",
        "jovian",
        "writable",
    ]


def test_home_is_jovians(pod: Pod) -> None:
    assert pod.sh("stat -c '%U %u' /home/jovian") == "jovian 1000"


def test_oci_labels(pod: Pod) -> None:
    labels = pod.inspect()["Config"]["Labels"]
    prefix = "org.opencontainers.image."
    for key in ("title", "description", "version", "source"):
        assert labels.get(prefix + key), f"label {prefix}{key} missing or empty: {labels}"
    assert labels[prefix + "title"] == f"bazzite-ai-pod-{pod.name}"
    # No commit revision (it would change every key on every commit); the input key instead.
    assert prefix + "revision" not in labels
    assert re.fullmatch(r"[0-9a-f]{64}", labels.get(pods_contract.KEY_LABEL, "")), labels


def test_dev_containers_find_jovian_in_the_image(pod: Pod) -> None:
    # What VS Code Dev Containers reads, so a devcontainer.json needs only "image".
    [entry] = json.loads(pod.inspect()["Config"]["Labels"]["devcontainer.metadata"])
    assert entry["remoteUser"] == entry["containerUser"] == "jovian"
    assert entry["updateRemoteUserUID"] is True
    # The tools ignore a workspace in image metadata (they mount the project under
    # /workspaces/); the README says which devcontainer.json lines give /workspace.
    assert "workspaceFolder" not in entry
    exposed = {int(p.split("/")[0]) for p in (pod.inspect()["Config"].get("ExposedPorts") or {})}
    assert exposed <= set(entry["forwardPorts"]), entry


def test_tags_follow_the_family_naming(pod: Pod) -> None:
    repo = f"/bazzite-ai-pod-{pod.name}:"
    suffixes = {t.split(repo, 1)[1] for t in pod.tags if repo in t}
    assert {"latest", "stable"} <= suffixes
    assert any(s[0].isdigit() for s in suffixes), f"no version tag in {pod.tags}"


def test_carries_its_lock_as_bill_of_materials(pod: Pod, locks: dict[str, dict]) -> None:
    assert pod.name in locks
    lock = locks[pod.name]
    assert lock["pod"] == pod.name and lock["schema_version"] == 1


def test_every_locked_debian_package_is_installed_at_its_version(
    pod: Pod, debian_versions: dict[str, str]
) -> None:
    installed = dict(
        line.split("\t")
        for line in pod.run("dpkg-query", "-W", "-f=${Package}\t${Version}\n").stdout.splitlines()
    )
    wrong = {n: (v, installed.get(n)) for n, v in debian_versions.items() if installed.get(n) != v}
    assert not wrong, f"locked vs installed: {wrong}"


def test_no_apt_lists_or_caches_left_in_layers(pod: Pod) -> None:
    leftovers = pod.sh(
        "find /var/lib/apt/lists /var/cache/apt/archives /root/.cache /home/jovian/.cache "
        "-type f ! -name lock 2>/dev/null | head -5",
        user="root",
    )
    assert leftovers == ""


def test_no_ca_bundle_in_history_config_or_files(pod: Pod) -> None:
    """The CA bundle reaches builds only as a secret: no trace of it may be in the image."""
    bundle = Path(os.environ.get("PODS_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt")
    assert bundle.is_file(), "the test needs the CA bundle the build used (PODS_CA_BUNDLE)"
    data = bundle.read_bytes()
    # A line of base64 from the bundle's last certificate: distinctive, and not in Debian's.
    marker = [line for line in data.decode(errors="replace").splitlines() if len(line) == 64][-1]
    history = engine("history", "--no-trunc", "--format", "json", pod.image_id).stdout
    config = json.dumps(pod.inspect())
    assert marker not in history and marker not in config
    assert str(bundle) not in history
    digest = hashlib.sha256(data).hexdigest()
    same_size = pod.sh(
        f"find / -xdev -type f -size {len(data)}c -exec sha256sum {{}} + 2>/dev/null || true", user="root"
    )
    assert digest not in same_size, f"a copy of the CA bundle is in the image:\n{same_size}"
    assert pod.sh("test -s /run/secrets/ca && echo present || echo absent") == "absent"


# Files that hold credentials when present; a pod must never ship one.
CREDENTIAL_FILES = {
    "auth.json",  # podman/skopeo registry logins
    ".dockercfg",
    ".git-credentials",
    ".netrc",
    ".pypirc",
    "cosign.key",
    ".credentials.json",  # claude code / gcloud style logins
    "credentials.db",
    "access_tokens.db",
}
SECRET_PATTERNS = [
    re.compile(p)
    for p in (
        r"gh[pousr]_[A-Za-z0-9]{36}",  # GitHub tokens (runner registration uses them)
        r"github_pat_[A-Za-z0-9_]{40,}",
        r"npm_[A-Za-z0-9]{36}",
        r"_authToken\s*=",
        r"(?i)authorization:\s*(basic|bearer)\s+\S+",
        r"-----BEGIN (ENCRYPTED |EC |RSA )?PRIVATE KEY-----",
    )
]


def layer_dirs(pod: Pod) -> list[Path]:
    """Every layer's own files (overlay diff folders), not just the merged view, so a
    secret added in one layer and deleted in a later one is still found."""
    data = pod.inspect()["GraphDriver"]["Data"]
    dirs = [*data.get("LowerDir", "").split(":"), data.get("UpperDir", "")]
    found = [Path(d) for d in dirs if d]
    assert found and all(d.is_dir() for d in found), f"no readable layer folders in {data}"
    return found


def test_no_credentials_or_build_secrets_in_any_layer_or_history(pod: Pod) -> None:
    history = engine("history", "--no-trunc", "--format", "json", pod.image_id).stdout
    config = json.dumps(pod.inspect()["Config"])
    for pattern in SECRET_PATTERNS:
        assert not pattern.search(history), f"history matches {pattern.pattern}"
        assert not pattern.search(config), f"image config matches {pattern.pattern}"
    bundle = Path(os.environ.get("PODS_CA_BUNDLE") or "/etc/ssl/certs/ca-certificates.crt")
    bundle_size, bundle_digest = bundle.stat().st_size, hashlib.sha256(bundle.read_bytes()).hexdigest()
    offenders, scanned = [], 0
    for layer in layer_dirs(pod):
        for folder, _, files in os.walk(layer):
            for name in files:
                scanned += 1
                path = Path(folder, name)
                rel = "/" + str(path.relative_to(layer))
                if name in CREDENTIAL_FILES or rel.endswith("/.docker/config.json"):
                    offenders.append(f"{rel} (credential file, layer {layer.parent.name[:12]})")
                elif name in (".npmrc", "pip.conf") and re.search(
                    rb"_authToken|password", path.read_bytes(), re.IGNORECASE
                ):
                    offenders.append(f"{rel} (holds a token or password)")
                elif not path.is_symlink() and path.stat().st_size == bundle_size:
                    if hashlib.sha256(path.read_bytes()).hexdigest() == bundle_digest:
                        offenders.append(f"{rel} (a copy of the CA bundle)")
    assert scanned > 100, f"only {scanned} files seen in {pod.name}'s layers"
    assert offenders == [], "secrets in layers:\n" + "\n".join(offenders)


def test_download_size_within_reference(pod: Pod) -> None:
    info = pod.inspect()
    # Podman reports the uncompressed size; what a registry serves is the gzip-compressed
    # layers, measured as `pods graph --measure` does (src/python/pods/sizes.py).
    compressed = compressed_size(pod.image_id)
    limit = SIZE_LIMITS_GB[pod.name] * 1e9
    print(f"{pod.name}: {compressed / 1e9:.2f} GB compressed, {info['Size'] / 1e9:.2f} GB uncompressed")
    assert compressed <= limit, f"{pod.name} is {compressed / 1e9:.2f} GB compressed, limit {limit / 1e9} GB"


def test_what_the_image_lacks_is_labelled_with_a_reason(pod: Pod) -> None:
    # pods-install records each component it left out, by bare name and once; the label
    # (and so every skipped test's reason) must name exactly those.
    recorded = pod.sh(f"cat {pods_contract.IMAGE_EXCLUDED_FILE} 2>/dev/null || true")
    assert recorded == pods_contract.render_excluded_file(recorded.split()).strip()
    assert set(pod.excluded()) == set(pods_contract.parse_excluded(recorded))
