"""base as a place to work (docs/workplace.md): the interactive shell a person types into
(driven through tmux, read back with capture-pane), an editor, uv and pipx against the
machine's PyPI, sudo only on request, and containers inside the pod.

Base's promise, run on base alone: every descendant keeps base's shell files and tools, and
these tests start several containers each.
"""

from __future__ import annotations

import configparser
import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from images.harness import ENGINE, Pod, Service

pytestmark = pytest.mark.skipif(
    os.environ.get("POD_UNDER_TEST") != "base",
    reason="the workplace is tested on base alone: a descendant keeps base's shell files and tools",
)

STARSHIP_PROMPT = "\u276f"  # starship's default prompt character
# the prompt's last line, waiting for input (starship puts modules such as the container's
# name before the character)
PROMPT_READY = re.compile(rf"{STARSHIP_PROMPT} *$", re.M)
FZF_COUNTER = re.compile(r"\b\d+/\d+\b")  # fzf's "matches/total" line


class Terminal:
    """A tmux session in a running pod, typed into and read back like a person would."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def keys(self, *keys: str) -> None:
        self.service.exec("tmux", "send-keys", "-t", "work", *keys)

    def type(self, line: str) -> None:
        self.keys("-l", line)
        self.keys("Enter")

    def screen(self) -> str:
        return self.service.exec("tmux", "capture-pane", "-p", "-t", "work").stdout

    def wait_for(self, pattern: str | re.Pattern, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} never appeared on the terminal:\n{screen}")
            time.sleep(0.3)

    def clear(self) -> None:
        self.keys("C-c")
        self.type("clear")
        self.wait_for(PROMPT_READY, timeout=10)


@pytest.fixture(scope="module")
def terminal(pod: Pod) -> Iterator[Terminal]:
    """jovian's interactive login shell, as `podman exec -it <pod> bash -l` gives it."""
    with pod.service("sleep", "infinity", env={"LANG": "C.UTF-8"}) as service:
        service.exec("tmux", "-u", "new-session", "-d", "-s", "work", "-x", "150", "-y", "40", "bash", "-l")
        term = Terminal(service)
        term.wait_for(PROMPT_READY)
        yield term


def test_interactive_shell_shows_starships_prompt(terminal: Terminal):
    terminal.type('echo "shell=$STARSHIP_SHELL"')
    terminal.wait_for(r"shell=bash")
    assert STARSHIP_PROMPT in terminal.screen()


def test_z_jumps_to_a_visited_directory(terminal: Terminal):
    terminal.clear()
    terminal.type("mkdir -p /tmp/work/deep/place && cd /tmp/work/deep/place")
    terminal.type("cd /")
    terminal.type('z place && echo "now in $PWD"')
    terminal.wait_for(r"now in /tmp/work/deep/place")


@pytest.mark.parametrize(
    "typed, completed", [("kubectl versio", "kubectl version"), ("gh auth statu", "gh auth status")]
)
def test_tab_completes_subcommands(terminal: Terminal, typed: str, completed: str):
    terminal.clear()
    terminal.keys("-l", typed)
    terminal.keys("Tab")
    terminal.wait_for(re.escape(completed))
    terminal.keys("C-c")


def test_ctrl_r_opens_fzf_on_the_history(terminal: Terminal):
    terminal.clear()
    assert not FZF_COUNTER.search(terminal.screen())
    terminal.keys("C-r")
    terminal.wait_for(FZF_COUNTER)
    terminal.keys("Escape")


def test_editor_is_nano_and_saves_a_file(terminal: Terminal):
    terminal.clear()
    terminal.type("$EDITOR /tmp/note.txt")
    terminal.wait_for(r"GNU nano")
    terminal.keys("-l", "written in the pod")
    terminal.keys("C-x")
    terminal.wait_for(r"Save modified buffer")
    terminal.keys("y")
    terminal.wait_for(r"File Name to Write|Write to File")
    terminal.keys("Enter")
    terminal.wait_for(PROMPT_READY)
    assert terminal.service.exec("cat", "/tmp/note.txt").stdout.strip() == "written in the pod"


@pytest.mark.parametrize("shell", [["bash", "-c"], ["bash", "-lc"]])
def test_scripts_get_no_prompt_or_jumps(pod: Pod, shell: list[str]):
    probe = "declare -F starship_precmd __zoxide_hook __fzf_history__ || echo none loaded"
    result = pod.run(*shell, probe, check=False)
    assert result.stdout.strip() == "none loaded", result.stdout + result.stderr
    assert pod.sh("git var GIT_EDITOR") == "nano"


# --- Python tools ------------------------------------------------------------------------

CA_IN_POD = "/etc/pods-test/ca.crt"


def host_pip_settings() -> dict[str, str]:
    """The machine's pip configuration (its files, then PIP_* variables), as pip reads them."""
    parser = configparser.ConfigParser()
    parser.read([Path("/etc/pip.conf"), Path.home() / ".config/pip/pip.conf", Path.home() / ".pip/pip.conf"])
    settings = {
        k: v
        for section in ("global", "install")
        if parser.has_section(section)
        for k, v in parser[section].items()
    }
    for key in ("index-url", "cert"):
        value = os.environ.get("PIP_" + key.upper().replace("-", "_"))
        if value:
            settings[key] = value
    return settings


def pypi_access() -> tuple[dict[str, str], list[str]]:
    """Environment and run flags that give the pod this machine's PyPI: its index, if it
    names one, and its CA bundle (a proxy's CA may be in it)."""
    settings = host_pip_settings()
    env, extra = {}, []
    if settings.get("index-url"):
        env.update(PIP_INDEX_URL=settings["index-url"], UV_DEFAULT_INDEX=settings["index-url"])
    cert = settings.get("cert") or os.environ.get("SSL_CERT_FILE")
    if cert and Path(cert).is_file():
        extra += ["-v", f"{cert}:{CA_IN_POD}:ro"]
        env.update(PIP_CERT=CA_IN_POD, SSL_CERT_FILE=CA_IN_POD)
    return env, extra


def test_uv_and_pipx_install_for_jovian_from_pypi(pod: Pod):
    env, extra = pypi_access()
    script = """
        set -e
        echo "python3=$(command -v python3)"
        cd ~ && uv venv -q project/.venv
        uv pip install -q --python project/.venv/bin/python six
        project/.venv/bin/python -c 'import six; print("six", six.__version__)'
        pipx install cowsay >/dev/null 2>&1
        echo "cowsay=$(command -v cowsay)"
        cowsay -t moo
    """
    out = pod.sh(script, env=env, extra=extra, timeout=300)
    assert "python3=/usr/bin/python3" in out, out
    assert re.search(r"^six \d+\.\d+", out, re.M), out
    assert "cowsay=/home/jovian/.local/bin/cowsay" in out, out
    assert "moo" in out.split("cowsay=", 1)[1], out


# --- sudo ----------------------------------------------------------------------------------


def test_no_sudo_by_default(pod: Pod):
    result = pod.run("sudo", "-n", "true", check=False)
    assert result.returncode != 0
    assert "password is required" in result.stderr


def test_grant_sudo_needs_the_pod_started_as_root(pod: Pod):
    result = pod.run("sudo", "-n", "true", env={"GRANT_SUDO": "yes"}, check=False)
    assert result.returncode != 0
    assert "add --user 0" in result.stderr


def test_grant_sudo_gives_jovian_sudo(pod: Pod):
    out = pod.sh("id -un; sudo -n apt-get --version | head -1", user="0", env={"GRANT_SUDO": "yes"})
    user, apt = out.splitlines()
    assert user == "jovian"
    assert apt.startswith("apt "), out


# --- containers ----------------------------------------------------------------------------

SOCKET_IN_POD = "/run/pods-test/podman.sock"


@contextlib.contextmanager
def host_podman_api(folder: Path) -> Iterator[Path]:
    """`podman system service` on a socket jovian (uid 1000) may use, as a rootless host
    user's own socket would be under keep-id."""
    sock = folder / "podman.sock"
    log = folder / "service.log"
    with open(log, "w") as out:
        service = subprocess.Popen(
            [ENGINE, "system", "service", "--time=0", f"unix://{sock}"], stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while not sock.exists():
            if service.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"podman system service did not start:\n{log.read_text()}")
            time.sleep(0.2)
        os.chown(sock, 1000, 1000)
        yield sock
    finally:
        service.terminate()
        service.wait(timeout=30)


def test_docker_and_podman_remote_reach_the_hosts_engine(pod: Pod, tmp_path: Path):
    with host_podman_api(tmp_path) as sock:
        script = f"""
            set -e
            DOCKER_HOST=unix://{SOCKET_IN_POD} docker version --format 'server={{{{.Server.Version}}}}'
            DOCKER_HOST=unix://{SOCKET_IN_POD} docker images --no-trunc --format 'docker {{{{.ID}}}}'
            podman --remote --url unix://{SOCKET_IN_POD} images --no-trunc --format 'podman {{{{.ID}}}}'
        """
        out = pod.sh(script, extra=["-v", f"{sock}:{SOCKET_IN_POD}"])
    assert re.search(r"^server=\d+\.\d+", out, re.M), out
    for client in ("docker", "podman"):
        ids = [
            line.split()[1].removeprefix("sha256:")
            for line in out.splitlines()
            if line.startswith(client + " ")
        ]
        assert any(
            i.startswith(pod.image_id) for i in ids
        ), f"{client} does not list the pod's own image:\n{out}"


NESTED = """
set -e
cd "$(mktemp -d)"
printf '#include <stdio.h>\\nint main(void) { puts("hello from a nested container"); return 0; }\\n' >hello.c
gcc -static -Os -o hello hello.c
printf 'FROM scratch\\nCOPY hello /hello\\nENTRYPOINT ["/hello"]\\n' >Containerfile
podman build -q -t localhost/nested-hello . >/dev/null
podman run --rm localhost/nested-hello
"""


def test_rootless_podman_inside_the_pod_builds_and_runs_an_image(pod: Pod):
    # /proc must be unmasked for the nested container to mount its own (docs/workplace.md).
    out = pod.sh(NESTED, extra=["--security-opt", "unmask=ALL"], env={"PODMAN_IGNORE_CGROUPSV1_WARNING": "1"})
    assert out.splitlines()[-1] == "hello from a nested container", out


def test_nested_podman_run_needs_proc_unmasked(pod: Pod):
    result = pod.run("bash", "-c", NESTED, env={"PODMAN_IGNORE_CGROUPSV1_WARNING": "1"}, check=False)
    assert result.returncode != 0
    assert "mount `proc`" in result.stderr, result.stderr
