"""Shared fixtures: a small parallel corpus (text from the project's seed sentences, speech as
synthetic tone sequences — distinct per language and sentence, with ragged lengths) and the
built-in tiny models, built once per session into a temporary cache."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

# The fixture corpora hold two to four sentences per language, fewer than a ranking's default minimum of
# positives per label (babelscope.defaults): the machinery tests rank them anyway. Set before babelscope is
# imported, and inherited by the CLI subprocesses; tests/rank/test_evidence.py tests the guard itself with
# explicit minimums and the shipped defaults.
os.environ["BABELSCOPE_MIN_POSITIVES"] = "1"
os.environ["BABELSCOPE_MIN_NEGATIVES"] = "1"

LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")


def synth_tone(seed: int, seconds: float, rate: int = 16000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    freqs = rng.uniform(150, 900, size=3)
    wav = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) / 3
    env = np.clip(np.sin(np.pi * t / max(seconds, 1e-3)), 0, 1)
    return (0.3 * wav * env + 0.01 * rng.standard_normal(n)).astype(np.float32)


def make_corpus(folder: Path, n_groups: int = 4, langs=LANGS, rate: int = 16000) -> Path:
    from babelscope.models.builtin import DEMO_LANGS
    from importlib import resources

    rows = [json.loads(l) for l in resources.files("babelscope.corpus").joinpath(
        "data/seed_sentences.jsonl").read_text("utf-8").splitlines() if l.strip()]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "audio").mkdir(exist_ok=True)
    lines = []
    for gi, row in enumerate(rows[:n_groups]):
        for li, lang in enumerate(langs):
            gid = row["group"]
            lines.append({"id": f"{gid}-{lang}-text", "group": gid, "lang": lang, "modality": "text",
                          "text": row[lang]})
            wav = synth_tone(gi * 100 + li, 0.6 + 0.37 * ((gi * 7 + li * 3) % 5), rate)
            rel = f"audio/{gid}-{lang}.wav"
            sf.write(folder / rel, wav, rate)
            lines.append({"id": f"{gid}-{lang}-speech", "group": gid, "lang": lang, "modality": "speech",
                          "text": row[lang], "audio": rel})
    with (folder / "manifest.jsonl").open("w", encoding="utf-8") as fh:
        for l in lines:
            fh.write(json.dumps(l, ensure_ascii=False) + "\n")
    return folder


@pytest.fixture(scope="session", autouse=True)
def _babelscope_cache(tmp_path_factory):
    if "BABELSCOPE_CACHE" not in os.environ:
        os.environ["BABELSCOPE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory) -> Path:
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def seamless():
    from babelscope.models import load_model

    return load_model("tiny-random-seamless")


@pytest.fixture(scope="session")
def whisper():
    from babelscope.models import load_model

    return load_model("tiny-random-whisper")


def _ours(hooks) -> list:
    # transformers installs capturing hooks of its own, for good, the first time a model is asked for
    # hidden states (its official SeamlessM4T generate does): not ours to remove, so not counted
    return [h for h in hooks.values() if "output_capturing_hook" not in getattr(h, "__qualname__", "")]


def no_hooks(model) -> bool:
    """True when none of babelscope's hooks is left on ``model``."""
    return all(not _ours(m._forward_hooks) and not _ours(m._forward_pre_hooks) for m in model.modules())
