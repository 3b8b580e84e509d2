"""What pods-install settles at the end of every install (build_files/pods_repro.py), on a
folder laid out like an image's: logs emptied, ldconfig's aux-cache gone, the machine-id the
family's, and nothing touched that held nothing (a touched file of a parent's layer would be
copied into the child's)."""

import os

from unit.pods.helpers import installer_module

EPOCH = 1764460800


def repro():
    installer_module()  # puts build_files/ on sys.path, as in an image
    import pods_repro  # pants: no-infer-dep

    return pods_repro


def lay_out(root):
    (root / "log/apt").mkdir(parents=True)
    (root / "log/dpkg.log").write_text("2026-12-02 04:00:01 status installed bash:amd64 5.2\n")
    (root / "log/apt/history.log").write_text("Start-Date: 2026-12-02  04:00:00\n")
    (root / "log/faillog").write_bytes(b"")
    (root / "log/current").symlink_to("dpkg.log")
    (root / "aux-cache").write_bytes(b"\x01\x02 inode and ctime of every library")
    (root / "etc").mkdir()
    (root / "etc/machine-id").write_text("3f1d5c0e9b8a4f6e8d7c6b5a49382716\n")
    # git-lfs's install writes its keys in Go's (random) map order.
    (root / "etc/gitconfig").write_text(
        '[filter "lfs"]\n\trequired = true\n\tclean = git-lfs clean -- %f\n'
        "\tsmudge = git-lfs smudge -- %f\n\tprocess = git-lfs filter-process\n"
    )
    return paths_under(root)


def paths_under(root):
    return {
        "log_root": str(root / "log"),
        "aux_cache": str(root / "aux-cache"),
        "machine_ids": (str(root / "etc/machine-id"), str(root / "dbus-machine-id")),
        "gitconfig": str(root / "etc/gitconfig"),
    }


def test_logs_are_emptied_the_aux_cache_dropped_and_the_machine_id_pinned(tmp_path):
    module = repro()
    paths = lay_out(tmp_path)
    untouched = os.stat(tmp_path / "log/faillog").st_mtime_ns
    changed = module.settle_leftovers(EPOCH, **paths)
    assert sorted(changed) == sorted(
        [
            str(tmp_path / "log/dpkg.log"),
            str(tmp_path / "log/apt/history.log"),
            paths["aux_cache"],
            str(tmp_path / "etc/machine-id"),
            str(tmp_path / "etc/gitconfig"),
        ]
    )
    assert (tmp_path / "etc/gitconfig").read_text() == (
        '[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\tprocess = git-lfs filter-process\n'
        "\trequired = true\n\tsmudge = git-lfs smudge -- %f\n"
    )
    assert (tmp_path / "log/dpkg.log").read_bytes() == b""
    assert (tmp_path / "log/apt/history.log").read_bytes() == b""
    assert os.readlink(tmp_path / "log/current") == "dpkg.log"
    assert os.stat(tmp_path / "log/faillog").st_mtime_ns == untouched
    assert not (tmp_path / "aux-cache").exists()
    machine_id = (tmp_path / "etc/machine-id").read_text()
    assert len(machine_id.strip()) == 32 and int(machine_id, 16) >= 0
    assert not (tmp_path / "dbus-machine-id").exists()


def test_a_second_run_changes_nothing_and_the_machine_id_is_the_same_on_every_build(tmp_path):
    module = repro()
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        root.mkdir()
        module.settle_leftovers(EPOCH, **lay_out(root))
    assert (one / "etc/machine-id").read_text() == (two / "etc/machine-id").read_text()
    assert module.settle_leftovers(EPOCH, **paths_under(one)) == []


def test_a_git_config_section_whose_order_matters_is_left_as_it_is() -> None:
    module = repro()
    # A key given twice (multi-valued: order is meaning), a comment, a bare boolean key.
    for text in (
        "[remote]\n\tpushurl = b\n\tpushurl = a\n",
        "[core]\n\t# why\n\tpager = less\n",
        "[core]\n\tbare\n\tautocrlf = false\n",
    ):
        assert module.sorted_sections(text) == text
