"""Guards on thin evidence (issue: babel-mini at step 12 ranked Mandarin on one positive, every label AP
1.0): a label below the minimum positives/negatives is skipped with a warning naming its counts (refused
with ``strict``), its samples stay negatives of the other labels, and the table is what sklearn computes
for the kept labels. Plus the arithmetic behind the rule: a null unit reaches AP = 1 with probability
1 / C(n, p), checked by simulation."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import comb
from sklearn.metrics import average_precision_score

from babelscope.errors import LabelError
from babelscope.rank import ArrayStore, average_precision, build_analysis, rank_store
from babelscope.rank.evidence import EvidenceWarning

from ._data import make_samples

SITE = "text_decoder.layers.0.ffn.fc1"
VIEW = "step=12/mean"
#: the shipped defaults (the suite's conftest lowers the defaults for its tiny corpora)
FIVE = dict(min_positives=5, min_negatives=5)


def _thin_store(seed=0):
    """t2t samples of 12 groups x 6 languages; at step 12 only 10 groups of each language have a
    response, and of Mandarin only one."""
    samples = make_samples(12)
    samples = samples[samples.task == "t2t"].reset_index(drop=True)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((len(samples), 16)).astype(np.float32)
    g = samples["group"].str[1:].astype(int)
    valid = (g < 10) & ((samples["src_lang"] != "cmn") | (g == 0))
    x[~valid.to_numpy()] = np.nan
    st = ArrayStore(samples, {(SITE, VIEW): x}, {SITE: dict(component="text_decoder", group="ffn", layer=0)},
                    valid={(SITE, VIEW): valid.to_numpy()})
    return st, x, valid.to_numpy()


def test_a_label_with_one_positive_is_skipped_with_its_counts():
    st, x, valid = _thin_store()
    an = build_analysis(st.samples, "source_language", modality="text")
    with pytest.warns(EvidenceWarning, match=r"cmn: 1 positive and 50 negatives at step=12/mean \(minimum 5 and 5\)"):
        exp = rank_store(st, an, view=VIEW, progress=False, **FIVE)
    assert exp.labels == ["deu", "eng", "fra", "jpn", "spa"] and list(exp.skipped_labels) == ["cmn"]
    assert set(exp.table["label"].astype(str)) == set(exp.labels)
    assert exp.meta["label_counts"]["cmn"] == {"positives": 1, "negatives": 50}
    # the kept labels: one-vs-rest against every other sample with a response, the Mandarin one included
    langs = st.samples["src_lang"].to_numpy()[valid]
    for lang in exp.labels:
        got = exp.table[exp.table["label"].astype(str) == lang].sort_values("unit")["ap"].to_numpy()
        want = [average_precision_score(langs == lang, x[valid, u]) for u in range(16)]
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_strict_refuses_and_a_ranking_with_no_label_left_is_an_error():
    st, _, _ = _thin_store()
    an = build_analysis(st.samples, "source_language", modality="text")
    with pytest.raises(LabelError, match=r"labels below the minimum in analysis .*cmn: 1 positive"):
        rank_store(st, an, view=VIEW, progress=False, strict=True, **FIVE)
    with pytest.raises(LabelError, match=r"no label of analysis .* \(minimum 11 and 5\)"):
        rank_store(st, an, view=VIEW, progress=False, min_positives=11, min_negatives=5)
    with warnings.catch_warnings():  # at the minimum itself nothing is skipped
        warnings.simplefilter("error")
        exp = rank_store(st, an, view=VIEW, progress=False, min_positives=1, min_negatives=5)
    assert exp.labels == ["cmn", "deu", "eng", "fra", "jpn", "spa"] and not exp.skipped_labels


def test_the_skipped_bucket_is_dropped_where_no_kept_row_carries_it():
    """Mandarin has no response at all at step 12: nothing of it is ranked, the rest is ranked as usual."""
    st, x, valid = _thin_store()
    cmn = (st.samples["src_lang"] == "cmn").to_numpy()
    valid2 = valid & ~cmn
    x2 = x.copy()
    x2[~valid2] = np.nan
    st2 = ArrayStore(st.samples, {(SITE, VIEW): x2}, {SITE: dict(component="text_decoder", group="ffn", layer=0)},
                     valid={(SITE, VIEW): valid2})
    an = build_analysis(st2.samples, "source_language", modality="text")
    with pytest.warns(EvidenceWarning, match="cmn: 0 positives and 50 negatives"):
        exp = rank_store(st2, an, view=VIEW, progress=False, **FIVE)
    langs = st.samples["src_lang"].to_numpy()[valid2]
    got = exp.table[exp.table["label"].astype(str) == "deu"].sort_values("unit")["ap"].to_numpy()
    np.testing.assert_allclose(got, [average_precision_score(langs == "deu", x2[valid2, u]) for u in range(16)])


def test_the_shipped_defaults_and_the_environment_override():
    import subprocess
    import sys

    code = ("import babelscope.defaults as d, babelscope.config.schema as s; "
            "print(d.MIN_POSITIVES, d.MIN_NEGATIVES, s.RankCfg().min_positives, s.RankCfg().min_negatives)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BABELSCOPE_MIN_")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["5", "5", "5", "5"]
    env["BABELSCOPE_MIN_POSITIVES"] = "many"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "BABELSCOPE_MIN_POSITIVES: expected a whole number >= 1, got 'many'" in bad.stderr


@pytest.mark.parametrize("n,p", [(14, 1), (12, 2), (10, 3)])
def test_a_null_unit_reaches_ap_one_at_rate_one_over_n_choose_p(n, p):
    """Why a minimum: with p positives among n, a unit that ignores the label ranks all positives first
    with probability 1 / C(n, p) — 7 % of the units for the issue's 1 of 14, 0.0007 % at 5 of 30."""
    rng = np.random.default_rng(n * 10 + p)
    units = 40_000
    labels = np.zeros(n, dtype=np.int64)
    labels[:p] = 1
    ap = average_precision(rng.standard_normal((n, units)), labels, n_labels=2)[1]
    rate = float((ap > 1 - 1e-12).mean())
    want = 1 / comb(n, p)
    se = np.sqrt(want * (1 - want) / units)
    assert abs(rate - want) < 5 * se, (rate, want)
    assert 1 / comb(30, 5) < 1e-5 < want
