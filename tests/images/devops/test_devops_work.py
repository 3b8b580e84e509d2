"""devops: the CLIs do their jobs, not just print versions.

AWS is unreachable from these machines, so `aws s3` talks to moto's S3 server (a PyPI
package speaking the S3 API) that this test starts on the host's loopback; the pod shares
the host's network. What the CLI uploads must be on the server, byte for byte. promtool,
amtool and kubectl work on files alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from images.harness import Pod, free_port
from moto.server import ThreadedMotoServer


@pytest.fixture
def s3() -> Iterator[str]:
    """moto's S3 server (the real S3 wire protocol) on the host's loopback."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._port}"
    finally:
        server.stop()


def test_aws_s3_uploads_lists_and_downloads(pod: Pod, s3: str) -> None:
    endpoint = s3
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    s3cmd = f"aws --endpoint-url {endpoint} s3"
    script = (
        f"set -e; {s3cmd} mb s3://pods-test >/dev/null; "
        "printf 'hello from devops\\n' > /tmp/note.txt; "
        f"{s3cmd} cp /tmp/note.txt s3://pods-test/dir/note.txt >/dev/null; "
        f"{s3cmd} ls s3://pods-test/dir/; "
        f"{s3cmd} cp s3://pods-test/dir/note.txt -"
    )
    out = pod.sh(script, env=env, extra=["--network", "host"], timeout=180)
    # What the server holds, asked over the S3 API by another client than the one under test.
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    stored = client.get_object(Bucket="pods-test", Key="dir/note.txt")["Body"].read()
    assert stored == b"hello from devops\n"
    listed, fetched = out.splitlines()[0], out.splitlines()[-1]
    assert re.search(r"\s18 note\.txt$", listed), out
    assert fetched == "hello from devops"


RULES = """groups:
  - name: pods
    rules:
      - alert: InstanceDown
        expr: up == 0
        for: 5m
        labels: {severity: page}
"""

RULE_TESTS = """rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'up{job="pods", instance="a"}'
        values: '0x10'
    alert_rule_test:
      - eval_time: 10m
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {severity: page, job: pods, instance: a}
"""


def shared(folder: Path) -> list[str]:
    """Mount `folder` as the pod's working directory; jovian (not the host's root) writes there."""
    folder.chmod(0o777)
    return ["--volume", f"{folder}:/work", "--workdir", "/work"]


def test_promtool_checks_and_unit_tests_alert_rules(pod: Pod, tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "tests.yml").write_text(RULE_TESTS)
    (tmp_path / "broken.yml").write_text(RULES.replace("up == 0", "up =="))
    mount = shared(tmp_path)
    checked = pod.sh("promtool check rules rules.yml 2>&1", extra=mount)
    assert "SUCCESS: 1 rules found" in checked, checked
    tested = pod.sh("promtool test rules tests.yml 2>&1", extra=mount)
    assert "SUCCESS" in tested, tested
    broken = pod.run("promtool", "check", "rules", "broken.yml", extra=mount, check=False)
    assert broken.returncode != 0 and "FAILED" in broken.stdout + broken.stderr


ALERTMANAGER = """route:
  receiver: team
  group_by: [alertname]
receivers:
  - name: team
    webhook_configs:
      - url: http://127.0.0.1:9/hook
"""


def test_amtool_checks_an_alertmanager_config(pod: Pod, tmp_path: Path) -> None:
    (tmp_path / "alertmanager.yml").write_text(ALERTMANAGER)
    (tmp_path / "broken.yml").write_text(ALERTMANAGER.replace("receiver: team", "receiver: nobody"))
    mount = shared(tmp_path)
    good = pod.sh("amtool check-config alertmanager.yml 2>&1", extra=mount)
    assert "SUCCESS" in good and "1 receivers" in good, good
    bad = pod.run("amtool", "check-config", "broken.yml", extra=mount, check=False)
    assert bad.returncode != 0 and "nobody" in bad.stdout + bad.stderr


KUSTOMIZATION = """resources: [deployment.yaml]
namePrefix: team-
commonLabels: {app.kubernetes.io/part-of: pods}
images:
  - name: web
    newTag: "1.2.3"
"""


def test_kubectl_renders_manifests_without_a_cluster(pod: Pod, tmp_path: Path) -> None:
    mount = shared(tmp_path)
    # Client-side dry run: kubectl makes the object itself, no API server asked.
    deployment = pod.sh(
        "kubectl create deployment web --image=web:1.0 --replicas=2 --dry-run=client -o yaml"
        " | tee deployment.yaml",
        extra=mount,
    )
    assert "kind: Deployment" in deployment and "replicas: 2" in deployment, deployment
    (tmp_path / "kustomization.yaml").write_text(KUSTOMIZATION)
    rendered = pod.sh("kubectl kustomize .", extra=mount)
    assert "name: team-web" in rendered, rendered
    assert "image: web:1.2.3" in rendered, rendered
    assert "app.kubernetes.io/part-of: pods" in rendered, rendered
