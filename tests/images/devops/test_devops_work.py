"""devops: the CLIs do their jobs, not just print versions.

AWS is unreachable from these machines, so `aws s3` talks to a small S3 endpoint this test
starts on the host's loopback (the pod shares the host's network); what the CLI uploads
must come back byte for byte. promtool, amtool and kubectl work on files alone.
"""

from __future__ import annotations

import re
import socketserver
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from images.harness import Pod

# The S3 calls `aws s3 mb/cp/ls` make; nothing else is answered.
S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Stub(BaseHTTPRequestHandler):
    buckets: dict[str, dict[str, bytes]] = {}
    protocol_version = "HTTP/1.1"

    def _parts(self) -> tuple[str, str, dict[str, list[str]]]:
        url = urllib.parse.urlsplit(self.path)
        bucket, _, key = url.path.lstrip("/").partition("/")
        return bucket, urllib.parse.unquote(key), urllib.parse.parse_qs(url.query)

    def _reply(self, code: int, body: bytes = b"", content_type: str = "application/xml") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        bucket, key, _ = self._parts()
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not key:
            self.buckets.setdefault(bucket, {})
        elif bucket not in self.buckets:
            return self._reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        else:
            self.buckets[bucket][key] = body
        self.send_response(200)
        self.send_header("ETag", '"0"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self) -> None:  # noqa: N802
        bucket, key, _ = self._parts()
        body = self.buckets.get(bucket, {}).get(key)
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        bucket, key, query = self._parts()
        if bucket not in self.buckets:
            return self._reply(404, b"<Error><Code>NoSuchBucket</Code></Error>")
        if key:
            body = self.buckets[bucket].get(key)
            if body is None:
                return self._reply(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return self._reply(200, body, "application/octet-stream")
        prefix = query.get("prefix", [""])[0]
        contents = "".join(
            f"<Contents><Key>{escape(k)}</Key><Size>{len(v)}</Size>"
            '<LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>"0"</ETag>'
            "<StorageClass>STANDARD</StorageClass></Contents>"
            for k, v in sorted(self.buckets[bucket].items())
            if k.startswith(prefix)
        )
        listing = (
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{S3_NS}">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix><KeyCount>"
            f"{contents.count('<Contents>')}</KeyCount><MaxKeys>1000</MaxKeys>"
            f"<IsTruncated>false</IsTruncated>{contents}</ListBucketResult>"
        )
        self._reply(200, listing.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def s3() -> Iterator[tuple[str, dict[str, dict[str, bytes]]]]:
    S3Stub.buckets = {}
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), S3Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", S3Stub.buckets
    finally:
        server.shutdown()


def test_aws_s3_uploads_lists_and_downloads(pod: Pod, s3: tuple[str, dict]) -> None:
    endpoint, buckets = s3
    env = {
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Plain uploads: the stub does not decode aws-chunked bodies with trailing checksums.
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
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
    assert buckets == {"pods-test": {"dir/note.txt": b"hello from devops\n"}}
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
