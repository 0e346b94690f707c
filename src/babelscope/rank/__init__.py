"""Ranking: exact AP for all labels, forcing statistics, expertise tables, neuron-set selection.

The public API::

    average_precision(scores, labels, n_labels=None) -> (n_labels, units) float64
    forcing_stats(scores, labels, n_labels=None) -> {"ap", "on_p50", "on_p90", "off_p50", "off_mean"}
    build_analysis(samples, analysis, modality=..., family=..., task=...) -> Analysis
    rank_store(store, analysis, view=..., patterns=..., block_units=..., out=...) -> Expertise
    read_expertise(path) -> Expertise
    select_units(expertise, label, k=..., mode=..., component=..., seed=...) -> NeuronSet
    save_neuron_set(ns, path) / load_neuron_set(path)
"""

from __future__ import annotations

from babelscope.rank.ap import STAT_NAMES, average_precision, check_labels, forcing_stats, rank_block
from babelscope.rank.expertise import Expertise, rank_store, read_expertise, write_expertise
from babelscope.rank.labels import ANALYSES, Analysis, analysis_from_labels, build_analysis
from babelscope.rank.memstore import ArrayStore, SyntheticStore
from babelscope.rank.select import (MODES, NeuronSet, SetUnit, load_neuron_set,
                                    neuron_set_from_json, save_neuron_set, select_units)
from babelscope.rank.source import ActivationSource
from babelscope.vocab.components import SET_COMPONENTS

__all__ = [
    "ANALYSES", "MODES", "SET_COMPONENTS", "STAT_NAMES", "ActivationSource", "Analysis", "ArrayStore",
    "Expertise", "NeuronSet", "SetUnit", "SyntheticStore", "analysis_from_labels", "average_precision",
    "build_analysis", "check_labels", "forcing_stats", "load_neuron_set", "neuron_set_from_json",
    "rank_block", "rank_store", "read_expertise", "save_neuron_set", "select_units", "write_expertise",
]

from babelscope.stage_module import make_stage_callable  # noqa: E402

make_stage_callable(__name__, "babelscope.api:rank")  # babelscope.rank(...) is babelscope.api.rank(...)
