"""Guards on thin evidence: a label with too few positives or negatives is not ranked.

AP with one positive among fourteen samples is 1.0 for one unit in fourteen by chance alone; with
10⁵ units a thin label fills the top of every table with noise. Before ranking, each label's
positives and negatives among the samples that have a response at the ranked view are counted (the
smallest count over the view's sites); a label below ``min_positives`` or ``min_negatives`` is
skipped with an :class:`EvidenceWarning` naming its counts (or, with ``strict``, refused with a
:class:`~babelscope.errors.LabelError`). Its samples stay in the ranking as negatives of the other
labels — one-vs-rest against everything else, as before — and its rows are left out of the table;
the expertise metadata lists it under ``skipped_labels``.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Sequence

import numpy as np

from babelscope.errors import BabelscopeWarning, LabelError
from babelscope.rank.labels import Analysis
from babelscope.rank.source import SitePlan

#: the code every skipped label's samples share while ranking (never written to a table)
SKIPPED = "(skipped labels)"


class EvidenceWarning(BabelscopeWarning):
    """A label was left out of a ranking because it has too few positives or negatives."""


def label_counts(analysis: Analysis, plans: Sequence[SitePlan], view: str) -> dict[str, tuple[int, int]]:
    """``label -> (positives, negatives)`` among the kept rows of the view's sites (the smallest over them)."""
    main = [p for p in plans if p.view == view] or list(plans)
    out = {}
    for i, name in enumerate(analysis.label_names):
        pos = [int((analysis.labels[p.keep] == i).sum()) for p in main]
        neg = [int(p.keep.sum()) - c for p, c in zip(main, pos)]
        out[name] = (min(pos), min(neg))
    return out


def thin_labels(analysis: Analysis, counts: dict[str, tuple[int, int]], view: str, *, min_positives: int,
                min_negatives: int, strict: bool = False) -> dict[str, str]:
    """``label -> why it is skipped`` for the labels whose ``counts`` (:func:`label_counts`) are below the
    minimums (warned, or refused when ``strict``)."""
    if min_positives < 1 or min_negatives < 1:
        raise LabelError(f"min_positives and min_negatives must be at least 1, got {min_positives} and {min_negatives}")
    why = {}
    for name, (pos, neg) in counts.items():
        if pos < min_positives or neg < min_negatives:
            why[name] = (f"{pos} positive{'s' if pos != 1 else ''} and {neg} negative{'s' if neg != 1 else ''} at "
                         f"{view} (minimum {min_positives} and {min_negatives})")
    if not why:
        return why
    listing = "; ".join(f"{k}: {v}" for k, v in why.items())
    if strict or len(why) == len(analysis.label_names):
        head = "no label of" if len(why) == len(analysis.label_names) else "labels below the minimum in"
        raise LabelError(f"{head} analysis {analysis.key!r}: {listing}; record more samples (or steps that most "
                         "outputs reach), or lower min_positives / min_negatives knowingly")
    warnings.warn(f"rank {analysis.key}: skipped label(s) {listing}", EvidenceWarning, stacklevel=3)
    return why


def without_labels(analysis: Analysis, skipped: Sequence[str]) -> Analysis:
    """The analysis ranked for the kept labels only: the skipped labels' samples share one trailing code
    (:data:`SKIPPED`), ranked but never written, so they stay negatives of every kept label."""
    if not skipped:
        return analysis
    keep = [n for n in analysis.label_names if n not in set(skipped)]
    new = {n: i for i, n in enumerate(keep)}
    codes = np.array([new.get(n, len(keep)) for n in analysis.label_names], dtype=np.int64)[analysis.labels]
    names = tuple(keep) + ((SKIPPED,) if (codes == len(keep)).any() else ())
    return replace(analysis, labels=codes, label_names=names)
