"""The vendor resolver against loopback servers: a GitHub-like release API with download
files, and a container registry (distribution v2 with an anonymous bearer token)."""

import hashlib
import json

from unit.pods.helpers import Route, dead_port_url, error_line, relock_fails, run_cli, snapshot, write_pod

ARTIFACT = {v: f"helm {v} binary".encode() for v in ("3.18.4", "3.19.0", "3.19.2", "4.0.0-rc.1")}


def github_like(server, checksum_for=lambda v: hashlib.sha256(ARTIFACT[v]).hexdigest()):
    releases = [{"tag_name": f"v{v}", "draft": False, "prerelease": "-" in v} for v in ARTIFACT]
    server.json("/repos/helm/helm/releases?per_page=100&page=1", releases)
    for version, body in ARTIFACT.items():
        name = f"helm-v{version}-linux-amd64.tar.gz"
        server.routes[f"/dl/{name}"] = Route(200, body)
        server.routes[f"/dl/{name}.sha256sum"] = Route(200, f"{checksum_for(version)}  {name}\n".encode())


def helm_yaml(server, version, source="source: {github_release: helm/helm}"):
    return f"""description: v
vendor:
  helm:
    version: "{version}"
    {source}
    url: "{server.url}/dl/helm-v{{version}}-linux-amd64.tar.gz"
    checksums: "{server.url}/dl/helm-v{{version}}-linux-amd64.tar.gz.sha256sum"
    install: {{kind: tar, bin: [linux-amd64/helm]}}
"""


def lock(tmp_path, capsys, monkeypatch, server, version, *args):
    write_pod(tmp_path, "tools", helm_yaml(server, version))
    return run_cli(tmp_path, capsys, *args, env={"PODS_GITHUB_API_URL": server.url}, monkeypatch=monkeypatch)


def locked(tmp_path):
    return json.loads((tmp_path / "build_files/tools/pod.lock.json").read_text())["vendor"]


def test_range_picks_the_newest_release_and_records_url_and_published_sha256(
    tmp_path, capsys, monkeypatch, server
):
    github_like(server)
    assert lock(tmp_path, capsys, monkeypatch, server, "^3.18")[0] == 0
    [entry] = locked(tmp_path)
    assert entry["version"] == "3.19.2"
    assert entry["url"] == f"{server.url}/dl/helm-v3.19.2-linux-amd64.tar.gz"
    assert entry["sha256"] == hashlib.sha256(ARTIFACT["3.19.2"]).hexdigest()
    assert entry["install"] == {"kind": "tar", "bin": ["linux-amd64/helm"]}


def test_latest_skips_prereleases(tmp_path, capsys, monkeypatch, server):
    github_like(server)
    assert lock(tmp_path, capsys, monkeypatch, server, "latest")[0] == 0
    assert locked(tmp_path)[0]["version"] == "3.19.2"


def test_pin_that_still_satisfies_is_kept_without_asking_upstream(tmp_path, capsys, monkeypatch, server):
    github_like(server)
    assert lock(tmp_path, capsys, monkeypatch, server, "3.18.4")[0] == 0
    asked = len(server.requests)
    assert lock(tmp_path, capsys, monkeypatch, server, ">=3.18,<4")[0] == 0
    assert locked(tmp_path)[0]["version"] == "3.18.4"
    assert len(server.requests) == asked
    assert lock(tmp_path, capsys, monkeypatch, server, ">=3.18,<4", "--upgrade")[0] == 0
    assert locked(tmp_path)[0]["version"] == "3.19.2"


def _relock_fails(tmp_path, capsys, monkeypatch, server, version, api=None, **yaml):
    assert lock(tmp_path, capsys, monkeypatch, server, "3.18.4")[0] == 0
    env = {"PODS_GITHUB_API_URL": api or server.url, "PODS_TIMEOUT": "5"}
    pod_yaml = helm_yaml(server, version, **yaml)
    return relock_fails(tmp_path, "tools", pod_yaml, capsys, monkeypatch, env=env)


def test_sha256_mismatch(tmp_path, capsys, monkeypatch, server):
    github_like(
        server, checksum_for=lambda v: "0" * 64 if v == "3.19.0" else hashlib.sha256(ARTIFACT[v]).hexdigest()
    )
    line = _relock_fails(tmp_path, capsys, monkeypatch, server, "3.19.0")
    actual = hashlib.sha256(ARTIFACT["3.19.0"]).hexdigest()
    assert line == (
        "pods: error: pod tools: vendor helm: "
        f"sha256 mismatch for {server.url}/dl/helm-v3.19.0-linux-amd64.tar.gz: "
        f"expected {'0' * 64} (published checksum), found {actual}; "
        "refusing to lock it: retry later, and report it upstream if it persists"
    )


def test_version_that_does_not_exist(tmp_path, capsys, monkeypatch, server):
    github_like(server)
    line = _relock_fails(tmp_path, capsys, monkeypatch, server, "^5.0")
    releases = len([v for v in ARTIFACT if "-" not in v])  # pre-releases are never candidates
    assert (
        line == "pods: error: pod tools: vendor helm: expected a release matching ^5.0, "
        f"found none among {releases} (newest v3.19.2)"
    )


def test_exact_version_with_no_download(tmp_path, capsys, monkeypatch, server):
    github_like(server)
    line = _relock_fails(tmp_path, capsys, monkeypatch, server, "3.17.0", source="")
    assert line == (
        "pods: error: pod tools: vendor helm: "
        f"expected {server.url}/dl/helm-v3.17.0-linux-amd64.tar.gz.sha256sum "
        "to exist (version 3.17.0), found HTTP 404"
    )


def test_upstream_that_does_not_answer(tmp_path, capsys, monkeypatch, server):
    github_like(server)
    dead = dead_port_url()
    line = _relock_fails(tmp_path, capsys, monkeypatch, server, ">=3.19", api=dead)
    assert line.startswith(
        f"pods: error: pod tools: vendor helm: upstream did not answer: {dead}/repos/helm/helm/releases"
    )
    assert "Connection refused" in line


# --- container registry --------------------------------------------------------------

MANIFEST = json.dumps(
    {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
).encode()


def registry_like(server, claimed_digest=None):
    """Tags and manifests behind an anonymous token, as public registries serve them."""
    token = "loopback-token"
    digest = claimed_digest or "sha256:" + hashlib.sha256(MANIFEST).hexdigest()

    def guarded(route):
        def answer(headers):
            if headers.get("Authorization") != f"Bearer {token}":
                return Route(
                    401,
                    b"{}",
                    {
                        "WWW-Authenticate": f'Bearer realm="{server.url}/token",service="loopback",'
                        'scope="repository:actions/runner:pull"'
                    },
                )
            return route

        return answer

    server.routes["/token?service=loopback&scope=repository:actions/runner:pull"] = Route(
        200, json.dumps({"token": token}).encode()
    )
    server.routes["/v2/actions/runner/tags/list"] = guarded(
        Route(200, json.dumps({"name": "actions/runner", "tags": ["2.320.0", "2.321.0", "latest"]}).encode())
    )
    server.routes["/v2/actions/runner/manifests/2.321.0"] = guarded(
        Route(200, MANIFEST, {"Docker-Content-Digest": digest})
    )


def runner_yaml(server):
    return f"""description: r
vendor:
  runner:
    version: "^2.320"
    source: {{oci_tags: {server.netloc}/actions/runner}}
    url: "{server.netloc}/actions/runner:{{version}}"
    install: {{kind: image}}
"""


def test_registry_tag_range_pins_the_manifest_digest(tmp_path, capsys, monkeypatch, server):
    registry_like(server)
    write_pod(tmp_path, "runner", runner_yaml(server))
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    [entry] = json.loads((tmp_path / "build_files/runner/pod.lock.json").read_text())["vendor"]
    assert entry["version"] == "2.321.0"
    assert entry["url"] == f"{server.netloc}/actions/runner:2.321.0"
    assert entry["sha256"] == hashlib.sha256(MANIFEST).hexdigest()


def test_registry_digest_mismatch(tmp_path, capsys, monkeypatch, server):
    registry_like(server, claimed_digest="sha256:" + "f" * 64)
    write_pod(tmp_path, "runner", runner_yaml(server))
    before = snapshot(tmp_path)
    code, _, err = run_cli(tmp_path, capsys, monkeypatch=monkeypatch)
    assert code == 1 and snapshot(tmp_path) == before
    assert error_line(err) == (
        "pods: error: pod runner: vendor runner: "
        f"sha256 mismatch for {server.netloc}/actions/runner:2.321.0: "
        f"expected {'f' * 64} (registry digest), found {hashlib.sha256(MANIFEST).hexdigest()}"
    )


# --- digests quoted in pod.yaml from an upstream's published list ---------------------

SDK = b"dotnet sdk archive"


def quoted_yaml(url, digest, algorithm="sha512", publisher="upstream"):
    return f"""description: q
vendor:
  dotnet-sdk:
    version: "8.0.425"
    url: "{url}/dotnet-sdk-{{version}}-linux-x64.tar.gz"
    {algorithm}: {digest}
    checksum_source: "https://example.invalid/release-notes/8.0/release.json"
    checksum_publisher: {publisher}
    install: {{kind: tar, bin: [dotnet]}}
"""


def lock_quoted(tmp_path, capsys, monkeypatch, pod_yaml):
    write_pod(tmp_path, "sdk", pod_yaml)
    return run_cli(tmp_path, capsys, env={"PODS_TIMEOUT": "5"}, monkeypatch=monkeypatch)


def locked_quoted(tmp_path):
    lock = json.loads((tmp_path / "build_files/sdk/pod.lock.json").read_text())
    return lock["vendor"], lock["inputs"]["resolvers"]["vendor"]["checks"]


def test_quoted_digest_is_verified_by_download_when_the_upstream_answers(
    tmp_path, capsys, monkeypatch, server
):
    server.routes["/dotnet-sdk-8.0.425-linux-x64.tar.gz"] = Route(200, SDK)
    digest = hashlib.sha512(SDK).hexdigest()
    assert lock_quoted(tmp_path, capsys, monkeypatch, quoted_yaml(server.url, digest))[0] == 0
    assert server.requests == ["/dotnet-sdk-8.0.425-linux-x64.tar.gz"]
    [entry], checks = locked_quoted(tmp_path)
    assert entry == {
        "name": "dotnet-sdk",
        "version": "8.0.425",
        "url": f"{server.url}/dotnet-sdk-8.0.425-linux-x64.tar.gz",
        "sha512": digest,
        "checksum_source": "https://example.invalid/release-notes/8.0/release.json",
        "checksum_publisher": "upstream",
        "install": {"kind": "tar", "bin": ["dotnet"]},
    }
    assert "sha256" not in entry  # never invented: the lock holds what the upstream publishes
    assert checks == {"dotnet-sdk": "sha512 quoted (upstream); verified by download"}


def test_quoted_digest_locks_unverified_when_the_upstream_does_not_answer(tmp_path, capsys, monkeypatch):
    dead = dead_port_url()
    digest = hashlib.sha512(SDK).hexdigest()
    code, _, err = lock_quoted(tmp_path, capsys, monkeypatch, quoted_yaml(dead, digest))
    assert code == 0
    [entry], checks = locked_quoted(tmp_path)
    assert entry["sha512"] == digest and entry["url"] == f"{dead}/dotnet-sdk-8.0.425-linux-x64.tar.gz"
    assert checks == {"dotnet-sdk": "sha512 quoted (upstream); not verified: upstream did not answer"}
    [note] = [line for line in err.splitlines() if line.startswith("pods: note:")]
    assert note.startswith("pods: note: pod sdk: vendor dotnet-sdk: upstream did not answer (")
    assert note.endswith(
        "locked the sha512 quoted from https://example.invalid/release-notes/8.0/release.json "
        "unverified (the image build verifies it)"
    )


def test_quoted_digest_that_the_download_contradicts(tmp_path, capsys, monkeypatch, server):
    server.routes["/dotnet-sdk-8.0.425-linux-x64.tar.gz"] = Route(200, SDK)
    write_pod(tmp_path, "sdk", quoted_yaml(server.url, hashlib.sha512(SDK).hexdigest()))
    assert run_cli(tmp_path, capsys, monkeypatch=monkeypatch)[0] == 0
    wrong = "a" * 64
    line = relock_fails(
        tmp_path, "sdk", quoted_yaml(server.url, wrong, algorithm="sha256"), capsys, monkeypatch
    )
    assert line == (
        "pods: error: pod sdk: vendor dotnet-sdk: "
        f"sha256 mismatch for {server.url}/dotnet-sdk-8.0.425-linux-x64.tar.gz: "
        f"expected {wrong} (quoted from https://example.invalid/release-notes/8.0/release.json), "
        f"found {hashlib.sha256(SDK).hexdigest()}"
    )


def test_quoted_pin_is_kept_without_asking_upstream(tmp_path, capsys, monkeypatch, server):
    server.routes["/dotnet-sdk-8.0.425-linux-x64.tar.gz"] = Route(200, SDK)
    pod_yaml = quoted_yaml(server.url, hashlib.sha512(SDK).hexdigest())
    assert lock_quoted(tmp_path, capsys, monkeypatch, pod_yaml)[0] == 0
    # A change elsewhere in pod.yaml re-locks the pod; the quoted pin is not fetched again.
    assert lock_quoted(tmp_path, capsys, monkeypatch, pod_yaml + "env: {A: b}\n")[0] == 0
    assert len(server.requests) == 1
    assert locked_quoted(tmp_path)[1] == {"dotnet-sdk": "sha512 quoted (upstream); verified by download"}


def test_third_party_publisher_is_recorded(tmp_path, capsys, monkeypatch, server):
    server.routes["/dotnet-sdk-8.0.425-linux-x64.tar.gz"] = Route(200, SDK)
    pod_yaml = quoted_yaml(server.url, hashlib.sha256(SDK).hexdigest(), "sha256", "third-party")
    assert lock_quoted(tmp_path, capsys, monkeypatch, pod_yaml)[0] == 0
    [entry], checks = locked_quoted(tmp_path)
    assert entry["checksum_publisher"] == "third-party"
    assert checks == {"dotnet-sdk": "sha256 quoted (third-party); verified by download"}
