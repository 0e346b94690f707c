"""Spearman's rho must equal scipy.stats.spearmanr (average ranks for ties)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata, spearmanr

from babelscope.analysis import average_ranks, rank_agreement, spearman
from babelscope.errors import ConfigError


@pytest.mark.parametrize("levels", [3, 20, None])
def test_spearman_equals_scipy(levels):
    rng = np.random.default_rng(levels or 0)
    for n in (2, 5, 300):
        x = rng.standard_normal(n)
        y = x * 0.5 + rng.standard_normal(n)
        if levels:
            x, y = np.round(x * levels / 4), np.round(y * levels / 4)
        np.testing.assert_allclose(average_ranks(x), rankdata(x, method="average"))
        if np.ptp(x) > 0 and np.ptp(y) > 0:
            assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_spearman_degenerate():
    assert np.isnan(spearman(np.ones(5), np.arange(5.0)))
    assert np.isnan(spearman(np.array([1.0]), np.array([2.0])))
    with pytest.raises(ConfigError, match="NaN"):
        spearman(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


def _table(ap: np.ndarray, label="deu") -> pd.DataFrame:
    n = len(ap)
    comp = np.where(np.arange(n) < n // 2, "text_encoder", "text_decoder")
    layer = np.arange(n) % 3
    return pd.DataFrame({"site": [f"{c}.layers.{l}.fc1" for c, l in zip(comp, layer)], "unit": np.arange(n),
                         "component": comp, "group": "ffn", "layer": layer, "view": "encoder", "label": label,
                         "ap": ap, "on_p50": 0.0, "on_p90": 0.0, "off_p50": 0.0, "off_mean": 0.0})


def test_rank_agreement_scopes():
    rng = np.random.default_rng(3)
    a = np.round(rng.random(90), 2)
    b = np.round(a + rng.standard_normal(90) * 0.2, 2)
    ta, tb = _table(a), _table(b, label="fra").sample(frac=1.0, random_state=1)  # order must not matter
    g = rank_agreement(ta, tb, label_a="deu", label_b="fra")
    assert g["scope"].tolist() == ["all"] and g["n_units"].tolist() == [90]
    assert g["rho"].iloc[0] == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    per = rank_agreement(ta, tb, label_a="deu", label_b="fra", by="component").set_index("scope")
    half = np.arange(90) < 45
    assert per.loc["text_encoder", "rho"] == pytest.approx(spearmanr(a[half], b[half]).statistic, abs=1e-12)
    assert per.loc["text_decoder", "rho"] == pytest.approx(spearmanr(a[~half], b[~half]).statistic, abs=1e-12)
    lay = rank_agreement(ta, tb, label_a="deu", label_b="fra", by="layer").set_index("scope")
    sel = ~half & (np.arange(90) % 3 == 1)
    assert lay.loc["text_decoder:1", "rho"] == pytest.approx(spearmanr(a[sel], b[sel]).statistic, abs=1e-12)
    assert len(lay) == 6
    with pytest.raises(ConfigError, match="label_b='ita'"):
        rank_agreement(ta, tb, label_a="deu", label_b="ita")
    with pytest.raises(ConfigError, match="by='unit'"):
        rank_agreement(ta, tb, label_a="deu", by="unit")
