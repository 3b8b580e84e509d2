"""The update-cost figures (tests/bench/update_report.py) from manifests the tests make."""

from bench.update_report import (
    BEGIN,
    END,
    MB,
    Blob,
    Release,
    Row,
    markdown_section,
    new_blobs,
    row,
    stored,
    target_lines,
)
from bench.report import replace_section
from dataclasses import asdict


def rel(*blobs: tuple[str, int]) -> Release:
    return Release(tuple(Blob(d, s, s * 3) for d, s in blobs))


def test_download_is_the_new_manifests_blobs_the_old_one_lacks_once_each():
    old = rel(("a", 10), ("b", 20))
    new = rel(("a", 10), ("c", 5), ("c", 5), ("d", 7))
    assert [b.digest for b in new_blobs(old, new)] == ["c", "d"]
    r = row("debian", "ours", "base", old, new, limit=int(0.05 * new.size), why="5%")
    assert (r.download, r.download_uncompressed, r.size, r.layers) == (12, 36, 27, 4)
    assert r.met is False
    assert row("script", "ours", "jupyter", old, old, 5 * MB, "5 MB").met is True
    assert row("debian", "baseline", "base", old, new).met is None


def test_registry_storage_counts_a_blob_once_across_pods_and_releases():
    r0 = {"base": rel(("a", 10), ("b", 20)), "child": rel(("a", 10), ("b", 20), ("x", 1))}
    r1 = {"base": rel(("a", 10), ("c", 5)), "child": rel(("a", 10), ("c", 5), ("x", 1))}
    assert stored([r0]) == 31
    assert stored([r0, r1]) == 36


def test_targets_and_markdown_come_from_the_rows():
    r = Row("debian", "ours", "base", 40 * MB, None, 1000 * MB, None, 40, 50 * MB, "5% of the pod's download")
    b = Row("debian", "baseline", "base", 900 * MB, 2000 * MB, 1000 * MB, 3000 * MB, 13, None, "")
    lines = target_lines([r, b])
    assert lines == ["target debian base: 40.0 MB -> met (at most 50.0 MB: 5% of the pod's download)"]
    run = {
        "command": "python3 tests/bench/update_cost.py",
        "date": "d",
        "commit": "c",
        "machine": "m",
        "pods": ["rootfs", "base"],
        "baseline_pods": ["rootfs", "base"],
        "scenarios": [{"name": "debian", "title": "One Debian package in base", "change": "tree added"}],
        "rows": [asdict(r), asdict(b)],
        "storage": ["ours: 2 releases: 1 MB"],
        "targets": lines,
        "layers": {"base": 40},
    }
    section = markdown_section(run)
    assert "| ours | base | 40.0 MB | 4.0% of 1,000.0 MB | ? | 40 | met (at most 50.0 MB" in section
    assert "| baseline | base | 900.0 MB | 90.0% of 1,000.0 MB | 2,000.0 MB | 13 | - |" in section
    doc = f"intro\n{BEGIN}\nold\n{END}\nrest\n"
    assert replace_section(doc, section, "doc", BEGIN, END).count("40.0 MB") == 2


def test_storage_line_adds_each_release_once():
    from bench.update_report import storage_line

    r0 = {"base": rel(("a", 10 * MB), ("b", 20 * MB))}
    r1 = {"base": rel(("a", 10 * MB), ("c", 5 * MB))}
    assert (
        storage_line("ours", ["base"], [("r0", r0), ("debian", r1)]) == "ours (base): r0 30 MB, +debian 35 MB"
    )
