"""The tests behind the report's verdicts (docs/report.md, "How each claim is decided").

Every function returns numbers, never a verdict: the rules that turn them into verdicts live in
:mod:`babelscope.report.claims`. All tests are one-sided in the direction a claim asserts.

* :func:`overlap_tail` — exact tail ``P(S >= s)`` of a sum of independent hypergeometric overlaps:
  the intersection of two random k-sets out of U units is hypergeometric (U, k, k); over several
  labels (independent draws under the null) the total is their convolution.
* :func:`enrichment_tail` — hypergeometric tail of ``x`` units of a category (K of U units) among
  k selected units: ``P(X >= x)``.
* :func:`sign_flip_test` — paired permutation test of a mean difference: under the null the sign
  of every per-sample difference is exchangeable; ``p = (1 + #{mean(s d) >= mean(d)}) / (1 + n_perm)``.
* :func:`diagonal_tail` — label-permutation test of a square overlap matrix: is the diagonal (same
  label in both modalities) larger than under a random pairing of the labels? ``P(Σ_i M[i, π(i)] >=
  Σ_i M[i, i])`` over all permutations π (exact up to 8 labels, else sampled), the identity included.
* :func:`slope` — least-squares slope of y on x.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy import stats as sps

from babelscope.errors import ConfigError


def _check_sets(k: int, n_units: int) -> None:
    if not (isinstance(k, (int, np.integer)) and isinstance(n_units, (int, np.integer))) or not 0 < k <= n_units:
        raise ConfigError(f"overlap test: need 0 < k <= U, got k={k!r}, U={n_units!r}")


def overlap_tail(counts: Sequence[int], k: int, n_units: int) -> float:
    """``P(S >= sum(counts))`` where S is the sum of ``len(counts)`` independent Hypergeom(U, k, k)
    intersections (two random k-sets out of ``n_units``)."""
    _check_sets(k, n_units)
    counts = [int(c) for c in counts]
    if not counts or any(c < 0 or c > k for c in counts):
        raise ConfigError(f"overlap test: counts must lie in [0, {k}], got {counts}")
    pmf1 = sps.hypergeom(n_units, k, k).pmf(np.arange(k + 1))
    pmf = np.array([1.0])
    for _ in counts:
        pmf = np.convolve(pmf, pmf1)
    return float(min(1.0, pmf[sum(counts):].sum()))


def enrichment_tail(x: int, k: int, n_category: int, n_units: int) -> float:
    """``P(X >= x)`` for X ~ Hypergeom(U = n_units, K = n_category, k draws)."""
    if not 0 <= n_category <= n_units or not 0 < k <= n_units or not 0 <= x <= k:
        raise ConfigError(f"enrichment test: need 0 <= x <= k <= U and 0 <= K <= U, got x={x}, k={k}, "
                          f"K={n_category}, U={n_units}")
    return float(sps.hypergeom(n_units, n_category, k).sf(x - 1))


def sign_flip_test(d: Sequence[float] | np.ndarray, *, n_perm: int = 10_000, seed: int = 0,
                   two_sided: bool = False) -> float:
    """p-value of ``mean(d) > 0`` (or ``!= 0`` with ``two_sided``) by random sign flips of the paired
    differences ``d`` (NaNs dropped). Differences that are all zero give p = 1."""
    d = np.asarray(d, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return float("nan")
    obs = d.mean()
    if not np.any(d):
        return 1.0
    rng = np.random.default_rng(seed)
    hits, done, chunk = 0, 0, max(1, 2_000_000 // d.size)
    while done < n_perm:
        m = min(chunk, n_perm - done)
        signs = rng.integers(0, 2, size=(m, d.size)) * 2 - 1
        m_ = (signs * d).mean(axis=1)
        hits += int((np.abs(m_) >= abs(obs) - 1e-12).sum() if two_sided else (m_ >= obs - 1e-12).sum())
        done += m
    return float((1 + hits) / (1 + n_perm))


def diagonal_tail(matrix: np.ndarray, *, n_perm: int = 20_000, seed: int = 0) -> float:
    """Permutation p-value of the diagonal sum of a square matrix (see the module docstring)."""
    from itertools import permutations

    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or m.shape[0] < 2 or not np.isfinite(m).all():
        raise ConfigError(f"diagonal test: need a finite square matrix of at least 2 labels, got shape {m.shape}")
    n = m.shape[0]
    obs = np.trace(m)
    rows = np.arange(n)
    if n <= 8:
        perms = np.array(list(permutations(range(n))))
    else:
        rng = np.random.default_rng(seed)
        perms = np.vstack([np.arange(n)] + [rng.permutation(n) for _ in range(n_perm)])
    sums = m[rows[None, :], perms].sum(axis=1)
    return float(np.mean(sums >= obs - 1e-9))


def slope(x: Sequence[float], y: Sequence[float]) -> float:
    """Least-squares slope of ``y`` on ``x`` (NaN with fewer than two distinct x)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan")
    xc = x - x.mean()
    return float((xc * (y - y.mean())).sum() / (xc * xc).sum())


def quantile_interval(boots: np.ndarray, alpha: float) -> tuple[float, float]:
    """The percentile interval ``[alpha/2, 1 - alpha/2]`` of bootstrap replicates (NaNs dropped)."""
    b = np.asarray(boots, dtype=float)
    b = b[~np.isnan(b)]
    if b.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(b, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
