"""Comparison and concentration: overlap of neuron sets, Spearman agreement of rankings, and how
concentrated activation mass is over units (METHODS §6 and §9)."""

from __future__ import annotations

from babelscope.analysis.agreement import average_ranks, rank_agreement, spearman
from babelscope.analysis.concentration import (Concentration, ConcentrationResult, concentration,
                                               concentration_store, gini, lorenz, normalized_entropy,
                                               top_share)
from babelscope.analysis.overlap import (Overlap, across_step_matrix, cross_modal_matrix, overlap,
                                         overlap_matrix, sets_per_label)

__all__ = [
    "Concentration", "ConcentrationResult", "Overlap", "across_step_matrix", "average_ranks",
    "concentration", "concentration_store", "cross_modal_matrix", "gini", "lorenz",
    "normalized_entropy", "overlap", "overlap_matrix", "rank_agreement", "sets_per_label",
    "spearman", "top_share",
]
