"""Overlap statistics and matrices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from babelscope.analysis import across_step_matrix, cross_modal_matrix, overlap, overlap_matrix
from babelscope.errors import ConfigError
from babelscope.rank import Expertise, NeuronSet, SetUnit


def _set(ids, n_candidates=100) -> NeuronSet:
    units = tuple(SetUnit(s, u, 0.5, 1.0, 2.0, 0.0, 0.0) for s, u in ids)
    return NeuronSet("m", "source_language", "deu", "s2t", "speech", "step=2/mean", "text_decoder",
                     len(units), "top", None, n_candidates, units)


def test_overlap_numbers():
    a = _set([("x", i) for i in range(10)])
    b = _set([("x", i) for i in range(6, 20)])
    o = overlap(a, b)
    assert (o.count, o.size_a, o.size_b) == (4, 10, 14)
    assert o.jaccard == pytest.approx(4 / 20)
    assert o.overlap_coef == pytest.approx(4 / 10)
    assert o.universe == 100 and o.chance == pytest.approx(10 * 14 / 100)
    assert overlap(a, [("x", 0), ("y", 0)]).chance is None  # plain ids: no universe unless given
    assert overlap(a, [("x", 0)], universe=50).chance == pytest.approx(10 / 50)


def test_chance_matches_simulation():
    rng = np.random.default_rng(0)
    U, k1, k2 = 500, 40, 60
    counts = [overlap([("s", i) for i in rng.choice(U, k1, replace=False)],
                      [("s", i) for i in rng.choice(U, k2, replace=False)], universe=U).count
              for _ in range(400)]
    assert np.mean(counts) == pytest.approx(k1 * k2 / U, rel=0.1)


def test_overlap_matrix_labels_and_metric():
    sets = {"deu": _set([("x", 1), ("x", 2)]), "fra": _set([("x", 2), ("x", 3), ("x", 4)])}
    m = overlap_matrix(sets, sets, metric="jaccard")
    assert list(m.index) == list(m.columns) == ["deu", "fra"]
    assert m.loc["deu", "deu"] == 1 and m.loc["deu", "fra"] == pytest.approx(1 / 4)
    with pytest.raises(ConfigError, match="metric='size'"):
        overlap_matrix(sets, sets, metric="size")


def _exp(view: str, shift: int) -> Expertise:
    rows = []
    for lab_i, lab in enumerate(["deu", "fra", "jpn"]):
        for u in range(30):
            rows.append({"site": "s", "unit": u, "component": "text_decoder", "group": "ffn", "layer": 0,
                         "view": view, "label": lab, "ap": ((u + 7 * lab_i + shift) % 30) / 30,
                         "on_p50": 0.0, "on_p90": 0.0, "off_p50": 0.0, "off_mean": 0.0})
    meta = {"model": "m", "view": view, "analysis": {"analysis": "source_language", "labels": ["deu", "fra", "jpn"],
                                                      "task": "s2t", "modality": "speech"}}
    return Expertise(meta, pd.DataFrame(rows))


def test_cross_modal_and_across_step():
    speech, text = _exp("step=2/mean", 0), _exp("step=2/mean", 0)
    m = cross_modal_matrix(speech, text, k=4, mode="top")
    assert list(m.index) == ["deu", "fra", "jpn"]
    assert np.diag(m.to_numpy()).tolist() == [4, 4, 4]  # same table: full diagonal
    assert m.loc["deu", "fra"] == 0
    shifted = _exp("step=2/mean", 2)
    m2 = cross_modal_matrix(speech, shifted, k=4, mode="top")
    assert m2.loc["deu", "deu"] == 2  # top-4 units shift by 2 positions
    with pytest.raises(ConfigError, match="one view"):
        cross_modal_matrix(speech, _exp("step=7/mean", 0), k=4)
    steps = across_step_matrix({"2": speech, "7": shifted}, "fra", k=4, mode="top")
    assert steps.loc["2", "2"] == 4 and steps.loc["2", "7"] == 2


def test_role_overlap_counts_shared_units_of_representation_and_control_sets():
    """Top-4 of the source-language and the target-language table: the sets written out by hand (AP
    order of ``_exp``), the p-value the hypergeometric tail of scipy."""
    from scipy import stats as sps

    from babelscope.pipeline.analysis_stage import role_overlap
    from babelscope.pipeline.rank_stage import RankJob

    dec = ("text_decoder",)
    jobs = {RankJob("source_language", "speech", "step=2/mean", dec): _exp("step=2/mean", 0),
            RankJob("target_language", "speech", "step=2/mean", dec): _exp("step=2/mean", 2),
            RankJob("target_language", "speech", "step=3/mean", dec): _exp("step=3/mean", 0)}  # no partner
    t = role_overlap(jobs, k=4, mode="top", component="text_decoder")
    assert len(t) == 3 and set(t["step"]) == {2}
    # deu: ap = ((u + shift) % 30)/30, top-4 = the u with the largest (u + shift) % 30
    top = lambda shift, li: {u for u in range(30) if (u + 7 * li + shift) % 30 >= 26}
    for li, lab in enumerate(["deu", "fra", "jpn"]):
        row = t[t["label"] == lab].iloc[0]
        c = len(top(0, li) & top(2, li))
        assert row["count"] == c == 2 and row["k"] == 4 and row["n_candidates"] == 30
        assert row["chance"] == pytest.approx(16 / 30)
        assert row["p_value"] == pytest.approx(sps.hypergeom(30, 4, 4).sf(c - 1))
