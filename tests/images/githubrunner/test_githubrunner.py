"""githubrunner: the runner entrypoint refuses to start without its settings."""

from __future__ import annotations

from images.harness import Pod


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
