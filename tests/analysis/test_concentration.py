"""Concentration measures against direct formulas, and streamed from a store."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from babelscope.analysis import concentration_store, gini, lorenz, normalized_entropy, top_share
from babelscope.errors import ConfigError
from babelscope.rank import ArrayStore


def gini_pairs(x: np.ndarray) -> float:
    """O(n^2) mean-absolute-difference Gini: sum_i sum_j |x_i - x_j| / (2 n^2 mean)."""
    n = len(x)
    return float(np.abs(x[:, None] - x[None, :]).sum() / (2 * n * n * x.mean()))


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1001])
def test_gini_equals_pairwise_formula(n):
    rng = np.random.default_rng(n)
    for x in (rng.random(n), rng.exponential(size=n) ** 3, np.round(rng.random(n) * 3)):
        if x.sum() > 0:
            assert gini(x) == pytest.approx(gini_pairs(x), abs=1e-12)
    assert gini(np.ones(n)) == pytest.approx(0.0, abs=1e-15)
    if n > 1:
        one_hot = np.zeros(n)
        one_hot[0] = 5
        assert gini(one_hot) == pytest.approx((n - 1) / n)


def test_top_share_and_entropy():
    x = np.arange(1, 251, dtype=float)  # 250 units: top 1% = ceil(2.5) = 3 units
    assert top_share(x) == pytest.approx((248 + 249 + 250) / x.sum())
    assert top_share(np.array([1.0, 3.0])) == pytest.approx(0.75)  # at least one unit
    assert normalized_entropy(np.ones(64)) == pytest.approx(1.0)
    p = np.array([0.5, 0.25, 0.25, 0.0])
    assert normalized_entropy(p * 8) == pytest.approx(-(p[:3] * np.log(p[:3])).sum() / math.log(4))
    assert np.isnan(normalized_entropy(np.array([3.0])))
    with pytest.raises(ConfigError, match="non-negative"):
        gini(np.array([1.0, -1.0]))


def test_lorenz():
    pop, mass = lorenz(np.array([3.0, 1.0, 0.0, 4.0]))
    np.testing.assert_allclose(pop, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(mass, [0, 0, 1 / 8, 4 / 8, 1])
    # the Gini is one minus twice the area under the Lorenz curve (trapezoids; exact for n units)
    rng = np.random.default_rng(0)
    x = rng.exponential(size=500)
    pop, mass = lorenz(x)
    assert 1 - 2 * np.trapezoid(mass, pop) == pytest.approx(gini(x), abs=1e-12)


def test_concentration_store_equals_direct():
    rng = np.random.default_rng(5)
    samples = pd.DataFrame({"task": ["s2t"] * 6 + ["t2t"] * 6, "src_lang": ["deu", "jpn"] * 6,
                            "tgt_lang": "eng", "modality": ["speech"] * 6 + ["text"] * 6,
                            "group": [f"g{i // 2}" for i in range(12)]})
    info = {"speech_encoder.layers.0.fc1": dict(component="speech_encoder", group="ffn", layer=0),
            "text_decoder.layers.0.fc1": dict(component="text_decoder", group="ffn", layer=0),
            "text_decoder.layers.1.fc1": dict(component="text_decoder", group="ffn", layer=1)}
    arrays, valid = {}, {}
    for site in info:
        view = "encoder" if site.startswith("speech") else "step=2/mean"
        x = (rng.standard_normal((12, 37)) * rng.exponential(size=37)).astype(np.float16)
        ok = np.ones(12, bool)
        if site.startswith("speech"):
            ok[6:] = False  # text samples: no speech-encoder response
        else:
            ok[[1, 8]] = False  # sequences that ended early
        x[~ok] = np.nan
        arrays[(site, view)], valid[(site, view)] = x, ok
    store = ArrayStore(samples, arrays, info, valid=valid)
    res = concentration_store(store, view="step=2/mean", scope="layer", block_units=5, progress=False,
                              encoder_fallback=False)
    t = res.table.set_index(["group", "scope"])
    assert set(t.index.get_level_values("scope")) == {"text_decoder:0", "text_decoder:1"}
    site = "text_decoder.layers.1.fc1"
    x = arrays[(site, "step=2/mean")].astype(np.float64)
    rows = np.flatnonzero((samples["task"] == "t2t").to_numpy() & (samples["src_lang"] == "deu").to_numpy()
                          & valid[(site, "step=2/mean")])
    mass = np.abs(x[rows]).mean(axis=0)
    np.testing.assert_allclose(res.masses[("t2t/deu/text", "text_decoder:1")], mass, rtol=1e-12)
    row = t.loc[("t2t/deu/text", "text_decoder:1")]
    assert row["gini"] == pytest.approx(gini_pairs(mass), abs=1e-12)
    assert row["n_samples"] == len(rows) == 2 and row["n_units"] == 37
    assert row["top1_share"] == pytest.approx(mass.max() / mass.sum())
    # component scope pools both layers; encoder view keeps the speech encoder for speech groups only
    comp = concentration_store(store, view="encoder", scope="component", progress=False).table
    assert set(comp["group"]) == {"s2t/deu/speech", "s2t/jpn/speech"}
    with pytest.raises(ConfigError, match="scope='unit'"):
        concentration_store(store, view="encoder", scope="unit", progress=False)
