"""Rank agreement: Spearman's rho between the AP vectors of two analyses (METHODS §6).

Spearman's rho is Pearson's correlation of the average ranks (ties share the mean of the ranks
they span), which is what ``scipy.stats.spearmanr`` computes. In the ``component`` and ``layer``
scopes the decoder's cross-attention key/value projections (encoder-stream units) count as their
own component, ``decoder_kv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError
from babelscope.vocab.sites import is_kv_site
from babelscope.rank.expertise import Expertise

SCOPES = ("global", "component", "layer", "site")


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x`` with ties given their average rank (float64)."""
    x = np.asarray(x)
    n = x.size
    if x.ndim != 1:
        raise ConfigError(f"ranks need a 1-D vector, got shape {x.shape}")
    if n == 0:
        return np.empty(0)
    if x.dtype.kind == "f" and np.isnan(x).any():
        raise ConfigError("cannot rank a vector with NaN values")
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(xs[1:], xs[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ends = np.append(starts[1:], n)
    run = np.cumsum(new) - 1
    ranks = np.empty(n)
    ranks[order] = ((starts + ends + 1) / 2.0)[run]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho of two equal-length vectors (NaN when either is constant or n < 2)."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape:
        raise ConfigError(f"spearman needs equal shapes, got {x.shape} and {y.shape}")
    if x.size < 2:
        return float("nan")
    rx, ry = average_ranks(x), average_ranks(y)
    dx, dy = rx - rx.mean(), ry - ry.mean()
    den = np.sqrt((dx * dx).sum() * (dy * dy).sum())
    return float((dx * dy).sum() / den) if den > 0 else float("nan")


def _label_rows(table: pd.DataFrame, label: str, which: str) -> pd.DataFrame:
    labels = table["label"].astype(str)
    if not (labels == label).any():
        raise ConfigError(f"label_{which}={label!r} is not in table {which} "
                          f"(labels: {sorted(labels.unique().tolist())})")
    rows = table[(labels == label).to_numpy()][["site", "unit", "component", "layer", "ap"]]
    rows = rows.assign(site=rows["site"].astype(str), component=rows["component"].astype(str))
    # the decoder's cross-attention K/V projections (encoder stream) are their own component scope
    kv = (rows["component"] == "text_decoder") & rows["site"].isin([s for s in rows["site"].unique() if is_kv_site(s)])
    return rows.assign(component=rows["component"].where(~kv, "decoder_kv"))


def rank_agreement(a: Expertise | pd.DataFrame, b: Expertise | pd.DataFrame, *, label_a: str,
                   label_b: str | None = None, by: str = "global") -> pd.DataFrame:
    """Spearman's rho between AP vectors of ``label_a`` in ``a`` and ``label_b`` in ``b``.

    Units are matched on (site, unit); ``by`` is ``global``, ``component``, ``layer`` (per component
    and layer) or ``site``. Returns one row per scope: ``scope``, ``n_units``, ``rho``.
    """
    if by not in SCOPES:
        raise ConfigError(f"by={by!r} is not one of {list(SCOPES)}")
    ta = a.table if isinstance(a, Expertise) else a
    tb = b.table if isinstance(b, Expertise) else b
    if ta is None or tb is None:
        raise ConfigError("expertise table was streamed to disk; load it with read_expertise")
    ra = _label_rows(ta, label_a, "a")
    rb = _label_rows(tb, label_b or label_a, "b")
    m = ra.merge(rb[["site", "unit", "ap"]], on=["site", "unit"], suffixes=("_a", "_b"))
    if m.empty:
        raise ConfigError("the two expertise tables share no (site, unit)")
    cols = {"global": [], "component": ["component"], "layer": ["component", "layer"],
            "site": ["site"]}[by]
    groups = [((), m)] if not cols else list(m.groupby(cols, sort=True))
    out = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        out.append({"scope": ":".join(map(str, key)) or "all", "n_units": len(g),
                    "rho": spearman(g["ap_a"].to_numpy(), g["ap_b"].to_numpy())})
    return pd.DataFrame(out, columns=["scope", "n_units", "rho"])
