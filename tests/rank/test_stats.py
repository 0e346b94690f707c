"""Forcing statistics must equal numpy.percentile (linear) and the mean, per label."""

from __future__ import annotations

import numpy as np
import pytest

from babelscope.rank import forcing_stats


@pytest.mark.parametrize("dtype,decimals", [(np.float32, None), (np.float32, 0), (np.float16, 1),
                                            (np.float64, None)])
def test_stats_equal_numpy(dtype, decimals):
    rng = np.random.default_rng(11)
    n, units, n_labels = 257, 21, 5
    x = rng.standard_normal((n, units)) * 3 + 1
    if decimals is not None:
        x = np.round(x, decimals)
    x = x.astype(dtype)
    lab = rng.integers(0, n_labels, n)
    lab[:3] = 0  # label 0: several positives; label 4: force a single positive
    lab[lab == 4] = 3
    lab[10] = 4
    st = forcing_stats(x, lab, n_labels)
    x64 = x.astype(np.float64)
    for lab_i in range(n_labels):
        pos, neg = x64[lab == lab_i], x64[lab != lab_i]
        # bit-for-bit: the same interpolation formula as numpy's 'linear' method
        np.testing.assert_array_equal(st["on_p50"][lab_i], np.percentile(pos, 50, axis=0))
        np.testing.assert_array_equal(st["on_p90"][lab_i], np.percentile(pos, 90, axis=0))
        np.testing.assert_array_equal(st["off_p50"][lab_i], np.percentile(neg, 50, axis=0))
        np.testing.assert_allclose(st["off_mean"][lab_i], neg.mean(axis=0), rtol=1e-10, atol=1e-12)


def test_stats_even_and_odd_counts():
    # medians that interpolate between two values (even counts) and that do not (odd counts)
    x = np.array([[1.0], [2.0], [3.0], [4.0], [10.0], [20.0], [30.0]], dtype=np.float32)
    lab = np.array([0, 0, 0, 0, 1, 1, 1])
    st = forcing_stats(x, lab)
    assert st["on_p50"][0, 0] == 2.5 and st["on_p50"][1, 0] == 20.0
    assert st["off_p50"][0, 0] == 20.0 and st["off_p50"][1, 0] == 2.5
    assert st["on_p90"][0, 0] == pytest.approx(np.percentile([1, 2, 3, 4], 90))
    assert st["off_mean"][1, 0] == pytest.approx(2.5)


# the percentiles of a label holding inf interpolate inf - inf, as numpy's own do (NaN, warning)
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_off_mean_ignores_an_infinite_positive():
    # total - positives would be inf - inf = NaN; the negatives alone are finite
    x = np.array([[np.inf, 1.0], [1.5, 2.0], [-0.25, 3.0], [3.0, 4.0], [2.0, 5.0], [0.5, 6.0]])
    lab = np.array([0, 1, 1, 2, 2, 1])
    for dtype in (np.float64, np.float32, np.float16):  # float16: overflow to inf in the data itself
        xd = x.astype(dtype)
        st = forcing_stats(xd, lab)
        x64 = xd.astype(np.float64)
        # label 0's negatives are finite and sum exactly: numpy's mean, bit for bit
        assert st["off_mean"][0, 0] == np.mean(x64[lab != 0, 0]) == 1.35
        assert np.isfinite(st["off_mean"][0]).all()
        # labels whose negatives hold the inf get inf, as numpy does
        for lab_i in (1, 2):
            np.testing.assert_array_equal(st["off_mean"][lab_i], np.mean(x64[lab != lab_i], axis=0))


def test_off_mean_keeps_small_negatives_next_to_a_huge_positive():
    # 1e30 + ~1 rounds the ~1 away, so total - positives cancels the negatives to 0
    rng = np.random.default_rng(5)
    n = 50
    x = 1.0 + rng.standard_normal((n, 3)) * 0.1
    x[0, :] = [1e30, -1e30, 1e30]
    lab = np.zeros(n, dtype=np.int64)
    lab[0] = 1
    lab[25:] = 2
    st = forcing_stats(x, lab)
    for col in range(3):
        want = np.mean(x[lab != 1, col])
        assert 0.5 < want < 1.5
        assert st["off_mean"][1, col] == pytest.approx(want, rel=1e-9)
    for lab_i in (0, 2):  # negatives that contain the huge value: numpy's mean, huge as well
        np.testing.assert_allclose(st["off_mean"][lab_i], np.mean(x[lab != lab_i], axis=0), rtol=1e-9)
