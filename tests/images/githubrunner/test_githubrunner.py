"""githubrunner: the Actions runner agent at its locked version, and an entrypoint that
refuses to start without its settings."""

from __future__ import annotations

from images.harness import Pod, engine, skip_if_excluded

RUNNER_HOME = "/opt/pods/vendor/actions-runner"


def test_entrypoint_rejects_missing_token(pod: Pod) -> None:
    result = pod.run(
        env={"RUNNER_URL": "https://github.com/example/repo"}, check=False, image_entrypoint=True
    )
    assert result.returncode != 0
    assert "RUNNER_TOKEN" in result.stderr


def test_entrypoint_rejects_missing_url(pod: Pod) -> None:
    result = pod.run(env={"RUNNER_TOKEN": "t0k3n-not-real"}, check=False, image_entrypoint=True)
    assert result.returncode != 0
    assert "RUNNER_URL" in result.stderr
    assert "t0k3n-not-real" not in result.stdout + result.stderr


def test_has_a_healthcheck(pod: Pod) -> None:
    info = pod.inspect()
    health = info.get("Healthcheck") or info["Config"].get("Healthcheck")
    assert health and health["Test"]


def test_runner_agent_reports_locked_version(pod: Pod, vendor_versions: dict[str, str]) -> None:
    skip_if_excluded(pod, "actions-runner")
    assert pod.sh(f"{RUNNER_HOME}/bin/Runner.Listener --version") == vendor_versions["actions-runner"]


def test_runner_folder_belongs_to_jovian(pod: Pod) -> None:
    skip_if_excluded(pod, "actions-runner")
    # config.sh writes its registration there and refuses to run as root.
    assert pod.sh(f"stat -c %U {RUNNER_HOME} {RUNNER_HOME}/config.sh").split() == ["jovian", "jovian"]


def test_healthcheck_follows_the_agent_listener(pod: Pod) -> None:
    # The agent may be excluded here (GitHub is unreachable), so a process under the
    # listener's name stands in for it: what is tested is the image's own HEALTHCHECK, run
    # by podman, turning healthy with the listener and unhealthy without it.
    listener = "exec -a Runner.Listener sleep 300"
    with pod.service("bash", "-c", listener, extra=["--entrypoint", ""]) as running:
        assert engine("healthcheck", "run", running.name, check=False).returncode == 0
    with pod.service("sleep", "300", extra=["--entrypoint", ""]) as idle:
        failed = engine("healthcheck", "run", idle.name, check=False)
        assert failed.returncode != 0 and "unhealthy" in failed.stdout + failed.stderr
