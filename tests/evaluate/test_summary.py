"""Per-sample scoring and per-group summaries of generated outputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from babelscope.errors import ConfigError
from babelscope.evaluate import quality, score_outputs, summarize
from babelscope.evaluate.codemix import m_index

ROWS = [
    # text, expected_lang, reference, task
    ("The children played football in the park yesterday.", "eng",
     "The children played soccer in the park yesterday.", "t2t"),
    ("孩子们昨天在公园里踢足球。", "cmn", "孩子们昨天在公园踢球。", "t2t"),
    ("Die Kinder spielten gestern im Park Fußball.", "spa", None, "t2t"),
    ("Hello World ", "eng", "hello world", "asr"),
    ("the children played in a park", "eng", "The children played in the park.", "asr"),
    ("我喜欢 Python 和 Java", "cmn", "我喜欢 Python 和 Java", "asr"),
]


def _frame():
    return pd.DataFrame(ROWS, columns=["text", "expected_lang", "reference", "task"],
                        index=[f"s{i}" for i in range(len(ROWS))])


def test_score_outputs_adds_per_sample_columns():
    df = _frame()
    out = score_outputs(df)
    assert list(df.columns) == ["text", "expected_lang", "reference", "task"]  # input untouched
    assert list(out.index) == list(df.index)
    for col in ("lid_lang", "lid_prob", "expected_prob", "is_expected", "chrf", "bleu", "m_index",
                "i_index", "wer", "cer"):
        assert col in out.columns
    assert list(out["lid_lang"][:3]) == ["eng", "cmn", "deu"]
    assert list(out["is_expected"][:3]) == [True, True, False]
    # quality per row with a reference, tokenized for the row's language
    assert out["bleu"].iloc[1] == pytest.approx(
        quality.sentence_bleu([ROWS[1][0]], [ROWS[1][2]], "cmn")[0])
    assert out["chrf"].iloc[0] == pytest.approx(quality.sentence_chrf([ROWS[0][0]], [ROWS[0][2]])[0])
    assert math.isnan(out["bleu"].iloc[2]) and math.isnan(out["chrf"].iloc[2])
    # WER/CER for asr rows only
    assert out["wer"][:3].isna().all() and out["cer"][:3].isna().all()
    assert out["wer"].iloc[3] == 0.0 and out["cer"].iloc[3] == 0.0
    # "the children played in a park" vs "the children played in the park.": 2 substitutions / 6
    assert out["wer"].iloc[4] == pytest.approx(2 / 6)
    assert out["m_index"].iloc[5] == pytest.approx(0.8)
    assert out["m_index"].iloc[0] == 0.0 == m_index(ROWS[0][0])


def test_missing_reference_column_and_missing_text():
    df = _frame().drop(columns="reference")
    df.loc["s0", "text"] = None
    out = score_outputs(df)
    assert out["bleu"].isna().all() and out["wer"].isna().all()
    assert out.loc["s0", "lid_lang"] == "" and not out.loc["s0", "is_expected"]


def test_summarize_pools_corpus_metrics_per_group():
    scored = score_outputs(_frame())
    summary = summarize(scored, by=["task"])
    assert list(summary["task"]) == ["asr", "t2t"]
    t2t = summary.set_index("task").loc["t2t"]
    assert t2t["n"] == 3 and t2t["n_reference"] == 2
    assert t2t["share_expected"] == pytest.approx(2 / 3)
    assert t2t["mean_expected_prob"] == pytest.approx(scored["expected_prob"][:3].mean())
    h, r = [ROWS[0][0], ROWS[1][0]], [ROWS[0][2], ROWS[1][2]]
    assert t2t["bleu"] == pytest.approx(quality.bleu(h, r, ["eng", "cmn"]))
    assert t2t["chrf"] == pytest.approx(quality.chrf(h, r))
    assert t2t["combined"] == pytest.approx(0.6 * t2t["bleu"] + 0.4 * t2t["chrf"])
    assert math.isnan(t2t["wer"])
    asr = summary.set_index("task").loc["asr"]
    h, r = [row[0] for row in ROWS[3:]], [row[2] for row in ROWS[3:]]
    assert asr["wer"] == pytest.approx(quality.wer(h, r))
    assert asr["cer"] == pytest.approx(quality.cer(h, r))
    assert 0 < asr["wer"] < 1


def test_summarize_scores_unscored_input_and_groups_by_language():
    summary = summarize(_frame())  # default by task and expected_lang
    assert list(zip(summary["task"], summary["expected_lang"])) == [
        ("asr", "cmn"), ("asr", "eng"), ("t2t", "cmn"), ("t2t", "eng"), ("t2t", "spa")]
    row = summary.iloc[2]
    assert row["bleu"] == pytest.approx(quality.bleu([ROWS[1][0]], [ROWS[1][2]], "cmn"))
    assert np.isnan(summary.iloc[4]["bleu"])  # no reference in that group


def test_bad_frames():
    with pytest.raises(ConfigError, match="expected_lang"):
        score_outputs(_frame().drop(columns="expected_lang"))
    with pytest.raises(ConfigError, match="nonexistent"):
        summarize(_frame(), by=["nonexistent"])
    df = _frame()
    df.loc["s1", "expected_lang"] = None
    with pytest.raises(ConfigError, match="expected_lang: row 's1'"):
        score_outputs(df)
