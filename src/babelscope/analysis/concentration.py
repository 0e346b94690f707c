"""Concentration of activation mass over units (METHODS §9).

For a group of samples (e.g. one task, source language and modality) and a scope of units (a
component, a layer, a site), each unit's mass is its mean absolute response over the group's
samples. Over the n units of the scope, with masses x sorted ascending:

* Gini ``G = sum_i (2i - n - 1) x_i / (n sum_i x_i)`` (i = 1..n);
* top-1% share: mass of the ``max(1, ceil(0.01 n))`` largest units over the total;
* normalised entropy ``H / log n`` of ``p = x / sum x`` (``0 log 0 = 0``; NaN for n = 1);
* the Lorenz curve: cumulative share of mass against cumulative share of units, from (0, 0).

These three measures are babelscope's own (the paper does not publish its exact measure).

:func:`concentration_store` computes the masses in one pass over the store's unit blocks,
accumulating ``sum |x|`` per unit for every group at once; only the per-unit masses are kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError
from babelscope.vocab.sites import Site, is_kv_site
from babelscope.rank.progress import progress_bar
from babelscope.rank.source import ActivationSource, match_sites, view_for

SCOPES = ("all", "component", "layer", "site")


@dataclass(frozen=True)
class Concentration:
    """Concentration measures of one mass vector."""

    n_units: int
    total: float
    gini: float
    top1_share: float
    entropy: float


def _masses(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        raise ConfigError("concentration needs at least one unit")
    if np.isnan(x).any() or (x < 0).any():
        raise ConfigError("concentration needs non-negative masses without NaN")
    return x


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative masses (NaN if they sum to zero)."""
    x = np.sort(_masses(x))
    n, total = x.size, x.sum()
    if total <= 0:
        return float("nan")
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def top_share(x: np.ndarray, share: float = 0.01) -> float:
    """Share of the total mass held by the ``max(1, ceil(share * n))`` largest units."""
    x = _masses(x)
    total = x.sum()
    if total <= 0:
        return float("nan")
    k = max(1, math.ceil(share * x.size))
    return float(np.sort(x)[x.size - k:].sum() / total)


def normalized_entropy(x: np.ndarray) -> float:
    """Entropy of the mass distribution over units divided by ``log n`` (1 = uniform)."""
    x = _masses(x)
    total = x.sum()
    if total <= 0 or x.size < 2:
        return float("nan")
    p = x[x > 0] / total
    return float(-(p * np.log(p)).sum() / math.log(x.size))


def lorenz(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve points (share of units, share of mass), starting at (0, 0), ascending masses."""
    x = np.sort(_masses(x))
    total = x.sum()
    units = np.arange(x.size + 1) / x.size
    mass = np.concatenate([[0.0], np.cumsum(x) / total]) if total > 0 else np.full(x.size + 1, np.nan)
    return units, mass


def concentration(x: np.ndarray) -> Concentration:
    """All measures of one mass vector."""
    x = _masses(x)
    return Concentration(int(x.size), float(x.sum()), gini(x), top_share(x), normalized_entropy(x))


@dataclass
class ConcentrationResult:
    """A table of measures per (group, scope) and the mass vectors behind them (for Lorenz plots)."""

    table: pd.DataFrame
    masses: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def lorenz(self, group: str, scope: str) -> tuple[np.ndarray, np.ndarray]:
        if (group, scope) not in self.masses:
            raise ConfigError(f"no masses for group {group!r} and scope {scope!r}")
        return lorenz(self.masses[(group, scope)])


def _scope_key(scope: str, info: Site) -> str:
    """The scope a site's units count in. The decoder's cross-attention key/value projections are
    encoder-stream units (one value per input, METHODS §5): they form their own component
    ``decoder_kv``, so ``text_decoder`` holds the decoder stream only."""
    if scope == "all":
        return "all"
    comp = info.component
    if comp == "text_decoder" and is_kv_site(info.name):
        comp = "decoder_kv"
    if scope == "component":
        return comp
    if scope == "layer":
        return f"{comp}:{info.layer}"
    return info.name


def _groups(samples: pd.DataFrame, group_by: Sequence[str],
            tasks: Sequence[str] | None) -> dict[str, np.ndarray]:
    missing = [c for c in group_by if c not in samples.columns]
    if missing:
        raise ConfigError(f"group_by column(s) {missing} not in the samples table")
    keep = np.ones(len(samples), bool) if not tasks else samples["task"].isin(list(tasks)).to_numpy()
    if not keep.any():
        raise ConfigError(f"tasks={list(tasks or [])} select no sample")
    sub = samples[keep]
    keys = sub[list(group_by)].astype(str).agg("/".join, axis=1) if group_by else \
        pd.Series("all", index=sub.index)
    idx = np.flatnonzero(keep)
    return {str(k): idx[(keys == k).to_numpy()] for k in sorted(keys.unique())}


def concentration_store(store: ActivationSource, *, view: str, scope: str = "component",
                        group_by: Sequence[str] = ("task", "src_lang", "modality"),
                        tasks: Sequence[str] | None = None, patterns: Sequence[str] | None = None,
                        components: Sequence[str] | None = None, block_units: int = 4096,
                        encoder_fallback: bool = True, progress: bool = True) -> ConcentrationResult:
    """Concentration per group of samples and scope of units, streamed from a store at one view.

    A unit enters a group's mass vector only if the group has at least one valid response at the
    unit's site (e.g. speech samples never enter a text-encoder site); missing rows are skipped.
    """
    if scope not in SCOPES:
        raise ConfigError(f"scope={scope!r} is not one of {list(SCOPES)}")
    if block_units < 1:
        raise ConfigError(f"block_units must be >= 1, got {block_units}")
    groups = _groups(store.samples, group_by, tasks)
    sites = [(s, v) for s in match_sites(store, patterns, components)
             if (v := view_for(store, s, view, encoder_fallback)) is not None]
    if not sites:
        raise ConfigError(f"no selected site has view {view!r}")
    parts: dict[tuple[str, str], list[np.ndarray]] = {}
    n_used: dict[tuple[str, str], int] = {}
    with progress_bar(progress, "concentration") as prog:
        task = prog.add_task(view, total=sum(store.n_units(s) for s, _ in sites))
        for site, v in sites:
            valid = np.asarray(store.valid(site, v), dtype=bool)
            rows = {g: r[valid[r]] for g, r in groups.items()}
            rows = {g: r for g, r in rows.items() if r.size}
            n = store.n_units(site)
            sums = {g: np.zeros(n) for g in rows}
            for start in range(0, n, block_units):
                stop = min(start + block_units, n)
                block = np.asarray(store.responses(site, v, slice(start, stop)))
                for g, r in rows.items():
                    sums[g][start:stop] = np.abs(block[r].astype(np.float64)).sum(axis=0)
                prog.advance(task, stop - start)
            key = _scope_key(scope, store.site(site))
            for g, r in rows.items():
                parts.setdefault((g, key), []).append(sums[g] / r.size)
                n_used[(g, key)] = max(n_used.get((g, key), 0), int(r.size))
    out, masses = [], {}
    for (g, key), arrs in sorted(parts.items()):
        x = np.concatenate(arrs)
        if np.isnan(x).any():
            raise ConfigError(f"responses marked valid contain NaN (group {g!r}, scope {key!r})")
        masses[(g, key)] = x
        c = concentration(x)
        out.append({"group": g, "scope": key, "n_samples": n_used[(g, key)], "n_units": c.n_units,
                    "gini": c.gini, "top1_share": c.top1_share, "entropy": c.entropy})
    table = pd.DataFrame(out, columns=["group", "scope", "n_samples", "n_units", "gini",
                                       "top1_share", "entropy"])
    meta = {"view": view, "scope": scope, "group_by": list(group_by), "tasks": list(tasks or []),
            "measures": {"gini": "sum_i (2i-n-1) x_i / (n sum x), x ascending",
                         "top1_share": "mass share of the ceil(1%) largest units (at least 1)",
                         "entropy": "H(x / sum x) / log n"}}
    return ConcentrationResult(table, masses, meta)
