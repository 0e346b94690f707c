"""Average precision must equal scikit-learn for every unit and label, ties included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score

from babelscope.errors import ConfigError, LabelError
from babelscope.rank import average_precision


def sk_ap(scores: np.ndarray, labels: np.ndarray, n_labels: int) -> np.ndarray:
    """The reference: one scikit-learn call per (label, unit)."""
    return np.array([[average_precision_score(labels == lab, scores[:, u]) for u in range(scores.shape[1])]
                     for lab in range(n_labels)])


def _labels(rng: np.random.Generator, n: int, n_labels: int) -> np.ndarray:
    lab = rng.integers(0, n_labels, n)
    lab[:n_labels] = np.arange(n_labels)  # every label present
    return lab


@pytest.mark.parametrize("n_labels", [2, 6, 20])
@pytest.mark.parametrize("decimals", [0, 1, None])
def test_parity_with_heavy_ties(n_labels, decimals):
    rng = np.random.default_rng(n_labels * 10 + (decimals or 7))
    n, units = 240, 30
    x = rng.standard_normal((n, units))
    if decimals is not None:
        x = np.round(x, decimals)  # a handful of distinct values: ties everywhere
    x = x.astype(np.float32)
    lab = _labels(rng, n, n_labels)
    got = average_precision(x, lab)
    assert got.shape == (n_labels, units) and got.dtype == np.float64
    np.testing.assert_allclose(got, sk_ap(x, lab, n_labels), rtol=0, atol=1e-9)


def test_constant_columns_and_signed_zeros():
    rng = np.random.default_rng(1)
    n = 150
    lab = _labels(rng, n, 3)
    x = rng.standard_normal((n, 6)).astype(np.float32)
    x[:, 0] = 0.0
    x[:, 1] = 3.25
    x[:, 2] = np.where(rng.random(n) < 0.5, -0.0, 0.0)  # -0.0 and +0.0 are one tie
    x[:, 3] = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    got = average_precision(x, lab)
    ref = sk_ap(x, lab, 3)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-9)
    base = np.bincount(lab) / n
    np.testing.assert_allclose(got[:, 0], base, atol=1e-12)  # constant column: AP = base rate


def test_float16_input():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((500, 25)) * 3).astype(np.float16)  # float16: many exact ties
    lab = _labels(rng, 500, 6)
    np.testing.assert_allclose(average_precision(x, lab), sk_ap(x.astype(np.float64), lab, 6), atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.int32])
def test_other_dtypes(dtype):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal((120, 9)) * 4).astype(dtype)  # float64 takes the argsort path
    lab = _labels(rng, 120, 4)
    np.testing.assert_allclose(average_precision(x, lab), sk_ap(x, lab, 4), atol=1e-9)


def test_single_positive_label():
    rng = np.random.default_rng(4)
    x = np.round(rng.standard_normal((80, 12)), 1).astype(np.float32)
    lab = np.zeros(80, dtype=int)
    lab[17] = 1  # label 1 has exactly one positive
    np.testing.assert_allclose(average_precision(x, lab), sk_ap(x, lab, 2), atol=1e-9)


def test_chunks_and_threads_do_not_change_bits():
    from babelscope.rank import check_labels, rank_block

    rng = np.random.default_rng(5)
    x = np.round(rng.standard_normal((300, 301)), 1).astype(np.float32)
    lab = check_labels(_labels(rng, 300, 5))
    whole = rank_block(x, lab, chunk_units=10_000, threads=1)
    split = rank_block(x, lab, chunk_units=7, threads=2)
    for f in ("ap", "on_p50", "on_p90", "off_p50", "off_mean"):
        np.testing.assert_array_equal(getattr(whole, f), getattr(split, f))


def test_label_without_positive_is_named():
    x = np.zeros((10, 2), np.float32)
    lab = np.array([0, 2] * 5)
    with pytest.raises(LabelError, match="label '1' has no positive"):
        average_precision(x, lab)
    with pytest.raises(LabelError, match="'fra' has no positive"):
        average_precision(x, lab, label_names=["deu", "fra", "spa"])
    with pytest.raises(LabelError, match="label '3' has no positive"):
        average_precision(x, np.array([0, 1, 2] * 3 + [0]), n_labels=4)


def test_label_without_negative_is_named():
    with pytest.raises(LabelError, match="label '0' has no negative"):
        average_precision(np.zeros((5, 2)), np.zeros(5, dtype=int))


def test_bad_labels_and_scores():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(LabelError, match="outside"):
        average_precision(x, np.array([0, 1, 2, 5]), n_labels=3)
    with pytest.raises(LabelError, match="integers"):
        average_precision(x, np.array([0.0, 1.0, 0.0, 1.0]))
    with pytest.raises(ConfigError, match="samples"):
        average_precision(x, np.array([0, 1, 0]))
    bad = np.ones((4, 3), np.float32)
    bad[2, 1] = np.nan
    with pytest.raises(ConfigError, match="NaN.*column 1"):
        average_precision(bad, np.array([0, 1, 0, 1]))
    wide = np.ones((4, 500), np.float32)
    wide[1, 345] = np.nan
    with pytest.raises(ConfigError, match="column 345"):  # index in the whole matrix, not a chunk
        average_precision(wide, np.array([0, 1, 0, 1]), threads=3)
    bad16 = bad.astype(np.float16)
    bad16[2, 1] = -np.nan
    with pytest.raises(ConfigError, match="NaN"):
        average_precision(bad16, np.array([0, 1, 0, 1]))


def test_infinities_are_ordinary_extremes():
    # scikit-learn rejects inf; AP depends only on order and ties, so compare with the same order
    x = np.array([[np.inf, 1], [-np.inf, 2], [0.0, 3], [5.0, 4], [np.inf, 0]], dtype=np.float32)
    lab = np.array([1, 0, 0, 1, 0])
    finite = np.nan_to_num(x, posinf=1e30, neginf=-1e30)
    np.testing.assert_allclose(average_precision(x, lab), sk_ap(finite, lab, 2), atol=1e-12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(2, 60), units=st.integers(1, 6), n_labels=st.integers(2, 5),
       levels=st.integers(1, 8), f16=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_parity(n, units, n_labels, levels, f16, seed):
    rng = np.random.default_rng(seed)
    n_labels = min(n_labels, n)
    lab = rng.permutation(np.concatenate([np.arange(n_labels), rng.integers(0, n_labels, n - n_labels)]))
    if np.bincount(lab, minlength=n_labels).max() == n:
        return
    x = rng.integers(0, levels, (n, units)) * 0.5 - 1.0 + (rng.standard_normal((n, units)) if levels == 8 else 0)
    x = x.astype(np.float16 if f16 else np.float32)
    np.testing.assert_allclose(average_precision(x, lab, n_labels), sk_ap(x, lab, n_labels), atol=1e-9)
