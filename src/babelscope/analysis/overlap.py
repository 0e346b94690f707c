"""Overlap of neuron sets and overlap matrices (METHODS §6).

For sets A and B: ``count = |A & B|`` (what the paper plots), Jaccard ``|A & B| / |A | B|``, overlap
coefficient ``|A & B| / min(|A|, |B|)``, and the chance level ``|A| |B| / U``: the expected
intersection of two random sets of those sizes drawn from the same U candidate units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from babelscope.errors import ConfigError
from babelscope.rank.expertise import Expertise
from babelscope.rank.select import NeuronSet, select_units

UnitIds = Iterable[tuple[str, int]]
METRICS = ("count", "jaccard", "overlap_coef")


@dataclass(frozen=True)
class Overlap:
    """Overlap statistics of two sets of units."""

    count: int
    size_a: int
    size_b: int
    jaccard: float
    overlap_coef: float
    universe: int | None
    chance: float | None

    def get(self, metric: str) -> float:
        if metric not in METRICS:
            raise ConfigError(f"metric={metric!r} is not one of {list(METRICS)}")
        return float(getattr(self, metric))


def _ids(s: NeuronSet | UnitIds) -> frozenset[tuple[str, int]]:
    if isinstance(s, NeuronSet):
        return s.ids
    return frozenset((str(a), int(b)) for a, b in s)


def _universe(a: Any, b: Any, universe: int | None) -> int | None:
    if universe is not None:
        return int(universe)
    if isinstance(a, NeuronSet) and isinstance(b, NeuronSet) and a.n_candidates == b.n_candidates:
        return a.n_candidates
    return None


def overlap(a: NeuronSet | UnitIds, b: NeuronSet | UnitIds, universe: int | None = None) -> Overlap:
    """Overlap of two sets. ``universe`` (U) defaults to the sets' common candidate count, if any."""
    sa, sb = _ids(a), _ids(b)
    inter = len(sa & sb)
    union = len(sa | sb)
    u = _universe(a, b, universe)
    chance = len(sa) * len(sb) / u if u else None
    return Overlap(count=inter, size_a=len(sa), size_b=len(sb),
                   jaccard=inter / union if union else float("nan"),
                   overlap_coef=inter / min(len(sa), len(sb)) if sa and sb else float("nan"),
                   universe=u, chance=chance)


def overlap_matrix(sets_a: Mapping[str, NeuronSet | UnitIds], sets_b: Mapping[str, NeuronSet | UnitIds],
                   metric: str = "count", universe: int | None = None) -> pd.DataFrame:
    """Matrix of ``metric`` for every pair (rows: keys of ``sets_a``, columns: keys of ``sets_b``)."""
    if metric not in METRICS:
        raise ConfigError(f"metric={metric!r} is not one of {list(METRICS)}")
    data = [[overlap(a, b, universe).get(metric) for b in sets_b.values()] for a in sets_a.values()]
    df = pd.DataFrame(data, index=pd.Index(list(sets_a), name="a"), columns=pd.Index(list(sets_b), name="b"))
    return df.astype(int) if metric == "count" else df


def sets_per_label(exp: Expertise, labels: Sequence[str] | None = None, **select: Any) -> dict[str, NeuronSet]:
    """One neuron set per label of an expertise table (``select`` goes to :func:`select_units`)."""
    labels = list(labels) if labels is not None else exp.labels
    return {lab: select_units(exp, lab, **select) for lab in labels}


def cross_modal_matrix(speech: Expertise, text: Expertise, *, k: int, mode: str = "both",
                       component: str = "text_decoder", labels: Sequence[str] | None = None,
                       metric: str = "count", seed: int = 0) -> pd.DataFrame:
    """Overlap of every speech-derived set (rows) with every text-derived set (columns).

    Both tables must come from the same view (step); labels default to those both tables share,
    so the diagonal is same-language alignment.
    """
    if speech.meta.get("view") != text.meta.get("view"):
        raise ConfigError(f"cross-modal matrix needs one view; got view={speech.meta.get('view')!r} "
                          f"and view={text.meta.get('view')!r}")
    if labels is None:
        labels = [lab for lab in speech.labels if lab in set(text.labels)]
        if not labels:
            raise ConfigError("the two expertise tables share no label")
    opts = dict(k=k, mode=mode, component=component, seed=seed)
    return overlap_matrix(sets_per_label(speech, labels, **opts), sets_per_label(text, labels, **opts),
                          metric)


def across_step_matrix(tables: Mapping[str, Expertise], label: str, *, k: int, mode: str = "both",
                       component: str = "text_decoder", metric: str = "count",
                       seed: int = 0) -> pd.DataFrame:
    """Overlap of one label's sets across tables (e.g. steps), keyed by the mapping's keys."""
    sets = {key: select_units(exp, label, k=k, mode=mode, component=component, seed=seed)
            for key, exp in tables.items()}
    return overlap_matrix(sets, sets, metric)
