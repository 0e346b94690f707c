"""Percentile and paired bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from babelscope.errors import ConfigError
from babelscope.evaluate.bootstrap import bootstrap_ci, paired_diff_ci


def _sample(n, seed=1):
    return np.random.default_rng(seed).normal(loc=3.0, scale=1.0, size=n)


def test_interval_contains_mean_and_has_the_expected_width():
    x = _sample(400)
    est, lo, hi = bootstrap_ci(x, n_boot=2000)
    assert est == pytest.approx(x.mean())
    assert lo < est < hi
    # normal theory: width ~ 2 * 1.96 * sd / sqrt(n)
    assert hi - lo == pytest.approx(2 * 1.96 * x.std() / math.sqrt(x.size), rel=0.15)


def test_interval_narrows_with_more_samples():
    _, lo_small, hi_small = bootstrap_ci(_sample(40))
    _, lo_big, hi_big = bootstrap_ci(_sample(4000))
    assert hi_big - lo_big < 0.5 * (hi_small - lo_small)


def test_deterministic_by_seed():
    x = _sample(100)
    assert bootstrap_ci(x, seed=7) == bootstrap_ci(x, seed=7)
    assert bootstrap_ci(x, seed=7) != bootstrap_ci(x, seed=8)


def test_stat_without_axis_gives_the_same_resamples():
    x = _sample(50)
    vectorised = bootstrap_ci(x, n_boot=300, seed=3, stat=np.median)
    looped = bootstrap_ci(x, n_boot=300, seed=3, stat=lambda v: float(np.median(v)))
    assert vectorised == pytest.approx(looped)


def test_nan_handling_and_small_samples():
    assert bootstrap_ci([1.0, math.nan, 3.0])[0] == pytest.approx(2.0)
    assert bootstrap_ci([5.0]) == (5.0, 5.0, 5.0)
    assert all(math.isnan(v) for v in bootstrap_ci([math.nan]))


def test_paired_difference():
    a = _sample(200, seed=2)
    assert paired_diff_ci(a, a) == (0.0, 0.0, 0.0)
    b = a - 0.5 + np.random.default_rng(5).normal(scale=0.1, size=a.size)
    effect, lo, hi = paired_diff_ci(a, b)
    assert effect == pytest.approx(np.mean(a - b))
    assert lo < effect < hi and 0.45 < lo and hi < 0.55  # pairing removes the between-sample spread
    # a pair with a NaN on either side is dropped
    a2, b2 = np.append(a, [math.nan, 1.0]), np.append(b, [0.0, math.nan])
    assert paired_diff_ci(a2, b2) == paired_diff_ci(a, b)


def test_bad_arguments():
    with pytest.raises(ConfigError, match="a/b"):
        paired_diff_ci([1.0, 2.0], [1.0])
    with pytest.raises(ConfigError, match="n_boot"):
        bootstrap_ci([1.0, 2.0], n_boot=0)
    with pytest.raises(ConfigError, match="alpha"):
        bootstrap_ci([1.0, 2.0], alpha=1.5)
    with pytest.raises(ConfigError, match="values"):
        bootstrap_ci([[1.0, 2.0]])
