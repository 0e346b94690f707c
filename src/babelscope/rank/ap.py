"""Exact average precision of every unit for every label, from one sort per unit (METHODS §4).

For unit u and label L, scikit-learn's ``average_precision_score(labels == L, scores[:, u])`` is

    AP = sum over distinct thresholds t (high to low) of (R(t) - R(t_prev)) * P(t),

with tied scores forming one threshold. Every positive sample with score s adds 1/P_L times the
precision at threshold s, so

    AP = (1 / P_L) * sum over positives i of  #{positives with score >= s_i} / #{samples with score >= s_i}.

After sorting a unit's responses ascending, ``#{samples >= s}`` is ``n - first`` where ``first`` is
the first position of the tie run holding s, and for the k-th positive of label L (in ascending
order) ``#{positives >= s}`` is ``P_L - k'``, where k' is the first positive of L in the same tie run.
Both come from the one sort; labels are read off in sorted order once, and each label's positives
are located with one vectorised ``flatnonzero`` over the whole block. Nothing loops over units.

The forcing statistics (``on_p50``, ``on_p90`` over a label's positives, ``off_p50`` and
``off_mean`` over its negatives) reuse the same sorted order: percentiles need only the values at
two positions, found by counting (numpy's ``linear`` method, reproduced exactly in float64).
``off_mean`` adds up the other labels' sums (one pass over the block for all labels), never
``total - positives``: that difference is NaN when a positive is inf and cancels the negatives away
next to a huge positive (e.g. 1e30 beside values near 1).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from babelscope.errors import ConfigError, LabelError
from babelscope.rank import _keys

#: names of the forcing statistics, in table order
STAT_NAMES = ("on_p50", "on_p90", "off_p50", "off_mean")

#: bytes of temporaries per (sample, unit) in a block; sets the automatic chunk size
_BYTES_PER_CELL = 48
_DEFAULT_CHUNK_BYTES = 1 << 28


@dataclass(frozen=True)
class LabelCodes:
    """Validated integer labels: ``codes`` (samples,) in ``[0, n_labels)`` and ``counts`` per label."""

    codes: np.ndarray
    counts: np.ndarray
    names: tuple[str, ...]

    @property
    def n_labels(self) -> int:
        return len(self.counts)

    @property
    def n_samples(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class BlockResult:
    """AP and forcing statistics of a block of units: each array has shape (n_labels, units)."""

    ap: np.ndarray
    on_p50: np.ndarray | None = None
    on_p90: np.ndarray | None = None
    off_p50: np.ndarray | None = None
    off_mean: np.ndarray | None = None


def check_labels(labels: np.ndarray, n_labels: int | None = None,
                 names: tuple[str, ...] | list[str] | None = None) -> LabelCodes:
    """Validate labels for one-vs-rest ranking; every label needs a positive and a negative.

    Raises :class:`LabelError` naming the offending label (by name when ``names`` is given).
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise LabelError(f"labels must be one-dimensional (one per sample), got shape {lab.shape}")
    if lab.size == 0:
        raise LabelError("labels are empty: no sample to rank")
    if lab.dtype.kind == "b":
        lab = lab.astype(np.int64)
    if lab.dtype.kind not in "iu":
        raise LabelError(f"labels must be integers in [0, n_labels), got dtype {lab.dtype}")
    lo, hi = int(lab.min()), int(lab.max())
    if n_labels is None:
        n_labels = hi + 1
    if n_labels < 1:
        raise LabelError(f"n_labels must be >= 1, got {n_labels}")
    if lo < 0 or hi >= n_labels:
        bad = lo if lo < 0 else hi
        raise LabelError(f"label {bad} is outside [0, n_labels={n_labels})")
    if names is not None and len(names) != n_labels:
        raise LabelError(f"{len(names)} label names given for n_labels={n_labels}")
    label_names = tuple(str(s) for s in names) if names is not None else tuple(
        str(i) for i in range(n_labels))
    counts = np.bincount(lab, minlength=n_labels)
    n = lab.size
    for i, c in enumerate(counts):
        if c == 0:
            raise LabelError(f"label {label_names[i]!r} has no positive sample among the {n} samples")
        if c == n:
            raise LabelError(f"label {label_names[i]!r} has no negative sample: all {n} samples carry it")
    return LabelCodes(lab.astype(np.int64, copy=False), counts, label_names)


def _check_scores(scores: np.ndarray, n_samples: int) -> np.ndarray:
    x = np.asarray(scores)
    if x.ndim != 2:
        raise ConfigError(f"scores must have shape (samples, units), got shape {x.shape}")
    if x.shape[0] != n_samples:
        raise ConfigError(f"scores have {x.shape[0]} samples (rows) but labels have {n_samples}")
    if x.dtype.kind not in "fiub":
        raise ConfigError(f"scores must be numeric, got dtype {x.dtype}")
    if x.dtype.kind != "f" or x.dtype.itemsize > 8:
        x = x.astype(np.float64)
    return x


def _as_keyable(x: np.ndarray, lbits: int) -> np.ndarray:
    """float64 columns that hold float32 values exactly are sorted through the fast key path."""
    if x.dtype == np.float64 and lbits <= 32:
        x32 = x.astype(np.float32)
        if np.array_equal(x32, x, equal_nan=True):
            return x32
    return x


def _sort_block(x: np.ndarray, lab: LabelCodes, offset: int = 0) -> _keys.SortedBlock:
    lbits = _keys.label_bits(lab.n_labels)
    x = _as_keyable(x, lbits)
    if _keys.can_key(x.dtype, lbits):
        block, nan_cols = _keys.sorted_by_keys(x, lab.codes, lbits)
    else:
        block, nan_cols = _keys.sorted_by_argsort(x, lab.codes, lbits)
    if nan_cols.size:
        raise ConfigError(
            f"scores contain NaN in {nan_cols.size} unit(s) (first: column {offset + int(nan_cols[0])}); "
            "drop the rows of missing responses before ranking")
    return block


def _lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """numpy's percentile interpolation, term for term."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


def _interp_points(count: int, q: float) -> tuple[int, int, float]:
    """(previous index, next index, gamma) of numpy's ``linear`` percentile of ``count`` values."""
    virtual = (count - 1) * (q / 100)
    prev = float(np.floor(virtual))
    if virtual >= count - 1:
        return count - 1, count - 1, virtual - prev
    return int(prev), int(prev) + 1, virtual - prev


def _run_first(new_run: np.ndarray) -> np.ndarray:
    """First position of the tie run holding each position (int32, same shape)."""
    first = np.where(new_run, np.arange(new_run.shape[1], dtype=np.int32), np.int32(0))
    np.maximum.accumulate(first, axis=1, out=first)
    return first


def _ap_sum(pos: np.ndarray, m: int, recip: np.ndarray, first: np.ndarray | None) -> np.ndarray:
    """AP of one label for the units (rows) of ``pos``, the ascending positions of its positives.

    Each positive adds ``#{positives >= s} / #{samples >= s}``; ``recip[j] = 1 / (n - j)``. With
    ``first`` (tie runs present), positions move to the start of their run and the positive counts
    to the first positive of the same run; on a column without ties both are the identity, so the
    two forms give the same bits.
    """
    k = np.arange(m)
    if first is None:
        return ((m - k) * recip[pos]).sum(axis=1) / m
    fp = np.take_along_axis(first, pos, axis=1)
    new = np.ones(fp.shape, dtype=bool)
    np.not_equal(fp[:, 1:], fp[:, :-1], out=new[:, 1:])
    kfirst = np.where(new, k, 0)
    np.maximum.accumulate(kfirst, axis=1, out=kfirst)
    return ((m - kfirst) * recip[fp]).sum(axis=1) / m


def _block_core(x: np.ndarray, lab: LabelCodes, stats: bool, offset: int = 0) -> BlockResult:
    """Rank the columns of ``x``; ``offset`` is the index of its first column (for messages)."""
    n, units = x.shape
    block = _sort_block(x, lab, offset)
    tied = ~block.new_run.all(axis=1)  # units whose responses contain ties
    n_tied = int(tied.sum())
    # mostly tied (e.g. float16): one pass with runs for all; else runs only where needed
    first_all = _run_first(block.new_run) if n_tied > units // 2 else None
    tied_idx = np.flatnonzero(tied) if first_all is None and n_tied else None
    first_tied = _run_first(block.new_run[tied_idx]) if tied_idx is not None else None
    recip = 1.0 / (n - np.arange(n, dtype=np.float64))
    row_off = (np.arange(units, dtype=np.int64) * n)[:, None]
    L = lab.n_labels
    ap = np.empty((L, units))
    out = {k: np.empty((L, units)) for k in STAT_NAMES} if stats else {}
    if stats:
        xt64 = _keys.transpose(x).astype(np.float64)
        label_sum = np.stack([xt64[:, lab.codes == l].sum(axis=1) for l in range(L)])
    for l in range(L):
        m = int(lab.counts[l])
        pos = np.flatnonzero(block.labels == l).reshape(units, m) - row_off
        ap[l] = _ap_sum(pos, m, recip, first_all)
        if tied_idx is not None:
            ap[l, tied_idx] = _ap_sum(pos[tied_idx], m, recip, first_tied)
        if stats:
            _label_stats(block, pos, n, m, out, l)
            neg_sum = label_sum[:l].sum(axis=0) + label_sum[l + 1:].sum(axis=0)
            out["off_mean"][l] = neg_sum / (n - m)
    return BlockResult(ap, **out)


def _label_stats(block: _keys.SortedBlock, pos: np.ndarray, n: int, m: int,
                 out: dict[str, np.ndarray], l: int) -> None:
    """on_p50/on_p90 over the positives at ``pos``; off_p50 over the rest (ascending positions)."""
    for name, q in (("on_p50", 50.0), ("on_p90", 90.0)):
        i0, i1, g = _interp_points(m, q)
        v = block.values_at(pos[:, [i0, i1]])
        out[name][l] = _lerp(v[:, 0], v[:, 1], g)
    # the r-th negative (ascending) sits at r + #{positives k with pos_k - k <= r}
    i0, i1, g = _interp_points(n - m, 50.0)
    neg_before = pos - np.arange(m)
    cols = np.stack([r + (neg_before <= r).sum(axis=1) for r in (i0, i1)], axis=1)
    v = block.values_at(cols)
    out["off_p50"][l] = _lerp(v[:, 0], v[:, 1], g)


def _chunks(units: int, n: int, chunk_units: int | None, threads: int) -> list[slice]:
    if chunk_units is None:
        chunk_units = max(16, _DEFAULT_CHUNK_BYTES // (_BYTES_PER_CELL * max(n, 1) * threads))
    if threads > 1:  # give every thread work even for small blocks
        chunk_units = min(chunk_units, max(16, -(-units // threads)))
    return [slice(s, min(s + chunk_units, units)) for s in range(0, units, chunk_units)]


def default_threads() -> int:
    """Worker threads for ranking: ``BABELSCOPE_THREADS`` or the CPU count (at most 8)."""
    env = os.environ.get("BABELSCOPE_THREADS")
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ConfigError(f"BABELSCOPE_THREADS must be an integer, got {env!r}") from None
        if value < 1:
            raise ConfigError(f"BABELSCOPE_THREADS must be >= 1, got {value}")
        return value
    return max(1, min(8, os.cpu_count() or 1))


def rank_block(scores: np.ndarray, labels: LabelCodes, *, stats: bool = True,
               chunk_units: int | None = None, threads: int | None = None) -> BlockResult:
    """AP (and forcing statistics when ``stats``) of every unit of ``scores`` for every label.

    ``scores`` is (samples, units) without NaN; ``labels`` come from :func:`check_labels`. Units are
    processed in chunks of ``chunk_units`` (automatic: about 256 MB of temporaries), spread over
    ``threads`` threads (NumPy releases the GIL in sorting and array arithmetic). Every unit's result
    depends on that unit's column only, so chunking and threading never change a bit of the output.
    """
    x = _check_scores(scores, labels.n_samples)
    threads = default_threads() if threads is None else max(1, int(threads))
    units = x.shape[1]
    parts = _chunks(units, x.shape[0], chunk_units, threads)
    if not parts:
        empty = np.empty((labels.n_labels, 0))
        return BlockResult(empty, *(empty.copy() for _ in STAT_NAMES)) if stats else BlockResult(empty)
    if threads > 1 and len(parts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(lambda s: _block_core(x[:, s], labels, stats, s.start), parts))
    else:
        results = [_block_core(x[:, s], labels, stats, s.start) for s in parts]
    if len(results) == 1:
        return results[0]
    fields = ("ap",) + (STAT_NAMES if stats else ())
    return BlockResult(**{f: np.concatenate([getattr(r, f) for r in results], axis=1) for f in fields})


def average_precision(scores: np.ndarray, labels: np.ndarray, n_labels: int | None = None, *,
                      label_names: list[str] | tuple[str, ...] | None = None,
                      threads: int | None = None) -> np.ndarray:
    """AP of every unit for every label, one label against the rest (METHODS §4).

    Parameters
    ----------
    scores:
        (samples, units) responses, any float dtype (float16 included) or integers. No NaN: drop the
        rows of missing responses first.
    labels:
        (samples,) integer labels in ``[0, n_labels)``.
    n_labels:
        Number of labels; default ``labels.max() + 1``. Every label needs at least one positive and
        one negative sample, else :class:`~babelscope.errors.LabelError` names it.
    label_names:
        Optional names used in error messages.
    threads:
        Worker threads (default :func:`default_threads`).

    Returns
    -------
    numpy.ndarray
        float64 array (n_labels, units), equal to scikit-learn's ``average_precision_score(labels ==
        L, scores[:, u])`` for every label L and unit u, ties included.
    """
    lab = check_labels(labels, n_labels, label_names)
    return rank_block(scores, lab, stats=False, threads=threads).ap


def forcing_stats(scores: np.ndarray, labels: np.ndarray, n_labels: int | None = None, *,
                  threads: int | None = None) -> dict[str, np.ndarray]:
    """Forcing statistics of every unit for every label: a dict of (n_labels, units) float64 arrays.

    ``on_p50``/``on_p90``: percentiles of the unit's responses over the label's positives (numpy's
    ``linear`` interpolation); ``off_p50``: median over the negatives; ``off_mean``: mean over the
    negatives. Also includes ``ap``.
    """
    lab = check_labels(labels, n_labels)
    res = rank_block(scores, lab, stats=True, threads=threads)
    return {"ap": res.ap, **{k: getattr(res, k) for k in STAT_NAMES}}
