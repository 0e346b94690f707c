"""Score generated outputs per sample and summarise them per group (METHODS §8).

:func:`score_outputs` takes one row per generated output with columns

* ``text`` — the generated text (``None``/NaN counts as empty: no language, zero scores);
* ``expected_lang`` — the expected (or steered-to) language, any code
  :func:`~babelscope.vocab.languages.to_iso639_3` accepts; it is also the BLEU target language;
* ``task`` — e.g. ``"asr"``, ``"s2t"``, ``"t2t"``; WER and CER are computed for ``"asr"`` rows only;
* ``reference`` (optional column; ``None``/NaN entries allowed) — the reference text,

and adds ``lid_lang, lid_prob, expected_prob, is_expected`` (:mod:`.lid`), sentence ``bleu`` and
``chrf`` (:mod:`.quality`; NaN without a reference), ``m_index, i_index`` (:mod:`.codemix`) and
``wer, cer`` (NaN unless ``task == "asr"`` and a reference exists).

:func:`summarize` pools them per group: corpus-level BLEU/chrF/combined/WER/CER (not means of
sentence scores), the share of outputs identified as the expected language and mean per-sample values.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError
from babelscope.evaluate import quality
from babelscope.evaluate.codemix import i_index, m_index
from babelscope.evaluate.lid import identify_languages

REQUIRED_COLUMNS: tuple[str, ...] = ("text", "expected_lang", "task")
SCORE_COLUMNS: tuple[str, ...] = ("lid_lang", "lid_prob", "expected_prob", "is_expected", "chrf",
                                  "bleu", "m_index", "i_index", "wer", "cer")
ASR_TASK = "asr"


def _strings(values: pd.Series) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in values]


def _check_columns(df: pd.DataFrame, needed: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"df: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ConfigError(f"df: missing column(s) {missing} needed {what} "
                          f"(has {list(df.columns)})")


def score_outputs(df: pd.DataFrame, *, fasttext_model: str | os.PathLike[str] | None = None,
                  langs: Sequence[str] | None = None) -> pd.DataFrame:
    """A copy of ``df`` with the per-sample metric columns :data:`SCORE_COLUMNS` added.

    ``fasttext_model`` and ``langs`` are passed to :func:`identify_languages`.
    """
    _check_columns(df, REQUIRED_COLUMNS, "to score outputs")
    out = df.copy()
    n = len(out)
    texts = _strings(out["text"])
    hyps = [t if t is not None else "" for t in texts]
    expected = _strings(out["expected_lang"])
    for i, code in enumerate(expected):
        if code is None or not code.strip():
            raise ConfigError(f"expected_lang: row {out.index[i]!r} has no language code "
                              f"({out['expected_lang'].iloc[i]!r})")
    lid = identify_languages(texts, expected, fasttext_model=fasttext_model, langs=langs)
    for col in lid.columns:
        out[col] = lid[col].to_numpy()

    refs = _strings(out["reference"]) if "reference" in out.columns else [None] * n
    has_ref = np.array([r is not None for r in refs], dtype=bool)
    is_asr = np.array([t == ASR_TASK for t in out["task"]], dtype=bool)
    idx = np.flatnonzero(has_ref)
    h_ref = [hyps[i] for i in idx]
    r_ref = [refs[i] for i in idx]
    for col in ("chrf", "bleu", "wer", "cer"):
        out[col] = np.full(n, math.nan)
    if idx.size:
        out.iloc[idx, out.columns.get_loc("chrf")] = quality.sentence_chrf(h_ref, r_ref)
        out.iloc[idx, out.columns.get_loc("bleu")] = quality.sentence_bleu(
            h_ref, r_ref, [expected[i] for i in idx])
    asr = np.flatnonzero(has_ref & is_asr)
    if asr.size:
        h_asr, r_asr = [hyps[i] for i in asr], [refs[i] for i in asr]
        out.iloc[asr, out.columns.get_loc("wer")] = quality.sentence_wer(h_asr, r_asr)
        out.iloc[asr, out.columns.get_loc("cer")] = quality.sentence_cer(h_asr, r_asr)
    out["m_index"] = np.array([m_index(t) for t in hyps], dtype=float)
    out["i_index"] = np.array([i_index(t) for t in hyps], dtype=float)
    return out


def _nanmean(values: pd.Series) -> float:
    arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    return float(np.nanmean(arr)) if np.any(~np.isnan(arr)) else math.nan


def _group_metrics(g: pd.DataFrame) -> dict[str, Any]:
    hyps = [t if isinstance(t, str) else "" for t in g["text"]]
    refs = _strings(g["reference"]) if "reference" in g.columns else [None] * len(g)
    pairs = [(h, r, lang) for h, r, lang in zip(hyps, refs, g["expected_lang"]) if r is not None]
    asr = [(h, r) for h, r, task in zip(hyps, refs, g["task"]) if r is not None and task == ASR_TASK]
    row: dict[str, Any] = {
        "n": len(g),
        "n_reference": len(pairs),
        "share_expected": float(np.mean(g["is_expected"].astype(bool))) if len(g) else math.nan,
        "mean_expected_prob": _nanmean(g["expected_prob"]),
        "mean_lid_prob": _nanmean(g["lid_prob"]),
    }
    if pairs:
        h, r, langs = (list(x) for x in zip(*pairs))
        row["bleu"] = quality.bleu(h, r, langs)
        row["chrf"] = quality.chrf(h, r)
        row["combined"] = float(quality.combine_scores(row["bleu"], row["chrf"]))
    else:
        row.update(bleu=math.nan, chrf=math.nan, combined=math.nan)
    if asr:
        h, r = (list(x) for x in zip(*asr))
        row["wer"], row["cer"] = quality.wer(h, r), quality.cer(h, r)
    else:
        row.update(wer=math.nan, cer=math.nan)
    row["mean_m_index"] = _nanmean(g["m_index"])
    row["mean_i_index"] = _nanmean(g["i_index"])
    return row


def summarize(df: pd.DataFrame, by: Sequence[str] | str = ("task", "expected_lang"), *,
              fasttext_model: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Corpus-level metrics per group of ``df`` rows.

    ``df`` is the output of :func:`score_outputs`; when its score columns are missing it is scored
    first (with ``fasttext_model``). Returns one row per group (the ``by`` columns, then ``n``,
    ``n_reference``, ``share_expected``, ``mean_expected_prob``, ``mean_lid_prob``, corpus ``bleu``,
    ``chrf``, ``combined`` over rows with a reference — BLEU tokenized per row for its
    ``expected_lang`` — corpus ``wer``/``cer`` over ``asr`` rows with a reference, and the mean
    ``m_index``/``i_index``). Metrics without any input rows are NaN.
    """
    by = [by] if isinstance(by, str) else list(by)
    _check_columns(df, REQUIRED_COLUMNS, "to summarize outputs")
    _check_columns(df, by, "by `by=`")
    if any(c not in df.columns for c in SCORE_COLUMNS):
        df = score_outputs(df, fasttext_model=fasttext_model)
    rows: list[dict[str, Any]] = []
    if by:
        for key, g in df.groupby(by, dropna=False, sort=True):
            keys = key if isinstance(key, tuple) else (key,)
            rows.append({**dict(zip(by, keys)), **_group_metrics(g)})
    else:
        rows.append(_group_metrics(df))
    return pd.DataFrame(rows)
