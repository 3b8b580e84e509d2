"""base: the toolchain, languages and shell tools every pod inherits, at their locked versions."""

from __future__ import annotations

import pytest
from images.harness import Pod, upstream_version

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
    "node --version": "nodejs",
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
