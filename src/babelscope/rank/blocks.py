"""Ranking one block of units: what the local loop and every Ray task run (METHODS §4)."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np

from babelscope.errors import ConfigError, LabelError, StoreError
from babelscope.rank.ap import check_labels, rank_block
from babelscope.rank.evidence import SKIPPED
from babelscope.rank.labels import Analysis
from babelscope.rank.source import ActivationSource, SitePlan


def rank_one_block(store: ActivationSource, plan: SitePlan, labels: Any, start: int, stop: int,
                   threads: int | None) -> Any:
    """Rank units ``start:stop`` of one planned site (``labels``: the plan's checked label codes)."""
    block = np.asarray(store.responses(plan.site, plan.view, slice(start, stop)))
    if block.shape != (len(store.samples), stop - start):
        raise StoreError(f"site {plan.site!r} view {plan.view!r} units {start}:{stop}: store "
                         f"returned shape {block.shape}")
    x = block[plan.rows]
    del block
    try:
        return rank_block(x, labels, stats=True, threads=threads)
    except ConfigError as exc:
        raise StoreError(f"site {plan.site!r} view {plan.view!r} units {start}:{stop}: responses "
                         f"marked valid contain NaN ({exc})") from None


def plan_labels(plan: SitePlan, analysis: Analysis) -> Any:
    """The label codes of a planned site's kept rows (a :class:`LabelError` names the site). The trailing
    bucket of skipped labels (:func:`babelscope.rank.evidence.without_labels`) is left out where no kept
    row carries it."""
    labels, names = analysis.labels[plan.keep], analysis.label_names
    if names and names[-1] == SKIPPED and not (labels == len(names) - 1).any():
        names = names[:-1]
    try:
        return check_labels(labels, len(names), names)
    except LabelError as exc:
        raise LabelError(f"site {plan.site!r} view {plan.view!r} (after dropping "
                         f"{plan.n_dropped} missing rows): {exc}") from None


def rank_site_blocks(store: ActivationSource, plan: SitePlan, analysis: Analysis, block_units: int,
                     threads: int | None) -> Iterator[tuple[int, Any]]:
    """``(start, result)`` of every block of ``block_units`` units of one planned site, in order."""
    labels = plan_labels(plan, analysis)
    for start in range(0, plan.n_units, block_units):
        yield start, rank_one_block(store, plan, labels, start, min(start + block_units, plan.n_units), threads)
