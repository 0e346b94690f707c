"""Held-out evaluation of a trained model and its model card (babel-mini).

Scores per task, input modality and target language: the share of outputs identified as the target
language (py3langid restricted to the demo languages, so that e.g. Venetian or Cantonese guesses on
short sentences do not count against the model; the unrestricted share is reported too) and chrF++
against the reference.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import pandas as pd

from babelscope.models.builtin import DEMO_LANGS

TASKS = ("asr", "s2t", "t2t", "en2x_s2t", "en2x_t2t")


def evaluate_model(model: str, corpus_dir: str | Path, *, split: str | None = "test",
                   tasks: Sequence[str] = TASKS, max_groups: int | None = None, batch_size: int = 32,
                   max_new_tokens: int = 40, progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Generate for every held-out sample; returns (per-sample table, per task/modality/target table)."""
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.evaluate import chrf, identify_languages
    from babelscope.models import load_model
    from babelscope.models.generation import generate_texts

    adapter = load_model(model)
    corpus = read_manifest(corpus_dir)
    samples = build_task_samples(corpus, list(tasks), split=split, max_groups=max_groups)
    outs = generate_texts(adapter, samples, batch_size=batch_size, max_new_tokens=max_new_tokens,
                          progress=progress, label="evaluate")
    df = pd.DataFrame([s.to_row() for s in samples])
    df["output"] = [o["text"] for o in outs]
    restricted = identify_languages(df["output"].tolist(), df["tgt_lang"].tolist(), langs=list(DEMO_LANGS))
    free = identify_languages(df["output"].tolist(), df["tgt_lang"].tolist())
    df["lid_lang"] = restricted["lid_lang"].to_numpy()
    df["correct_lang"] = restricted["is_expected"].to_numpy()
    df["correct_lang_unrestricted"] = free["is_expected"].to_numpy()
    rows = []
    for (task, modality, tgt), g in df.groupby(["task", "modality", "tgt_lang"], sort=True):
        rows.append({"task": task, "modality": modality, "tgt_lang": tgt, "n": len(g),
                     "lang_accuracy": float(g["correct_lang"].mean()),
                     "lang_accuracy_unrestricted": float(g["correct_lang_unrestricted"].mean()),
                     "chrf": chrf(g["output"].tolist(), g["reference"].tolist())})
    return df, pd.DataFrame(rows)


def outside_sentences() -> list[str]:
    """The English sentences outside the demo corpus (``zoo/data/outside_sentences.txt``)."""
    from importlib import resources

    text = resources.files("babelscope.zoo").joinpath("data/outside_sentences.txt").read_text("utf-8")
    return [l.strip() for l in text.splitlines() if l.strip() and not l.startswith("#")]


def evaluate_outside(model: str, *, batch_size: int = 24, max_new_tokens: int = 40,
                     progress: bool = True) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ask for every sentence of :func:`outside_sentences` in each non-English demo language, from text
    and from espeak-ng speech; returns (per-sample table, per target × input table) with the share of
    outputs identified as the language asked for (py3langid restricted to the demo languages)."""
    import tempfile

    from babelscope.corpus import build_task_samples
    from babelscope.corpus.manifest import Corpus, CorpusRecord
    from babelscope.corpus.synth import synthesize_to
    from babelscope.evaluate import identify_languages
    from babelscope.models import load_model
    from babelscope.models.generation import generate_texts

    sentences = outside_sentences()
    others = [l for l in DEMO_LANGS if l != "eng"]
    with tempfile.TemporaryDirectory(prefix="babelscope-outside-") as tmp:
        records = []
        for i, text in enumerate(sentences):
            g = f"o{i + 1:02d}"
            wav = Path(tmp) / f"{g}.wav"
            synthesize_to(wav, text, "eng")
            records.append(CorpusRecord(id=f"{g}-eng-text", group=g, lang="eng", modality="text", text=text))
            records.append(CorpusRecord(id=f"{g}-eng-speech", group=g, lang="eng", modality="speech", text=text,
                                        audio=wav))
            # a placeholder text per target language, so that en2x samples exist (no reference is scored)
            records += [CorpusRecord(id=f"{g}-{l}-text", group=g, lang=l, modality="text", text="-") for l in others]
        samples = build_task_samples(Corpus(root=Path(tmp), records=records), ["en2x_t2t", "en2x_s2t"])
        outs = generate_texts(load_model(model), samples, batch_size=batch_size, max_new_tokens=max_new_tokens,
                              progress=progress, label="outside sentences")
    df = pd.DataFrame([{"text": s.text, "modality": s.modality, "tgt_lang": s.tgt_lang} for s in samples])
    df["output"] = [o["text"] for o in outs]
    lid = identify_languages(df["output"].tolist(), df["tgt_lang"].tolist(), langs=list(DEMO_LANGS))
    df["lid_lang"] = lid["lid_lang"].to_numpy()
    df["correct_lang"] = lid["is_expected"].to_numpy()
    table = (df.groupby(["tgt_lang", "modality"], sort=True)["correct_lang"].agg(["size", "mean"])
             .rename(columns={"size": "n", "mean": "lang_accuracy"}).reset_index())
    return df, table


def card_markdown(scores: pd.DataFrame, training: dict, *, name: str = "babel-mini",
                  outside: pd.DataFrame | None = None) -> str:
    cfg = training["config"]
    by_lang = scores.groupby(["tgt_lang", "modality"]).apply(
        lambda g: pd.Series({"lang_accuracy": (g["lang_accuracy"] * g["n"]).sum() / g["n"].sum(),
                             "chrf": (g["chrf"] * g["n"]).sum() / g["n"].sum(), "n": g["n"].sum()}),
        include_groups=False).reset_index()
    lines = [
        f"# {name}", "",
        "A small SeamlessM4T v2 model (`SeamlessM4Tv2Model`, the transformers class of the real model) trained "
        "by babelscope on its own demo corpus, so that the demo and the tests have a model that has actually "
        "learned languages. Not a translation system: its vocabulary is that of about nine hundred template sentences.", "",
        "## Data", "",
        f"The `train` split of the demo corpus (`babelscope.corpus.demo_corpus`, CC0-1.0): {training['train_records']} "
        "records, six languages (eng, deu, spa, fra, jpn, cmn), text and espeak-ng speech (16 kHz; Japanese read from "
        "its kana, Mandarin by the pinyin voice, every utterance checked for a fallback to another language: "
        "docs/corpus.md). The five tasks of "
        f"METHODS §1: {training['speech_samples']} speech and {training['text_samples']} text training samples. "
        "Held out: the `test` split (every tenth group).", "",
        "## Model and training", "",
        f"hidden {cfg['hidden']}, {cfg['heads']} heads, FFN {cfg['ffn']}; text encoder {cfg['text_encoder_layers']} "
        f"layers, speech encoder {cfg['speech_encoder_layers']} layers, decoder {cfg['decoder_layers']} layers, "
        f"adaptor stride 8; SentencePiece BPE vocabulary {cfg['vocab_size']} + language tokens; "
        f"{training['parameters_without_speech_generation'] / 1e6:.2f} M parameters without the (unused, minimal) "
        "speech-generation parts; weights stored in float16.", "",
        f"AdamW lr {cfg['lr']}, {cfg['warmup']} warm-up steps then cosine decay, label smoothing "
        f"{cfg['label_smoothing']}, dropout {cfg['dropout']}, {cfg['steps']} steps alternating speech batches of "
        f"{cfg['speech_batch']} and text batches of {cfg['text_batch']}, seed {cfg['seed']}, {cfg['threads']} threads. "
        f"Training took {training['train_minutes']} min on the 2-core development machine "
        f"(final loss {training['final_loss']:.3f}). {training.get('note', '')}", "",
        "Reproduce: `babelscope zoo train-mini --out DIR` (synthesizes the demo corpus, trains, evaluates, writes "
        "this card).", "",
        "## Held-out scores", "",
        "Output-language accuracy: share of outputs that py3langid, restricted to the six languages, identifies as "
        "the target language (unrestricted py3langid in brackets). chrF++ against the reference.", "",
        "| target | input | n | language accuracy | chrF++ |", "|---|---|---|---|---|"]
    for r in by_lang.itertuples(index=False):
        lines.append(f"| {r.tgt_lang} | {r.modality} | {int(r.n)} | {r.lang_accuracy:.3f} | {r.chrf:.1f} |")
    lines += ["", "Per task:", "", "| task | input | target | n | language accuracy (unrestricted) | chrF++ |",
              "|---|---|---|---|---|---|"]
    for r in scores.itertuples(index=False):
        lines.append(f"| {r.task} | {r.modality} | {r.tgt_lang} | {r.n} | {r.lang_accuracy:.3f} "
                     f"({r.lang_accuracy_unrestricted:.3f}) | {r.chrf:.1f} |")
    worst = by_lang["lang_accuracy"].min()
    lines += ["", f"Lowest output-language accuracy over target × input: {worst:.3f} (goal: at least 0.90).", ""]
    if outside is not None:
        n_sent = int(outside["n"].iloc[0]) if len(outside) else 0
        lines += ["## Sentences outside the demo corpus", "",
                  f"{n_sent} everyday English sentences that are not in the corpus "
                  "(`babelscope/zoo/data/outside_sentences.txt`), asked for in each other language from text and "
                  "from espeak-ng speech: the share of outputs in the language asked for (py3langid restricted to "
                  "the six). Their content is mostly unknown to the model; this measures whether it answers in "
                  "the right language, not whether it translates.", "",
                  "| target | input | n | language accuracy |", "|---|---|---|---|"]
        for r in outside.itertuples(index=False):
            lines.append(f"| {r.tgt_lang} | {r.modality} | {r.n} | {r.lang_accuracy:.3f} |")
        lines += ["", f"Lowest: {outside['lang_accuracy'].min():.3f} (goal: at least 0.90).", ""]
    return "\n".join(lines)


def write_card(model_dir: str | Path, corpus_dir: str | Path, *, progress: bool = True) -> pd.DataFrame:
    """Evaluate ``model_dir`` on the held-out split and write ``README.md`` and ``scores.json`` there."""
    model_dir = Path(model_dir)
    training = json.loads((model_dir / "training.json").read_text())
    _, scores = evaluate_model(str(model_dir), corpus_dir, progress=progress)
    _, outside = evaluate_outside(str(model_dir), progress=progress)
    (model_dir / "scores.json").write_text(json.dumps({"held_out": scores.to_dict(orient="records"),
                                                       "outside": outside.to_dict(orient="records")}, indent=1))
    (model_dir / "README.md").write_text(card_markdown(scores, training, outside=outside))
    return scores
