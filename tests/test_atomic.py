"""The one atomic-folder helper family (``babelscope.atomic``): a staged folder replaces its target only
when the block finishes; a build happens once; neither leaves a temporary behind, whatever happens."""

from __future__ import annotations

import pytest

from babelscope.atomic import build_dir, staged_dir


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_staged_dir_replaces_only_on_success(tmp_path):
    out = tmp_path / "results"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(out) as tmp:
            (tmp / "new.txt").write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in out.iterdir()) == ["old.txt"] and _leftovers(tmp_path) == []
    with staged_dir(out) as tmp:
        assert tmp.parent == tmp_path and not any(tmp.iterdir())
        (tmp / "new.txt").write_text("whole")
        assert not (out / "new.txt").exists()  # nothing shows under out before the block ends
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"] and _leftovers(tmp_path) == []


def test_staged_dir_removes_a_dead_processes_temporary(tmp_path):
    out = tmp_path / "corpus"
    stale = tmp_path / ".corpus.tmp-999999999"
    stale.mkdir()
    with staged_dir(out) as tmp:
        (tmp / "a").write_text("a")
    assert _leftovers(tmp_path) == [] and (out / "a").read_text() == "a"


def test_build_dir_builds_once_and_cleans_up_a_failed_build(tmp_path):
    calls = []

    def build(tmp):
        calls.append(tmp)
        (tmp / "weights").write_text("w")

    def broken(tmp):
        (tmp / "weights").write_text("half")
        raise RuntimeError("disk full")

    folder = tmp_path / "model"
    with pytest.raises(RuntimeError, match="disk full"):
        build_dir(folder, broken)
    assert not folder.exists() and _leftovers(tmp_path) == []
    assert build_dir(folder, build) == folder and build_dir(folder, build) == folder
    assert len(calls) == 1 and (folder / ".complete").read_text() == "ok\n" and _leftovers(tmp_path) == []
