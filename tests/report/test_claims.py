"""The decision rules behind the verdicts, on crafted tables: every degenerate input of issue 13 is
"not testable here" or "not supported", never "supported"; a planted effect of known size is
"supported" with its interval covering the planted value. p-values are checked against scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from babelscope.report import claims as C
from babelscope.report.data import Intervention
from babelscope.report.verdicts import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED

LANGS = ("deu", "fra", "spa", "jpn", "cmn")


# ------------------------------------------------------------------------------------------ claim 1

def _overlap(counts: dict[int, int], k: int = 100, u: int = 20000, off: int = 0) -> pd.DataFrame:
    """Every speech × text cell: ``counts[step]`` on the diagonal, ``off`` elsewhere."""
    return pd.DataFrame([{"analysis": "source_language", "step": str(s), "speech_label": a, "text_label": b, "k": k,
                          "n_candidates": u, "count": c if a == b else off, "jaccard": 0.0, "overlap_coef": 0.0,
                          "chance": k * k / u}
                         for s, c in counts.items() for a in LANGS for b in LANGS])


def _overlap_boot(rows, n_groups=40):
    return pd.DataFrame([{"step_a": "2", "step_b": str(b), "value_a": 0.4, "value_b": 0.4 - e, "estimate": e, "lo": lo,
                          "hi": hi, "alpha": 0.05, "n_boot": 200, "n_groups": n_groups, "k": 100}
                         for b, e, lo, hi in rows])


def test_claim1_overlap_p_value_is_the_exact_tail_of_summed_hypergeometrics():
    # two labels, k = 3 of U = 10: the total overlap's null distribution by brute-force convolution (scipy pmf)
    from babelscope.analysis.stats import overlap_tail
    pmf = sps.hypergeom(10, 3, 3).pmf(np.arange(4))
    total = np.convolve(pmf, pmf)
    assert overlap_tail([2, 2], 3, 10) == pytest.approx(total[4:].sum(), abs=1e-12)
    # by simulation of random sets
    rng = np.random.default_rng(0)
    sims = [sum(len(set(rng.choice(10, 3, replace=False)) & set(rng.choice(10, 3, replace=False))) for _ in range(2))
            for _ in range(20000)]
    assert overlap_tail([2, 2], 3, 10) == pytest.approx(np.mean(np.array(sims) >= 4), abs=0.01)


def test_diagonal_tail_is_the_share_of_label_pairings_at_least_as_aligned():
    from itertools import permutations

    from babelscope.analysis.stats import diagonal_tail
    m = np.array([[5, 1, 2, 0], [0, 4, 1, 1], [2, 2, 3, 0], [1, 0, 1, 2]])
    sums = [sum(m[i, p[i]] for i in range(4)) for p in permutations(range(4))]
    assert diagonal_tail(m) == pytest.approx(np.mean(np.array(sums) >= np.trace(m)))
    assert diagonal_tail(np.eye(5) * 3) == pytest.approx(1 / 120)        # the smallest p with 5 labels


def test_claim1_verdicts():
    strong = _overlap({2: 40, 7: 20, 12: 10})
    falls = _overlap_boot([(7, 0.2, 0.12, 0.28), (12, 0.3, 0.2, 0.4)])
    assert C.claim_overlap(strong, boot=falls).verdict == SUPPORTED
    # without the bootstrap the fall has no interval: never supported
    assert C.claim_overlap(strong).verdict == NOT_TESTABLE
    # a later step whose interval reaches 0
    assert C.claim_overlap(strong, boot=_overlap_boot([(7, 0.2, 0.12, 0.28), (12, 0.1, -0.01, 0.2)])).verdict \
        == NOT_SUPPORTED
    # at chance at the first step (chance = k*k/U = 0.5 per language)
    at_chance = _overlap({2: 1, 7: 0, 12: 0})
    c = C.claim_overlap(at_chance, boot=falls)
    assert c.verdict == NOT_SUPPORTED and c.tests[0].p_value > 0.05
    # NaN counts: missing data, not a verdict
    # far above chance, but other languages' sets overlap as much: not language-specific
    c = C.claim_overlap(_overlap({2: 40, 7: 20, 12: 10}, off=40), boot=falls)
    assert c.verdict == NOT_SUPPORTED and c.tests[1].p_value == 1.0
    nan = strong.copy()
    nan.loc[0, "count"] = np.nan
    assert C.claim_overlap(nan, boot=falls).verdict == NOT_TESTABLE
    assert C.claim_overlap(_overlap({2: 40}), boot=falls).verdict == NOT_TESTABLE
    assert C.claim_overlap(None).verdict == NOT_TESTABLE
    # one sentence group: the bootstrap interval collapses; below min_samples it is not testable
    assert C.claim_overlap(strong, boot=_overlap_boot([(7, 0.2, 0.2, 0.2), (12, 0.3, 0.3, 0.3)], n_groups=1)).verdict \
        == NOT_TESTABLE


# ------------------------------------------------------------------------------------------ claim 2

def _steer(name, steps, forced, baseline, src="speech", tgt="text"):
    ids = [f"s{i:03d}" for i in range(len(forced))]
    res = pd.DataFrame({"sample_id": ids * 2, "condition": ["forced"] * len(ids) + ["baseline"] * len(ids),
                        "is_expected": list(map(bool, forced)) + list(map(bool, baseline))})
    spec = {"name": name, "kind": "steering", "source_modality": src, "target_modality": tgt, "steer_to": "deu",
            "steps": steps}
    return Intervention(name, spec, None, res)


def _bern(p, n, seed):
    return np.random.default_rng(seed).random(n) < p


def test_claim2_planted_effects_are_supported_with_covering_intervals():
    n = 400
    early = _steer("early", [1, 3], _bern(0.30, n, 1), _bern(0.05, n, 2))
    late = _steer("late", [3, 12], _bern(0.65, n, 3), _bern(0.05, n, 4))
    c = C.claim_steering([early, late])
    assert c.verdict == SUPPORTED
    part_a, part_b = c.tests
    lo, hi = part_a.interval
    assert lo < 0.60 < hi and part_a.p_value < 0.001          # planted 0.65 - 0.05
    lo, hi = part_b.interval
    assert lo < 0.35 < hi                                      # planted 0.60 - 0.25


def test_claim2_counts_sentence_groups_not_samples():
    """400 samples from 10 sentences (40 languages each) are 10 clusters: below min_samples."""
    n = 400
    early = _steer("early", [1, 3], _bern(0.30, n, 1), _bern(0.05, n, 2))
    late = _steer("late", [3, 12], _bern(0.65, n, 3), _bern(0.05, n, 4))
    for iv in (early, late):
        iv.results["group"] = [f"g{int(s[1:]) % 10}" for s in iv.results["sample_id"]]
    c = C.claim_steering([early, late])
    assert c.verdict == NOT_TESTABLE and "10 sentence groups < min_samples 20" in c.tests[0].note


def test_claim2_degenerate_inputs_are_never_supported():
    one = _steer("late", [3, 12], [1], [0])
    early_one = _steer("early", [1, 3], [1], [0])
    assert C.claim_steering([early_one, one]).verdict == NOT_TESTABLE     # one sample per condition
    n = 400
    strong_early = _steer("early", [1, 100], _bern(0.3, n, 1), _bern(0.05, n, 2))
    strong_late = _steer("late", [3, 5], _bern(0.6, n, 3), _bern(0.05, n, 4))
    c = C.claim_steering([strong_early, strong_late])
    # [1, 100) is not earlier than [3, 5): ranges are ordered by their whole extent
    assert c.verdict == NOT_TESTABLE and "earlier ending before the later starts" in c.tests[-1].note
    null = _steer("late", [3, 12], _bern(0.1, n, 5), _bern(0.1, n, 6))
    early = _steer("early", [1, 3], _bern(0.1, n, 7), _bern(0.1, n, 8))
    assert C.claim_steering([early, null]).verdict == NOT_SUPPORTED
    assert C.claim_steering([null]).verdict != SUPPORTED                      # one range: part (b) untested
    assert C.claim_steering(None).verdict == NOT_TESTABLE


def test_sign_flip_p_value_matches_an_exact_enumeration():
    from itertools import product

    from babelscope.analysis.stats import sign_flip_test
    d = np.array([0.9, 0.4, -0.2, 0.7, 0.1, -0.5, 0.3, 0.8])
    means = [np.mean(np.array(s) * d) for s in product((-1, 1), repeat=d.size)]
    exact = np.mean(np.array(means) >= d.mean() - 1e-12)
    assert sign_flip_test(d, n_perm=200_000, seed=1) == pytest.approx(exact, abs=0.005)


# ------------------------------------------------------------------------------------------ claim 3

def _depth_table(values=(0.5, 0.4, 0.3)):
    return pd.DataFrame([{"modality": "text", "component": "text_encoder", "layer": i, "n_units": 10,
                          "mean_max_ap": v, "share_selective": 0.1, "chance_ap": 0.2} for i, v in enumerate(values)])


def _depth_boot(slope, lo, hi, first_lo=0.1, n_layers=6, n_groups=40):
    return pd.DataFrame([{"component": "text_encoder", "modality": "text", "n_layers": n_layers, "units_per_layer": 128,
                          "n_samples": 200, "n_groups": n_groups, "slope": slope, "slope_lo": lo, "slope_hi": hi,
                          "first_excess": first_lo + 0.05, "first_lo": first_lo, "first_hi": first_lo + 0.1,
                          "last_excess": 0.01, "alpha": 0.05, "n_boot": 200}])


def test_claim3_verdicts():
    assert C.claim_encoder_depth(_depth_table(), boot=_depth_boot(-0.03, -0.04, -0.02)).verdict == SUPPORTED
    # at-chance values 0.2003 > 0.2002 > 0.2001 with no interval: never supported
    assert C.claim_encoder_depth(_depth_table((0.2003, 0.2002, 0.2001))).verdict == NOT_TESTABLE
    # a slope whose interval reaches 0, or a first layer at chance
    assert C.claim_encoder_depth(_depth_table(), boot=_depth_boot(-1e-4, -2e-4, 1e-4)).verdict == NOT_SUPPORTED
    assert C.claim_encoder_depth(_depth_table(), boot=_depth_boot(-0.03, -0.04, -0.02, first_lo=-0.01)).verdict \
        == NOT_SUPPORTED
    assert C.claim_encoder_depth(_depth_table(), boot=_depth_boot(-0.03, -0.04, -0.02, n_groups=3)).verdict \
        == NOT_TESTABLE
    assert C.claim_encoder_depth(None).verdict == NOT_TESTABLE


# ------------------------------------------------------------------------------------------ claim 4

def _units(kv_top, k, kv_units=256, other_units=2048, family=None):
    rows = [{"step": "2", "component": "text_decoder", "group": g, "site": site, "layer": 0, "n_units": n,
             "n_top": t, "k": k, "mean_ap": 0.6}
            for site, g, n, t in (("text_decoder.layers.0.cross_attention.k_proj", "cross_attn", kv_units, kv_top),
                                  ("text_decoder.layers.0.ffn.fc1", "ffn", other_units, k - kv_top))]
    df = pd.DataFrame(rows)
    if family:
        df["family"] = family
    return df


def test_claim4_enrichment_test_and_minimum_k():
    c = C.claim_modality_units(_units(60, 100))
    assert c.verdict == SUPPORTED
    assert c.tests[0].p_value == pytest.approx(sps.hypergeom(2304, 256, 100).sf(59), rel=1e-9)
    # k = 1: one unit in K/V is not evidence
    assert C.claim_modality_units(_units(1, 1)).verdict == NOT_TESTABLE
    # K/V at its share of units (100 * 256 / 2304 = 11.1): no enrichment
    assert C.claim_modality_units(_units(12, 100)).verdict == NOT_SUPPORTED
    both = pd.concat([_units(60, 100, family="x2en"), _units(12, 100, family="en2x")])
    c = C.claim_modality_units(both)
    assert c.verdict == NOT_SUPPORTED and {t.part.split(",")[0] for t in c.tests} == {"x2en", "en2x"}


# ------------------------------------------------------------------------------------------ claim 5

def _conc():
    return pd.DataFrame([{"step": "2", "task": t, "lang": l, "modality": m, "component": "text_decoder", "gini": 0.4,
                          "top1_share": 0.1, "entropy": 0.9, "n_units": 10}
                         for l in ("eng", "deu", "jpn") for t, m in (("s2t", "speech"), ("t2t", "text"))])


def _conc_boot(a, b, n_groups=40):
    rows = []
    for contrast, (e, lo, hi) in (("speech - text", a), ("jpn/cmn - Latin", b)):
        rows.append({"contrast": contrast, "estimate": e, "lo": lo, "hi": hi, "n_cells": 6, "n_groups": n_groups,
                     "alpha": 0.05, "n_boot": 200, "pairing": "(step, task family, language)"})
    return pd.DataFrame(rows)


def test_claim5_verdicts():
    assert C.claim_concentration(_conc(), boot=_conc_boot((0.05, 0.03, 0.07), (0.04, 0.02, 0.06))).verdict == SUPPORTED
    # a difference of 1e-9 with its interval around 0
    tiny = _conc_boot((1e-9, -1e-3, 1e-3), (0.04, 0.02, 0.06))
    assert C.claim_concentration(_conc(), boot=tiny).verdict == NOT_SUPPORTED
    assert C.claim_concentration(_conc()).verdict == NOT_TESTABLE
    assert C.claim_concentration(_conc(), boot=_conc_boot((0.05, 0.03, 0.07), (0.04, 0.02, 0.06), n_groups=1)).verdict \
        == NOT_TESTABLE
    speech_only = _conc()[lambda d: d["modality"] == "speech"]
    c = C.claim_concentration(speech_only, boot=_conc_boot((0.05, 0.03, 0.07), (0.04, 0.02, 0.06))[1:])
    assert c.verdict == NOT_TESTABLE and "no text-input samples" in c.tests[0].note


def test_a_run_without_text_input_says_why_speech_vs_text_is_not_testable(tmp_path):
    """A speech-only model (Whisper): claims 1, 2 and 4 and part (a) of claim 5 are not testable, naming the
    reason; a run of a text-capable model whose tasks give no text says that instead."""
    from babelscope.report.data import RunData

    whisper = {"model": {"family": "whisper", "inputs": ["speech"]}, "settings": {"record": {"tasks": ["s2t"]}}}
    assert C.no_text_input(whisper) == "the model has no text input (whisper takes speech input only)"
    seamless_speech = {"model": {"family": "seamless", "inputs": ["speech", "text"]},
                       "settings": {"record": {"tasks": ["s2t", "en2x_s2t"]}}}
    assert C.no_text_input(seamless_speech) == "no text-input task was recorded ([record] tasks: s2t, en2x_s2t)"
    both = {"model": {"inputs": ["speech", "text"]}, "settings": {"record": {"tasks": ["s2t", "t2t"]}}}
    assert C.no_text_input(both) is None and C.no_text_input(None) is None

    data = RunData(root=tmp_path, run=whisper, tables={"overlap": _overlap({2: 30, 3: 10}),
                                                       "concentration": _conc()[lambda d: d["modality"] == "speech"]},
                   interventions=[])
    claims = {c.number: c for c in C.evaluate_claims(data)}
    for n in (1, 2, 4):
        assert claims[n].verdict == NOT_TESTABLE and claims[n].reason.startswith("the model has no text input")
    assert claims[5].tests[0].note == "the model has no text input (whisper takes speech input only)"
    # claim 3 keeps its own reason (here: no table)
    assert "no text input" not in claims[3].reason
