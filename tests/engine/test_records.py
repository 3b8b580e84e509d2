"""One record helper: atomic JSON, {} when missing or broken, one trust-window rule."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import records
from records import TrustWindow, read_record, write_record


def test_a_missing_or_broken_record_reads_as_empty(tmp_path: Path) -> None:
    assert read_record(tmp_path / "missing.json") == {}
    (tmp_path / "broken.json").write_text('{"half": ')
    assert read_record(tmp_path / "broken.json") == {}
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_record(tmp_path / "list.json") == {}


def test_a_record_is_written_whole_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "record.json"
    write_record(path, {"id": "abc"})
    write_record(path, {"id": "def"})
    assert read_record(path) == {"id": "def"}
    assert [p.name for p in path.parent.iterdir()] == ["record.json"]


def test_a_trust_window_forgets_what_is_older_than_its_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = TrustWindow(tmp_path / "w.json", seconds=60)
    window.note({"r/a:1": ["sha256:m", "sha256:c"]})
    window.note({"r/a:2": None})
    assert window.fresh() == {"r/a:1": ["sha256:m", "sha256:c"], "r/a:2": None}
    later = time.time() + 61
    monkeypatch.setattr(records.time, "time", lambda: later)
    assert window.fresh() == {}
    window.note({"r/a:3": "sha256:c"})
    assert json.loads((tmp_path / "w.json").read_text()) == {"r/a:3": [later, "sha256:c"]}


def test_a_record_in_the_old_digest_then_time_order_is_not_trusted(tmp_path: Path) -> None:
    path = tmp_path / "pushed.json"
    path.write_text(json.dumps({"r/a:1": ["sha256:c", time.time()]}))
    assert TrustWindow(path, seconds=900).fresh() == {}
