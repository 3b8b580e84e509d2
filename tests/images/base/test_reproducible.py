"""What makes a pod rebuild to the same digest, checked in the image itself: its dates are the
family's epoch and not the clock's, where builds would otherwise stamp them.

`pods verify` (tests/verify) rebuilds and compares whole images; these say which
mechanism holds, on base and on every pod built on it (a child's packages can re-run a
trigger that stamps the clock again).
"""

from __future__ import annotations

import datetime
import json
import re

from images.harness import Pod
from pods_contract import SOURCE_DATE_EPOCH

EPOCH = datetime.datetime.fromtimestamp(SOURCE_DATE_EPOCH, datetime.UTC)


def as_utc(stamp: str) -> datetime.datetime:
    # podman prints nanoseconds and an offset ("2025-11-30T00:00:00Z" or "...+00:00").
    stamp = re.sub(r"(\.\d{6})\d+", r"\1", stamp).replace("Z", "+00:00")
    return datetime.datetime.fromisoformat(stamp).astimezone(datetime.UTC)


def test_the_image_and_every_step_are_dated_at_the_family_epoch(pod: Pod) -> None:
    info = pod.inspect()
    assert as_utc(info["Created"]) == EPOCH
    steps = info.get("History") or []
    assert steps, "the image has no history"
    assert {as_utc(step["created"]) for step in steps} == {EPOCH}


def test_the_java_trust_store_verifies_and_dates_every_entry_at_the_family_epoch(pod: Pod) -> None:
    # keytool checks the store's integrity digest with the password, so a bad rewrite fails here.
    listing = pod.sh(
        "keytool -list -v -keystore /etc/ssl/certs/java/cacerts -storepass changeit", user="root"
    )
    count = int(re.search(r"Your keystore contains (\d+) entr", listing).group(1))
    dates = re.findall(r"^Creation date: (.+)$", listing, re.M)
    assert count > 100 and len(dates) == count
    assert set(dates) == {EPOCH.strftime("%b %-d, %Y")}


def test_the_family_venvs_bytecode_is_checked_hash_not_timestamped(pod: Pod) -> None:
    # A timestamped .pyc records when pip unpacked its source; a checked-hash one records
    # the source's hash (PEP 552, flags 0b11), the same on every build.
    script = r"""
import collections, json, pathlib, struct
flags = collections.Counter()
for pyc in pathlib.Path("/opt/pods/venv/lib").rglob("*.pyc"):
    with open(pyc, "rb") as f:
        flags[struct.unpack("<4sI", f.read(8))[1]] += 1
print(json.dumps(flags))
"""
    counted = {int(flag): n for flag, n in json.loads(pod.run("python3", "-c", script).stdout).items()}
    assert sum(counted.values()) > 100, counted
    assert set(counted) == {0b11}, f"pyc flags by count: {counted} (0 = timestamped)"
