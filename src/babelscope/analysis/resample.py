"""Bootstrap over sentences, the machinery of the analysis stage's tests (docs/report.md).

Resampling unit: the sentence **group** (a parallel corpus ties the translations and both
modalities of one sentence together by its ``group`` id). One replicate draws the groups with
replacement once and uses the draw for every task, language, modality and step, so speech and text
(and early and late steps) stay paired. A replicate is a vector of per-sample weights: the number
of times the sample's group was drawn.

A resample of the samples never changes the order of the original responses, only their weights,
so the per-unit sort is done once and every replicate's AP is a weighted sum along it
(:func:`weighted_ap`, equal to scikit-learn's ``average_precision_score(..., sample_weight=w)``).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from babelscope.errors import ConfigError

_CELLS = 500_000  # float64 cells of one replicate chunk (cache-sized: faster than larger chunks)


def group_weights(groups: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """``n_boot`` weight vectors over the samples (one per replicate, in chunks [b, n_samples]):
    each sample weighs the number of times its group was drawn."""
    groups = np.asarray(groups)
    uniq, inv = np.unique(groups.astype(str), return_inverse=True)
    if uniq.size < 2:
        raise ConfigError(f"bootstrap over sentence groups needs at least 2 groups, got {uniq.size}")
    rng = np.random.default_rng(seed)
    chunk = max(1, _CELLS // max(uniq.size, groups.size))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        draws = rng.integers(0, uniq.size, size=(b, uniq.size))
        counts = np.zeros((b, uniq.size))
        np.add.at(counts, (np.arange(b)[:, None], draws), 1.0)
        yield counts[:, inv]


class SortedResponses:
    """Responses of m units on n samples [n, m], sorted once per unit for weighted AP."""

    def __init__(self, x: np.ndarray):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 1:
            raise ConfigError(f"responses: expected a [samples, units] matrix, got shape {x.shape}")
        if np.isnan(x).any():
            raise ConfigError("responses: NaN among the responses to resample")
        n, m = x.shape
        self.order = np.argsort(-x, axis=0, kind="stable")
        xs = np.take_along_axis(x, self.order, axis=0)
        end = np.ones((n, m), dtype=bool)
        end[:-1] = xs[:-1] != xs[1:]
        idx = np.where(end, np.arange(n)[:, None], n)
        # for each sorted position, the last position of its run of tied scores
        self.run_end = np.minimum.accumulate(idx[::-1], axis=0)[::-1]
        #: the units with tied responses (the only ones whose precision must be read at run ends)
        self.tied = np.flatnonzero((self.run_end != np.arange(n)[:, None]).any(axis=0))
        self.shape = (n, m)

    def ap(self, y: np.ndarray, w: np.ndarray) -> np.ndarray:
        """AP of every unit for the positives ``y`` [n] under each weight vector of ``w`` [b, n] -> [b, m].

        Tied scores form one threshold, as in scikit-learn: every positive of a run of ties gets the
        precision at the end of the run. NaN where a replicate has no positive."""
        y = np.asarray(y, dtype=bool)
        w = np.atleast_2d(np.asarray(w, dtype=np.float64))
        n, m = self.shape
        if y.shape != (n,) or w.shape[1] != n:
            raise ConfigError(f"weighted AP: y has shape {y.shape} and w {w.shape}, expected ({n},) and (b, {n})")
        out = np.empty((w.shape[0], m))
        step = max(1, _CELLS // (n * m))
        ys = y[self.order]                                  # [n, m]
        for s in range(0, w.shape[0], step):
            ws = w[s:s + step][:, self.order]               # [b, n, m]
            pos = ws * ys
            tp = np.cumsum(pos, axis=1)
            cum = np.cumsum(ws, axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                prec = np.where(cum > 0, tp / cum, 0.0)
            prec_run = prec
            if self.tied.size:
                t = self.tied
                prec_run = prec.copy()
                prec_run[:, :, t] = np.take_along_axis(prec[:, :, t], np.broadcast_to(self.run_end[:, t],
                                                                                     (ws.shape[0], n, t.size)), axis=1)
            total = pos.sum(axis=1)                          # [b, m] (the same for every unit)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[s:s + step] = np.where(total > 0, (pos * prec_run).sum(axis=1) / total, np.nan)
        return out


def ranked_pick(ap: np.ndarray, k: int, mode: str) -> np.ndarray:
    """Column indices chosen by ``mode`` from AP values [b, m] given in (site, unit) order -> [b, k]:
    the order is AP descending with ties kept in (site, unit) order, as :func:`babelscope.rank.select_units`."""
    order = np.argsort(-ap, axis=1, kind="stable")
    if mode == "top":
        return order[:, :k]
    if mode == "bottom":
        return order[:, ap.shape[1] - k:]
    if mode == "both":
        top = k // 2
        return np.concatenate([order[:, :top], order[:, ap.shape[1] - (k - top):]], axis=1)
    raise ConfigError(f"mode={mode!r}: the bootstrap re-selects top, bottom or both sets")


def gini_rows(masses: np.ndarray) -> np.ndarray:
    """Gini coefficient of every row of non-negative masses [b, n] (METHODS §9)."""
    x = np.sort(np.asarray(masses, dtype=np.float64), axis=1)
    n = x.shape[1]
    i = np.arange(1, n + 1, dtype=np.float64)
    total = x.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, ((2 * i - n - 1) * x).sum(axis=1) / (n * total), np.nan)
