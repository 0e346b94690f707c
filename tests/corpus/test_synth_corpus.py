"""``corpus synth``: text -> text + espeak-ng speech, deterministic variation, atomic output."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import soundfile as sf

from babelscope.corpus import read_manifest
from babelscope.corpus import synth as synth_mod
from babelscope.corpus.synth_corpus import VARIANTS, plan_utterances, read_group_jsonl, synthesize_corpus
from babelscope.corpus.validate import validate_corpus
from babelscope.errors import AudioError, ConfigError, ManifestError

from ._audio import tone, write_manifest_lines

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

GROUPS = [
    {"group": "g1", "eng": "The cat sleeps on the warm chair.", "deu": "Die Katze schläft auf dem warmen Stuhl.",
     "split": "train"},
    {"group": "g2", "eng": "- a line that starts with a dash", "deu": "Der Zug fährt um sieben Uhr ab.",
     "split": "test"},
]


def _jsonl(path, rows=GROUPS):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@needs_espeak
def test_synth_two_groups(tmp_path):
    src = _jsonl(tmp_path / "groups.jsonl")
    out = tmp_path / "corpus"
    corpus = synthesize_corpus(src, out, voices=3, rate_jitter=10, workers=2, progress=False)
    again = read_manifest(out)  # the reader accepts what was written
    assert len(again.records) == len(corpus.records) == 8
    keys = again.by_key()
    for g in GROUPS:
        for lang in ("eng", "deu"):
            text, speech = keys[(g["group"], lang, "text")], keys[(g["group"], lang, "speech")]
            assert text.text == speech.text == g[lang]
            assert text.split == speech.split == g["split"]
            info = sf.info(str(speech.audio))
            assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
            wav, _ = sf.read(str(speech.audio), dtype="float32")
            assert wav.size / 16000 > 0.5 and np.abs(wav).max() > 0.01
    rows = [json.loads(l) for l in (out / "manifest.jsonl").read_text("utf-8").splitlines()]
    assert all(r["speaker"].startswith("espeak-") and r["duration"] > 0 for r in rows if r["modality"] == "speech")
    assert json.loads((out / "synth.json").read_text())["voices"] == 3
    rep = validate_corpus(out)
    assert rep.errors == [] and rep.warnings == [] and rep.notes == []
    # nothing left beside the corpus
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus", "groups.jsonl"]


@needs_espeak
def test_synth_text_corpus_folder_keeps_ids(tmp_path):
    src = tmp_path / "text"
    write_manifest_lines(src, [{"id": "hello-en", "group": "h", "lang": "eng", "modality": "text",
                                "text": "Hello there.", "split": "test"}])
    corpus = synthesize_corpus(src, tmp_path / "out", progress=False)
    assert [(r.id, r.modality) for r in corpus.records] == [("hello-en", "text"), ("hello-en-speech", "speech")]
    assert corpus.records[1].split == "test"


def test_plan_is_deterministic_and_varied(tmp_path):
    texts = read_group_jsonl(_jsonl(tmp_path / "g.jsonl", [{"group": f"g{i}", "eng": f"Sentence {i}."}
                                                            for i in range(60)]))
    a = plan_utterances(texts, voices=4, rate_jitter=20, seed=1)
    b = plan_utterances(texts, voices=4, rate_jitter=20, seed=1)
    c = plan_utterances(texts, voices=4, rate_jitter=20, seed=2)
    assert [(u.variant, u.speed) for u in a] == [(u.variant, u.speed) for u in b]
    assert [(u.variant, u.speed) for u in a] != [(u.variant, u.speed) for u in c]
    assert {u.variant for u in a} == set(VARIANTS[:4])
    speeds = [u.speed for u in a]
    assert 128 <= min(speeds) < max(speeds) <= 192
    plain = plan_utterances(texts)
    assert {(u.variant, u.speed) for u in plain} == {(None, 160)}
    with pytest.raises(ConfigError, match="voices"):
        plan_utterances(texts, voices=len(VARIANTS) + 1)


def test_failure_names_sentence_and_leaves_nothing(tmp_path, monkeypatch):
    def fake(text, lang, **kw):
        if lang == "deu" and "Zug" in text:
            raise RuntimeError("boom")
        return tone(0.4), None

    monkeypatch.setattr(synth_mod, "synthesize_checked", fake)
    monkeypatch.setattr(synth_mod, "espeak_binary", lambda: "espeak-ng")
    src = _jsonl(tmp_path / "groups.jsonl")
    out = tmp_path / "corpus"
    with pytest.raises(AudioError) as ei:
        synthesize_corpus(src, out, workers=2, progress=False)
    msg = str(ei.value)
    assert "group 'g2'" in msg and "language deu" in msg and "line 2" in msg and "boom" in msg
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["groups.jsonl"]  # no temporary folder left


def test_input_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(synth_mod, "espeak_binary", lambda: "espeak-ng")
    bad = _jsonl(tmp_path / "bad.jsonl", [GROUPS[0], {"group": "g2", "english": "Hi."}])
    with pytest.raises(ManifestError, match=r"line 2, field 'english'"):
        synthesize_corpus(bad, tmp_path / "o1", progress=False)
    novoice = _jsonl(tmp_path / "novoice.jsonl", [{"group": "g", "zul": "Sawubona."}])
    with pytest.raises(ConfigError, match="no espeak-ng voice for language.*zul"):
        synthesize_corpus(novoice, tmp_path / "o2", progress=False)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "x").write_text("x")
    with pytest.raises(ConfigError, match="not empty"):
        synthesize_corpus(_jsonl(tmp_path / "ok.jsonl"), busy, progress=False)
    assert (busy / "x").exists()
