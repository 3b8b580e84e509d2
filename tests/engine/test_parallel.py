"""Ten image tests at once on one machine: distinct names and ports, nothing left behind.

Uses the same harness every image test uses (tests/images/harness.py), on rootfs.
"""

from __future__ import annotations

import json
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from images.harness import Pod, engine

PARALLEL = 10


@pytest.fixture(scope="module")
def rootfs() -> Pod:
    info = json.loads(Path("pods/rootfs.docker-info.json").read_text())
    return Pod(name="rootfs", image_id=info["image_id"], tags=())


def one_test(rootfs: Pod, index: int) -> tuple[str, int]:
    """Start a web server in a pod, fetch from it; test number 3 fails half-way."""
    with rootfs.service("python3", "-m", "http.server", "8000", ports=(8000,)) as service:
        service.wait_for_port(8000)
        with urllib.request.urlopen(f"http://127.0.0.1:{service.port(8000)}/", timeout=10) as r:
            assert r.status == 200
        if index == 3:
            raise RuntimeError(f"test {index} fails on purpose, with {service.name} running")
        return service.name, service.port(8000)


def podtest_containers() -> set[str]:
    out = engine("ps", "--all", "--filter", "name=podtest-rootfs-", "--format", "{{.Names}}").stdout
    return set(out.split())


def test_ten_image_tests_in_parallel_do_not_interfere(rootfs: Pod) -> None:
    before = podtest_containers()
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(one_test, rootfs, i) for i in range(PARALLEL)]
    outcomes = [f.exception() or f.result() for f in futures]

    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failed) == 1 and "fails on purpose" in str(failed[0])
    passed = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(passed) == PARALLEL - 1
    assert len({name for name, _ in passed}) == len(passed)
    assert len({port for _, port in passed}) == len(passed)
    # Every container is gone, the failed test's included.
    assert podtest_containers() - before == set()
