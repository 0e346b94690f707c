"""The catalogue of bad inputs: one row per malformed input, the error it must raise and the words the
message must contain (the file, line, field or setting at fault).

Used by ``test_bad_inputs.py`` (one test per row) and by ``make_catalogue_doc.py``, which writes
``docs/bad-inputs.md`` with the exact message of every row. Rows go through the user's path where
there is one: the CLI command (run in-process through the typer app, so the exception itself is
seen; ``babelscope.cli.main`` turns it into one line on stderr and exit status 2).
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf

from babelscope.errors import (AudioError, ConfigError, LabelError, ManifestError, ModelLoadError, SiteError,
                               StoreError)

MODEL = "tiny-random-seamless"
LANGS = ("eng", "deu", "spa")
SENTENCES = {
    "g1": {"eng": "The cat sleeps on the warm roof.", "deu": "Die Katze schläft auf dem warmen Dach.",
           "spa": "El gato duerme en el tejado caliente."},
    "g2": {"eng": "We walked to the market together.", "deu": "Wir gingen zusammen zum Markt.",
           "spa": "Caminamos juntos al mercado."},
}


def tone(seconds: float = 0.8, rate: int = 16000, seed: int = 0, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    wav = 0.3 * np.sin(2 * np.pi * (200 + 40 * seed) * t) + 0.01 * rng.standard_normal(t.size)
    wav = wav.astype(np.float32)
    return np.stack([wav] * channels, axis=1) if channels > 1 else wav


def good_records() -> list[dict]:
    """A small parallel corpus: 2 groups x 3 languages x (text, speech); audio files ``audio/G-L.wav``."""
    out = []
    for g, texts in SENTENCES.items():
        for lang in LANGS:
            out.append({"id": f"{g}-{lang}-text", "group": g, "lang": lang, "modality": "text", "text": texts[lang]})
            out.append({"id": f"{g}-{lang}-speech", "group": g, "lang": lang, "modality": "speech",
                        "text": texts[lang], "audio": f"audio/{g}-{lang}.wav"})
    return out


def write_corpus(folder: Path, records: list[dict] | None = None, *, lines: list[str | bytes] | None = None) -> Path:
    """Write a corpus folder: the audio of the good corpus, and ``records`` (or raw ``lines``)."""
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    for i, r in enumerate(good_records()):
        if r["modality"] == "speech":
            sf.write(folder / r["audio"], tone(seed=i), 16000)
    if lines is None:
        lines = [json.dumps(r, ensure_ascii=False) for r in (records if records is not None else good_records())]
    data = b"".join((l if isinstance(l, bytes) else l.encode("utf-8")) + b"\n" for l in lines)
    (folder / "manifest.jsonl").write_bytes(data)
    return folder


def cli(*argv: Any) -> None:
    """Run a babelscope command in-process; exceptions propagate (``main`` would print them)."""
    from babelscope.cli import app

    app(args=[str(a) for a in argv], standalone_mode=False)


@contextlib.contextmanager
def env(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Resources:
    """Artifacts shared by many rows, built once: a good corpus, a store, an expertise table, a
    neuron set. ``base`` is a scratch folder."""

    def __init__(self, base: Path, adapter=None) -> None:
        self.base = Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self._adapter = adapter

    @property
    def adapter(self):
        if self._adapter is None:
            from babelscope.models import load_model

            self._adapter = load_model(MODEL)
        return self._adapter

    @cached_property
    def corpus(self) -> Path:
        return write_corpus(self.base / "corpus")

    @cached_property
    def store(self) -> Path:
        from babelscope.corpus import build_task_samples, read_manifest
        from babelscope.record import RecordSettings, record

        samples = build_task_samples(read_manifest(self.corpus), ["t2t", "en2x_t2t"])
        record(self.adapter, samples, self.base / "store",
               RecordSettings(steps=(2,), sites=("text_decoder",), batch_size=8, max_new_tokens=4), progress=False)
        return self.base / "store"

    @cached_property
    def expertise(self) -> Path:
        from babelscope.rank import build_analysis, rank_store
        from babelscope.record import open_activations

        st = open_activations(self.store)
        an = build_analysis(st.samples, "target_language", modality="text")
        rank_store(st, an, view="step=2/mean", out=self.base / "exp.parquet", progress=False, threads=1)
        return self.base / "exp.parquet"

    @cached_property
    def neuron_set(self) -> Path:
        from babelscope.rank import read_expertise, save_neuron_set, select_units

        ns = select_units(read_expertise(self.expertise), "deu", k=6, mode="top", component="decoder_ffn")
        return save_neuron_set(ns, self.base / "deu.json")

    def set_json(self) -> dict:
        return json.loads(self.neuron_set.read_text())

    @cached_property
    def model_copy(self) -> Path:
        """A local copy of the built-in model's folder (rows damage their own copies of it)."""
        from babelscope.models.builtin import builtin_path

        dst = self.base / "model"
        shutil.copytree(builtin_path(MODEL), dst)
        return dst


@dataclass
class Ctx:
    """One row's scratch folder and the shared resources."""

    tmp: Path
    res: Resources

    @property
    def out(self) -> Path:
        return self.tmp / "out"

    def corpus(self, records: list[dict] | None = None, **kw) -> Path:
        return write_corpus(self.tmp / "corpus", records, **kw)

    def edit(self, line: int, **changes: Any) -> Path:
        """The good corpus with record ``line`` (1-based) changed; a value of ``...`` removes the field."""
        recs = good_records()
        r = dict(recs[line - 1])
        for k, v in changes.items():
            if v is ...:
                r.pop(k, None)
            else:
                r[k] = v
        recs[line - 1] = r
        return self.corpus(recs)

    def record(self, corpus: Path, *extra: Any, tasks: str = "t2t,s2t", out: Path | None = None) -> None:
        cli("record", "--model", MODEL, "--corpus", corpus, "--out", out or self.out, "--tasks", tasks,
            "--steps", "2", "--max-new-tokens", "4", "--batch-size", "8", "--no-progress", *extra)

    def model(self, *remove: str, write: dict[str, bytes] | None = None) -> Path:
        """A copy of the model folder without the files ``remove`` and with files ``write``."""
        dst = self.tmp / "model"
        shutil.copytree(self.res.model_copy, dst)
        for name in remove:
            (dst / name).unlink()
        for name, data in (write or {}).items():
            (dst / name).write_bytes(data)
        return dst

    def set_file(self, **changes: Any) -> Path:
        """The shared neuron set with provenance/units changed (``units`` replaces the list)."""
        data = self.res.set_json()
        units = changes.pop("units", None)
        if units is not None:
            data["units"] = units
        data["provenance"].update(changes)
        path = self.tmp / "set.json"
        path.write_text(json.dumps(data))
        return path

    def intervene(self, neuron_set: Path, *extra: Any) -> None:
        cli("intervene", "--store", self.res.store, "--set", neuron_set, "--expertise", self.res.expertise,
            "--tasks", "en2x_t2t", "--max-new-tokens", "4", "--batch-size", "8", "--out", self.out,
            "--no-progress", *extra)

    def rank(self, store: Path, *extra: Any) -> None:
        cli("rank", store, "--analysis", "target_language", "--modality", "text", "--view", "step=2/mean",
            "--out", self.out / "exp.parquet", "--no-progress", "--threads", "1", *extra)

    def config(self, text: str) -> Path:
        path = self.tmp / "run.toml"
        path.write_text(text)
        return path


@dataclass(frozen=True)
class Case:
    id: str
    stage: str
    what: str
    run: Callable[[Ctx], Any]
    error: type[BaseException] | None
    #: regular expression the message must match (it names the file, line, field or setting)
    match: str
    #: paths that must not exist afterwards (default: the row's output folder)
    absent: Callable[[Ctx], list[Path]] = field(default=lambda ctx: [ctx.out])


def _rec(**kw: Any) -> str:
    return json.dumps(kw, ensure_ascii=False)


def _wav_bytes(wav: np.ndarray, rate: int, subtype: str = "PCM_16") -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, wav, rate, format="WAV", subtype=subtype)
    return buf.getvalue()


def _audio(ctx: Ctx, data: bytes) -> Path:
    """The good corpus with g1's English speech file (manifest line 2) replaced by ``data``."""
    c = ctx.corpus()
    (c / "audio" / "g1-eng.wav").write_bytes(data)
    return c


def _resampled(ctx: Ctx) -> str:
    from babelscope.corpus import read_manifest
    from babelscope.corpus.audio import read_audio

    c = _audio(ctx, _wav_bytes(tone(0.5, 22050), 22050))
    corpus = read_manifest(c)  # accepted
    wav = read_audio(corpus.records[1].audio, 16000)
    assert wav.dtype == np.float32 and wav.ndim == 1 and abs(wav.size - 8000) <= 1, wav.size
    return "accepted: read at 22050 Hz and resampled to 16000 Hz on load (0.5 s -> 8000 samples)"


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under a folder: a file's bytes, or None for a folder (to check that a refused
    command left it unchanged, new empty folders included)."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@contextlib.contextmanager
def unchanged(folder: Path):
    before = snapshot(folder)
    try:
        yield
    finally:
        assert snapshot(folder) == before, f"{folder} was changed"


def _other_model_store(ctx: Ctx) -> None:
    ctx.record(ctx.res.corpus, tasks="t2t")
    with unchanged(ctx.out):
        cli("record", "--model", ctx.res.model_copy, "--corpus", ctx.res.corpus, "--out", ctx.out, "--tasks", "t2t",
            "--steps", "2", "--max-new-tokens", "4", "--batch-size", "8", "--no-progress")


def _other_sites_store(ctx: Ctx) -> None:
    ctx.record(ctx.res.corpus, tasks="t2t")
    with unchanged(ctx.out):
        ctx.record(ctx.res.corpus, "--sites", "text_decoder.layers.0.*", tasks="t2t")


def _not_a_store(ctx: Ctx) -> None:
    ctx.out.mkdir()
    (ctx.out / "notes.txt").write_text("mine")
    with unchanged(ctx.out):
        ctx.record(ctx.res.corpus)


def _offline_hub_id(ctx: Ctx, model: str = "facebook/no-such-model") -> None:
    with env(HF_HUB_OFFLINE="1"):
        ctx.record(ctx.res.corpus, "--model", model)


def _incomplete_store(ctx: Ctx) -> None:
    from babelscope.record.store import MANIFEST

    st = ctx.tmp / "store"
    shutil.copytree(ctx.res.store, st)
    (st / MANIFEST).unlink()
    with unchanged(st):
        ctx.rank(st)


def _run_config(ctx: Ctx, record_sites: str) -> None:
    from babelscope.config import load_config
    from babelscope.pipeline import Run

    def toml(sites: str) -> str:
        return (f'name = "bad"\n[model]\nname = "{MODEL}"\n[corpus]\nsource = "{ctx.res.corpus}"\n'
                f'[record]\ntasks = ["t2t"]\nsteps = [2]\nmax_new_tokens = 4\nsites = [{sites}]\n'
                '[rank]\nanalyses = ["source_language"]\n[report]\nenabled = false\n')

    run = ctx.tmp / "run"
    ctx.record(ctx.res.corpus, "--sites", record_sites, tasks="t2t", out=run / "activations")
    with unchanged(run / "activations"):
        Run(load_config(ctx.config(toml('"text_decoder"'))), run, progress=False, log=lambda s: None).execute(
            stages=("corpus", "record"))


CASES: list[Case] = [
    # -- corpus manifest ------------------------------------------------------------------------------
    Case("broken-json", "corpus", "a manifest line that is not valid JSON (truncated object)",
         lambda c: c.record(c.corpus(lines=[_rec(**good_records()[0]), '{"id": "x", "group": "g1", "lang"'])),
         ManifestError, r"manifest\.jsonl, line 2: not valid JSON"),
    Case("not-an-object", "corpus", "a manifest line holding a JSON array",
         lambda c: c.record(c.corpus(lines=[_rec(**good_records()[0]), '["g1", "eng", "text"]'])),
         ManifestError, r"manifest\.jsonl, line 2: expected a JSON object, got list"),
    Case("invalid-utf8", "corpus", "a manifest line with bytes that are not UTF-8 (Latin-1 text)",
         lambda c: c.record(c.corpus(lines=[_rec(**good_records()[0]),
                                            '{"id": "x", "group": "g1", "lang": "deu", "modality": "text", '
                                            '"text": "Gr\xfc\xdfe"}'.encode("latin-1")])),
         ManifestError, r"manifest\.jsonl, line 2: not valid UTF-8 \(byte 0xfc"),
    Case("missing-field", "corpus", "a record without `lang`",
         lambda c: c.record(c.edit(3, lang=...)), ManifestError, r"manifest\.jsonl, line 3, field 'lang': missing"),
    Case("missing-text", "corpus", "a record without `text`",
         lambda c: c.record(c.edit(1, text=...)), ManifestError, r"line 1, field 'text': missing"),
    Case("unknown-field", "corpus", "a record with a misspelt field (`speakr`)",
         lambda c: c.record(c.edit(4, speakr="A")), ManifestError, r"line 4, field 'speakr': unknown field"),
    Case("wrong-type", "corpus", "an `id` that is a number, not a string",
         lambda c: c.record(c.edit(5, id=17)), ManifestError, r"line 5, field 'id': must be a string, got int"),
    Case("unknown-language", "corpus", "an unknown language code (`german` instead of `deu`)",
         lambda c: c.record(c.edit(3, lang="german")), ManifestError,
         r"line 3, field 'lang': unknown language code 'german'"),
    Case("bad-modality", "corpus", "a modality other than speech/text",
         lambda c: c.record(c.edit(1, modality="video")), ManifestError, r"line 1, field 'modality': must be"),
    Case("duplicate-id", "corpus", "two records with the same id",
         lambda c: c.record(c.edit(3, id="g1-eng-text")), ManifestError,
         r"line 3, field 'id': duplicate id 'g1-eng-text' \(first on line 1\)"),
    Case("duplicate-entry", "corpus", "two records for the same group, language and modality",
         lambda c: c.record(c.edit(3, lang="eng", text="Another English sentence.")), ManifestError,
         r"line 3, field 'group': group 'g1' already has a eng text record \(line 1\)"),
    Case("control-character", "corpus", "text with a control character (BEL, U+0007)",
         lambda c: c.record(c.edit(3, text="Die Katze\x07 schläft.")), ManifestError,
         r"line 3, field 'text': contains control character '\\x07'"),
    Case("empty-text", "corpus", "a record whose text is blank",
         lambda c: c.record(c.edit(3, text="   ")), ManifestError, r"line 3, field 'text': is empty"),
    Case("speech-without-audio", "corpus", "a speech record without `audio`",
         lambda c: c.record(c.edit(2, audio=...)), ManifestError,
         r"line 2, field 'audio': a speech record needs the path of its audio file"),
    Case("text-with-audio", "corpus", "a text record naming an audio file",
         lambda c: c.record(c.edit(1, audio="audio/g1-eng.wav")), ManifestError,
         r"line 1, field 'audio': a text record must not name an audio file"),
    Case("missing-audio", "corpus", "a speech record whose audio file does not exist",
         lambda c: c.record(c.edit(2, audio="audio/nope.wav")), ManifestError,
         r"line 2, field 'audio': file not found: .*nope\.wav"),
    Case("empty-manifest", "corpus", "a manifest with no records (blank lines only)",
         lambda c: c.record(c.corpus(lines=["", "  "])), ManifestError, r"manifest\.jsonl: the manifest holds no records"),
    Case("no-manifest", "corpus", "a corpus folder without manifest.jsonl",
         lambda c: c.record(c.tmp), ManifestError, r"manifest\.jsonl: no manifest here"),
    # -- audio ----------------------------------------------------------------------------------------
    Case("audio-zero-bytes", "audio", "an audio file of 0 bytes",
         lambda c: c.record(_audio(c, b"")), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: audio file is empty \(0 bytes\)"),
    Case("audio-no-samples", "audio", "a valid WAV header with no samples",
         lambda c: c.record(_audio(c, _wav_bytes(np.zeros(0, np.float32), 16000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: audio file is empty \(no samples\)"),
    Case("audio-corrupt", "audio", "an audio file holding random bytes",
         lambda c: c.record(_audio(c, np.random.default_rng(0).bytes(4000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: cannot read audio"),
    Case("audio-truncated-header", "audio", "a WAV file cut inside its header (first 30 bytes)",
         lambda c: c.record(_audio(c, _wav_bytes(tone(), 16000)[:30])), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: cannot read audio"),
    Case("audio-silent", "audio", "a silent recording (all samples zero)",
         lambda c: c.record(_audio(c, _wav_bytes(np.zeros(16000, np.float32), 16000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: silent audio \(peak amplitude"),
    Case("audio-stereo", "audio", "a stereo file",
         lambda c: c.record(_audio(c, _wav_bytes(tone(channels=2), 16000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: stereo audio; speech must be mono"),
    Case("audio-nan", "audio", "a float WAV holding NaN samples",
         lambda c: c.record(_audio(c, _wav_bytes(np.where(np.arange(8000) % 7 == 0, np.nan, tone(0.5)).astype(
             np.float32), 16000, "FLOAT"))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: audio holds NaN or infinite samples"),
    Case("audio-too-long", "audio", "a file longer than the 120 s limit (121 s, judged from the header; 600 s "
         "asked SeamlessM4T v2 large for 57.6 GB)",
         lambda c: c.record(_audio(c, _wav_bytes(tone(121, rate=1000), 1000))), AudioError,
         r"line 2, field 'audio': .*g1-eng\.wav: 121\.0 s of audio, longer than the limit of 120 s"),
    Case("audio-22khz", "audio", "audio at 22.05 kHz instead of 16 kHz (not an error)",
         _resampled, None, r"resampled"),
    # -- tasks ----------------------------------------------------------------------------------------
    Case("group-missing-language", "tasks", "a group without the German speech record (`corpus validate --strict`)",
         lambda c: cli("corpus", "validate", c.corpus([r for r in good_records() if r["id"] != "g2-deu-speech"]),
                       "--strict", "--no-progress"),
         ManifestError, r"line 7: group 'g2' has no deu speech"),
    Case("no-pivot", "tasks", "English-to-X tasks on a corpus without the pivot language (no `eng` records)",
         lambda c: c.record(c.corpus([r for r in good_records() if r["lang"] != "eng"]), tasks="en2x_t2t"),
         ConfigError, r"pivot language 'eng': the corpus has no record in it \(it has .*\), but tasks en2x_t2t "
                      r"translate into or out of the pivot"),
    Case("no-pivot-x2en", "tasks", "X-to-English tasks on a corpus without English (every reference would be empty)",
         lambda c: c.record(c.corpus([r for r in good_records() if r["lang"] != "eng"]), tasks="t2t"),
         ConfigError, r"pivot language 'eng': the corpus has no record in it .* tasks t2t translate .* Choose a pivot "
                      r"the corpus has"),
    Case("report-of-a-store", "tasks", "`babelscope report` pointed at an activation store instead of a run folder",
         lambda c: (c.record(c.res.corpus), cli("report", c.out)), ConfigError,
         r"not a run folder: it has none of run.json, analysis, expertise, interventions — it is an activation store",
         absent=lambda c: [c.out / "report"]),
    Case("unknown-task", "tasks", "an unknown task name",
         lambda c: c.record(c.res.corpus, tasks="t2t,x2z"), ConfigError, r"tasks: unknown task 'x2z'"),
    Case("language-not-in-corpus", "tasks", "`--langs` naming a language the corpus lacks",
         lambda c: c.record(c.res.corpus, "--langs", "fra"), ConfigError, r"langs: \['fra'\] not in the corpus"),
    Case("language-not-in-model", "tasks", "a corpus language the model does not know (Italian, `ita`)",
         lambda c: c.record(c.corpus([{**r, "lang": "ita" if r["lang"] == "spa" else r["lang"]}
                                      for r in good_records()])),
         ConfigError, r"language 'ita' is not supported by tiny-random-seamless"),
    # -- record ---------------------------------------------------------------------------------------
    Case("step-beyond-max-length", "record", "a recorded step beyond the generation length (step 40, 8 new tokens)",
         lambda c: c.record(c.res.corpus, "--steps", "2,40", "--max-new-tokens", "8"), ConfigError,
         r"steps: step 40 is beyond the longest decoded prefix \(9 = 2 start tokens \+ max_new_tokens 8 - 1\)"),
    Case("unknown-site", "record", "a site pattern that matches no module",
         lambda c: c.record(c.res.corpus, "--sites", "text_decoder.layerz.*"), SiteError, r"text_decoder\.layerz"),
    Case("store-other-model", "record", "resuming into a store recorded with another model",
         _other_model_store, StoreError,
         r"out: holds a recording with other settings \(model\.builtin, model\.id", absent=lambda c: []),
    Case("store-other-sites", "record", "resuming into a store recorded with other sites",
         _other_sites_store, StoreError, r"out: holds a recording with other settings \(.*sites",
         absent=lambda c: []),
    Case("config-store-other-sites", "record",
         "`babelscope run` on a run folder whose store holds other sites than the config asks",
         lambda c: _run_config(c, "text_decoder.layers.0.*"), StoreError,
         r"activations: holds a recording with other settings \(.*sites"),
    Case("out-not-a-store", "record", "`--out` naming a folder that holds other files",
         _not_a_store, ConfigError, r"out: holds files that are not an activation store", absent=lambda c: []),
    # -- rank -----------------------------------------------------------------------------------------
    Case("store-incomplete", "rank", "ranking a store whose recording was interrupted",
         _incomplete_store, StoreError, r"store: the store is incomplete \(recording was interrupted\)"),
    Case("not-a-store", "rank", "ranking a folder that is not a store",
         lambda c: c.rank(c.tmp), StoreError, r": not an activation store \(no manifest\.json\)"),
    Case("view-not-recorded", "rank", "a view the store does not hold (step 9)",
         lambda c: c.rank(c.res.store, "--view", "step=9/mean"), ConfigError, r"no site has view 'step=9/mean'"),
    Case("rank-unknown-site", "rank", "a site pattern matching no site of the store",
         lambda c: c.rank(c.res.store, "--sites", "speech_encoder.*"), SiteError,
         r"site pattern 'speech_encoder\.\*' matches no site of the store"),
    Case("analysis-without-samples", "rank", "an analysis whose task the store lacks (speech, en2x_s2t)",
         lambda c: c.rank(c.res.store, "--modality", "speech"), LabelError,
         r"analysis 'target_language' .*selects no sample"),
    # -- select ---------------------------------------------------------------------------------------
    Case("k-too-large", "select", "k larger than the component",
         lambda c: cli("select", c.res.expertise, "--label", "deu", "--k", "100000", "--out", c.out / "s.json"),
         ConfigError, r"k=100000 is larger than component 'text_decoder', which has \d+ units"),
    Case("label-not-in-table", "select", "a label the expertise table does not hold",
         lambda c: cli("select", c.res.expertise, "--label", "fra", "--k", "5", "--out", c.out / "s.json"),
         ConfigError, r"label='fra' is not in the expertise table \(labels: \['deu', 'spa'\]\)"),
    Case("expertise-truncated", "select", "an expertise file cut in half (a Parquet file without its footer)",
         lambda c: (c.tmp.joinpath("exp.parquet").write_bytes(c.res.expertise.read_bytes()[:2000]),
                    cli("select", c.tmp / "exp.parquet", "--label", "deu", "--k", "5", "--out", c.out / "s.json")),
         StoreError, r"exp\.parquet: not a readable Parquet file"),
    # -- intervene ------------------------------------------------------------------------------------
    Case("set-unknown-site", "intervene", "a neuron set naming a site the model lacks",
         lambda c: c.intervene(c.set_file(units=[{**c.res.set_json()["units"][0], "site": "text_decoder.layers.9.ffn.fc1"}],
                                          k=1)),
         SiteError, r"neuron set 'deu': site 'text_decoder\.layers\.9\.ffn\.fc1' does not exist in tiny-random-seamless"),
    Case("set-unit-out-of-range", "intervene", "a neuron set naming unit 99999 of a site",
         lambda c: c.intervene(c.set_file(units=[{**c.res.set_json()["units"][0], "unit": 99999}], k=1)),
         SiteError, r"neuron set 'deu': unit 99999 is out of range for site"),
    Case("set-empty", "intervene", "an empty neuron set (k = 0, no units)",
         lambda c: c.intervene(c.set_file(units=[], k=0)), ConfigError,
         r"forcing: neuron set 'deu' \(top, k=0\) is empty"),
    Case("set-k-mismatch", "intervene", "a neuron set whose `k` disagrees with its units",
         lambda c: c.intervene(c.set_file(k=7)), ConfigError, r"set\.json: provenance says k=7 but the file lists 6 units"),
    Case("set-not-json", "intervene", "a neuron set file that is not JSON",
         lambda c: (c.tmp.joinpath("set.json").write_text("{units: [}"), c.intervene(c.tmp / "set.json")),
         ConfigError, r"set\.json: not valid JSON"),
    Case("set-other-model", "intervene", "a neuron set selected on another model",
         lambda c: c.intervene(c.set_file(model="facebook/seamless-m4t-v2-large")), ConfigError,
         r"neuron set 'deu' was selected on model 'facebook/seamless-m4t-v2-large', but the model is "
         r"'tiny-random-seamless'"),
    Case("steps-reversed", "intervene", "a forcing step range [6, 2)",
         lambda c: c.intervene(c.res.neuron_set, "--steps", "6:2"), ConfigError,
         r"forcing steps: need 1 <= a < b for the range \[a, b\), got \[6, 2\)"),
    Case("steer-to-unknown-language", "intervene", "steering to a language the model lacks",
         lambda c: c.intervene(c.res.neuron_set, "--steer-to", "ita"), ConfigError,
         r"language 'ita' is not supported by tiny-random-seamless"),
    # -- run configuration ----------------------------------------------------------------------------
    Case("config-unknown-key", "config", "a config with an unknown (misspelt) key",
         lambda c: cli("run", c.config("[record]\nstepz = [2]\n"), "--out", c.out), ConfigError,
         r"run\.toml: record\.stepz: unknown key"),
    Case("config-wrong-type", "config", "a config value of the wrong type",
         lambda c: cli("run", c.config('[record]\nbatch_size = "many"\n'), "--out", c.out), ConfigError,
         r"run\.toml: record\.batch_size: Input should be a valid integer"),
    Case("config-not-toml", "config", "a config that is not valid TOML",
         lambda c: cli("run", c.config("[model\nname = 1\n"), "--out", c.out), ConfigError, r"run\.toml: not valid TOML"),
    Case("config-step-not-recorded", "config", "an intervention selecting at a step that is not recorded",
         lambda c: cli("run", c.config('[record]\nsteps = [2]\n[[intervene.runs]]\nname = "a"\nlabel = "deu"\n'
                                       'select_step = 7\n'), "--out", c.out), ConfigError,
         r"select_step 7 is not a recorded step \[2\]"),
    # -- models ---------------------------------------------------------------------------------------
    Case("hub-offline", "model", "a hub id that is not cached, with HF_HUB_OFFLINE=1",
         _offline_hub_id,
         ModelLoadError, r"cannot load model 'facebook/no-such-model': .*the hub was not asked \(HF_HUB_OFFLINE is set\)"),
    Case("model-name-typo", "model", "a misspelt built-in name (`babel-mni`), offline",
         lambda c: _offline_hub_id(c, "babel-mni"), ModelLoadError,
         r"cannot load model 'babel-mni': .*the hub was not asked .*; did you mean 'babel-mini'\?"),
    Case("tokenizer-missing", "model", "a SeamlessM4T folder without its tokenizer files (the silent near-empty "
         "tokenizer)", lambda c: c.record(c.res.corpus, "--model", c.model("sentencepiece.bpe.model",
                                                                            "tokenizer_config.json")),
         ModelLoadError, r"the tokenizer loaded from '.*model' has only \d+ tokens but the model's vocabulary has"),
    Case("no-config", "model", "a model folder without config.json",
         lambda c: c.record(c.res.corpus, "--model", c.model("config.json")), ModelLoadError,
         r"model: not a model folder \(no config\.json\)"),
    Case("unsupported-model-type", "model", "a model folder of an unsupported architecture",
         lambda c: c.record(c.res.corpus, "--model", c.model(write={"config.json": b'{"model_type": "bert"}'})),
         ModelLoadError, r"has model_type 'bert'; babelscope supports seamless_m4t_v2, speech-encoder-decoder, whisper"),
    Case("weights-truncated", "model", "a truncated model.safetensors",
         lambda c: c.record(c.res.corpus, "--model", c.model(write={"model.safetensors": (
             c.res.model_copy / "model.safetensors").read_bytes()[:100000]})),
         ModelLoadError, r"a \.safetensors file is corrupt or truncated"),
    Case("weights-missing", "model", "a model folder without weights",
         lambda c: c.record(c.res.corpus, "--model", c.model("model.safetensors")), ModelLoadError,
         r"cannot load SeamlessM4T v2 weights from '.*model'"),
    Case("pickle-checkpoint", "model", "a pytorch_model.bin whose pickle would run code (no safetensors)",
         lambda c: c.record(c.res.corpus, "--model", c.model("model.safetensors", write={
             "pytorch_model.bin": evil_checkpoint(c.tmp / "pwned")})),
         ModelLoadError, r"refused to load the pickle checkpoint of '.*model'",
         absent=lambda c: [c.out, c.tmp / "pwned"]),  # the payload never ran
]


class _Evil:
    """Unpickling this calls ``open(path, "w")``: what a malicious checkpoint does (harmlessly)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def evil_checkpoint(marker: Path) -> bytes:
    """A torch checkpoint (zip + pickle) holding real-looking tensors and one object whose unpickling
    creates ``marker``."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save({"text_decoder.embed_tokens.weight": torch.zeros(2, 2), "payload": _Evil(str(marker))}, buf)
    return buf.getvalue()


# -- running a row and rendering the catalogue -----------------------------------------------------

from .catalogue_data import DATA_CASES  # noqa: E402 - rows that need Case and Ctx above

CASES += DATA_CASES


def run_case(case: Case, ctx: Ctx) -> str:
    """Run one row; return its message (the error's, or what happened for an accepted input).
    Raises AssertionError when the row does not behave as catalogued."""
    ctx.tmp.mkdir(parents=True, exist_ok=True)
    if case.error is None:
        msg = str(case.run(ctx))
    else:
        try:
            case.run(ctx)
        except case.error as exc:
            msg = str(exc)
        else:
            raise AssertionError(f"{case.id}: no {case.error.__name__} raised")
    assert re.search(case.match, msg, re.S), f"{case.id}: message does not match {case.match!r}:\n{msg}"
    for p in case.absent(ctx):
        # nothing may be written there (an empty folder made for the output is not an artifact)
        written = [f for f in p.rglob("*") if f.is_file()] if p.is_dir() else [p] if p.exists() else []
        assert not written, f"{case.id}: {written[:3]} written"
    return msg


def normalize(msg: str, ctx: Ctx) -> str:
    """The message with scratch folders replaced by placeholders (stable across runs)."""
    from babelscope.models.builtin import builtin_path

    for path, name in ((ctx.tmp, "<tmp>"), (ctx.res.base, "<shared>"), (builtin_path(MODEL).parent, "<cache>")):
        for form in {str(path), str(Path(path).resolve())}:
            msg = msg.replace(form, name)
    return msg


def render(messages: dict[str, str]) -> str:
    def cell(text: str) -> str:
        return html.escape(text, quote=False).replace("|", "&#124;").replace("\n", "<br>")

    head = ["# Bad inputs and the errors they get", "",
            "Every row is a test in `tests/reliability/test_bad_inputs.py` (the table is "
            "`tests/reliability/catalogue.py`); this page is generated from the same table by "
            "`python tests/reliability/make_catalogue_doc.py`, and a test fails when it is out of date.",
            "",
            "Each input fails before anything is written: the test also checks that no output (store, "
            "expertise table, neuron set, results folder, run folder) appears, and that an existing "
            "store it would have resumed into is left unchanged (a disk that fills up mid-recording "
            "leaves an incomplete store, which the same command resumes). On the command line each "
            "error is one message, `error: <message>` (one line; for a run config, one line per "
            "problem found), and exit status 2. `<tmp>` stands for the row's scratch folder, "
            "`<shared>` for the folder of the shared corpus, store and expertise table.", "",
            f"{len(CASES)} inputs.", "",
            "| # | stage | input | error | message |", "|---|---|---|---|---|"]
    rows = []
    for i, case in enumerate(CASES, 1):
        err = case.error.__name__ if case.error else "(none)"
        rows.append(f"| {i} | {case.stage} | {cell(case.what)} (`{case.id}`) | {err} | {cell(messages[case.id])} |")
    return "\n".join(head + rows) + "\n"
