"""The metrics of an intervention's outputs, registered once (METHODS §8).

A :class:`Metric` is one per-sample column of an intervention's ``results.parquet`` and everything
derived from it: its per-condition summary (``summary.json`` ``conditions``), its paired effects
between conditions (``effects``, with bootstrap interval and permutation p), the columns of the
report's ``interventions.csv`` and the CLI's summary table. The per-sample value is either one of
:func:`~babelscope.evaluate.summary.score_outputs`'s columns or computed from the scored table by
``compute``.

=================  ======================  ============================================================
column             summary                 meaning
=================  ======================  ============================================================
``is_expected``    ``share_expected``      the output is in the expected (steered-to) language
``expected_prob``  ``mean_expected_prob``  the identifier's probability of the expected language
``is_asked``       ``share_asked``         the output is in the language the sample asked for
``chrf``           ``mean_chrf``           sentence chrF++ against the reference (NaN without one)
=================  ======================  ============================================================

A new metric is one :func:`register_metric` call (docs/architecture.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError


@dataclass(frozen=True)
class Metric:
    """``name``: the per-sample column; ``summary``: its per-condition key (the mean over samples with a
    value; NaN when none has one); ``label`` and ``fmt``: how tables show the summary; ``compute``: the
    column from a scored results table (None: :func:`score_outputs` gives it); ``ci``: the condition
    summary also gets a bootstrap interval (``<summary>_ci95``; the headline metric)."""

    name: str
    summary: str
    label: str
    fmt: str = ".3f"
    compute: Callable[[pd.DataFrame], np.ndarray] | None = None
    ci: bool = False

    def aggregate(self, values: pd.Series) -> float:
        v = pd.to_numeric(values.astype(float), errors="coerce")
        return float(v.mean()) if v.notna().any() else float("nan")


#: name -> metric, in the order of every table
METRICS: dict[str, Metric] = {}


def register_metric(metric: Metric) -> Metric:
    if metric.name in METRICS:
        raise ConfigError(f"metric {metric.name!r} is already registered")
    if metric.ci and any(m.ci for m in METRICS.values()):
        raise ConfigError(f"metric {metric.name!r}: only the headline metric has a per-condition interval")
    METRICS[metric.name] = metric
    return metric


def add_metric_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Add the computed metrics' columns to a scored results table (in place; returned)."""
    for m in METRICS.values():
        if m.compute is not None:
            table[m.name] = m.compute(table)
    return table


register_metric(Metric("is_expected", "share_expected", "share expected", ci=True))
register_metric(Metric("expected_prob", "mean_expected_prob", "P(expected)"))
register_metric(Metric("is_asked", "share_asked", "share asked",
                       compute=lambda t: (t["lid_lang"] == t["tgt_lang"]).to_numpy()))
register_metric(Metric("chrf", "mean_chrf", "chrF", fmt=".1f"))
