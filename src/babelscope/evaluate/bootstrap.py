"""Bootstrap confidence intervals over samples (METHODS §8: every effect comes with a bootstrap CI).

Percentile bootstrap: draw ``n_boot`` resamples of the samples with replacement (NumPy
``default_rng(seed)``, so the same seed gives the same interval), compute the statistic on each, and
take the ``alpha/2`` and ``1 - alpha/2`` quantiles. The point estimate is the statistic on the
original samples.

NaN handling: NaN values are dropped before resampling (:func:`bootstrap_ci`); for paired samples a
pair is dropped when either member is NaN (:func:`paired_diff_ci`). With no samples left the result
is ``(nan, nan, nan)``; with one sample it is ``(v, v, v)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from babelscope.errors import ConfigError

Stat = Callable[..., Any]

_CHUNK_CELLS = 4_000_000  # resampled values held in memory at once


def _as_1d(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: not numeric ({exc})") from exc
    if arr.ndim != 1:
        raise ConfigError(f"{name}: expected a 1-D sequence of numbers, got shape {arr.shape}")
    return arr


def _check_settings(n_boot: int, alpha: float) -> None:
    if not isinstance(n_boot, (int, np.integer)) or isinstance(n_boot, bool) or n_boot < 1:
        raise ConfigError(f"n_boot: must be a positive integer, got {n_boot!r}")
    if not 0.0 < float(alpha) < 1.0:
        raise ConfigError(f"alpha: must lie strictly between 0 and 1, got {alpha!r}")


def _boot_stats(x: np.ndarray, n_boot: int, seed: int, stat: Stat) -> np.ndarray:
    """The statistic on ``n_boot`` resamples of ``x`` (drawn in chunks to bound memory)."""
    rng = np.random.default_rng(seed)
    n = x.size
    chunk = max(1, _CHUNK_CELLS // n)
    out = np.empty(n_boot, dtype=float)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        samples = x[rng.integers(0, n, size=(stop - start, n))]
        try:
            vals = np.asarray(stat(samples, axis=1), dtype=float)
            if vals.shape != (stop - start,):
                raise TypeError("stat did not reduce along axis 1")
        except TypeError:  # a statistic without an ``axis`` argument: one call per resample
            vals = np.array([float(stat(row)) for row in samples], dtype=float)
        out[start:stop] = vals
    return out


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0, stat: Stat = np.mean) -> tuple[float, float, float]:
    """Percentile bootstrap interval of ``stat`` over the samples in ``values``.

    Args:
        values: one number per sample; NaNs are dropped.
        n_boot: number of resamples.
        alpha: 1 - confidence level (0.05 gives a 95% interval).
        seed: seed of the resampling; the same seed gives the same interval.
        stat: statistic of a 1-D array; if it accepts ``axis=`` (like ``np.mean`` or ``np.median``)
            it is applied to all resamples at once.

    Returns:
        ``(estimate, lo, hi)``.
    """
    _check_settings(n_boot, alpha)
    x = _as_1d(values, "values")
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (float("nan"),) * 3
    estimate = float(stat(x))
    if x.size == 1:
        return estimate, estimate, estimate
    boots = _boot_stats(x, n_boot, seed, stat)
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return estimate, float(lo), float(hi)


def paired_diff_ci(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                   n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                   stat: Stat = np.mean) -> tuple[float, float, float]:
    """Bootstrap interval of the paired effect ``stat(a - b)`` (the mean difference by default).

    ``a[i]`` and ``b[i]`` belong to the same sample (e.g. a forced and the unforced run on sample
    ``i``); each resample draws sample indices once and uses them for both, which is resampling the
    per-sample differences. Pairs with a NaN on either side are dropped.

    Returns:
        ``(effect, lo, hi)``.
    """
    x, y = _as_1d(a, "a"), _as_1d(b, "b")
    if x.shape != y.shape:
        raise ConfigError(f"a/b: paired samples must align, got {x.size} and {y.size} values")
    keep = ~(np.isnan(x) | np.isnan(y))
    return bootstrap_ci(x[keep] - y[keep], n_boot=n_boot, alpha=alpha, seed=seed, stat=stat)
