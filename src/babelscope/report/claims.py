"""Verdicts on the five claims of METHODS §10, each decided by a test on the run's own tables.

The rules are in :data:`babelscope.report.verdicts.RULES` (printed in the report; docs/report.md
states each test and quotes the simulation of its false-positive rate). Inputs that are missing,
NaN or below the minimum sizes of :class:`DecisionSettings` make a part "not testable here"; a
multi-part claim is supported only if every part is tested and passes.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pandas as pd

from babelscope.analysis.stats import diagonal_tail, enrichment_tail, overlap_tail, sign_flip_test
from babelscope.evaluate import paired_diff_ci
from babelscope.vocab.languages import LATIN_SCRIPT, NON_LATIN_FOCUS
from babelscope.vocab.sites import is_kv_site
from babelscope.report.data import (Intervention, RunData, fnum, is_numeric_step, lang_name, modality_groups,
                                    sorted_steps, step_label)
from babelscope.report.verdicts import (CLAIMS, NOT_SUPPORTED, NOT_TESTABLE, RULES, SUPPORTED, VERDICTS, Claim,
                                        DecisionSettings, Test, make_claim, settings_from_run)
from babelscope.vocab.tasks import TASKS

__all__ = ["CLAIMS", "RULES", "SUPPORTED", "NOT_SUPPORTED", "NOT_TESTABLE", "VERDICTS", "Claim", "DecisionSettings",
           "LATIN_SCRIPT", "NON_LATIN_FOCUS", "claim_overlap", "claim_steering", "claim_encoder_depth",
           "claim_modality_units", "claim_concentration", "evaluate_claims"]

_DEFAULT = DecisionSettings()


def _finite(*xs) -> bool:
    try:
        return all(x is not None and math.isfinite(float(x)) for x in xs)
    except (TypeError, ValueError):
        return False


def _above_zero(t: Test, row: pd.DataFrame | None, st: DecisionSettings, missing: str, counts) -> Test:
    """Fill ``t`` from a bootstrap row (estimate, lo, hi, n_groups): passed when the interval lies above 0,
    not testable when the row is missing or NaN or rests on fewer than ``min_samples`` sentence groups."""
    if row is None or row.empty or not _finite(row["estimate"].iloc[0], row["lo"].iloc[0], row["hi"].iloc[0]):
        t.note = missing
        return t
    r = row.iloc[0]
    t.estimate, t.interval, t.n = float(r["estimate"]), (float(r["lo"]), float(r["hi"])), counts(r)
    if int(r["n_groups"]) < st.min_samples:
        t.note = f"fewer than {st.min_samples} sentence groups"
    else:
        t.passed = bool(r["lo"] > 0)
    return t


def _untestable(n: int, why: str, source: str, st: DecisionSettings, numbers=None) -> Claim:
    return make_claim(n, [], why, numbers, source, st, verdict=NOT_TESTABLE)


# ------------------------------------------------------------------------------------------ claim 1

def claim_overlap(df: pd.DataFrame | None, missing: str = "not run", boot: pd.DataFrame | None = None,
                  settings: DecisionSettings = _DEFAULT) -> Claim:
    """Claim 1: cross-modal overlap above chance at the first step, and falling after it."""
    src, st = "analysis/overlap.csv, analysis/overlap_boot.csv", settings
    if df is None:
        return _untestable(1, missing, src, st)
    d = df[(df["analysis"] == "source_language") & df["step"].map(is_numeric_step)
           & (df["speech_label"] == df["text_label"])]
    if d.empty:
        return _untestable(1, "no diagonal source_language rows at numeric steps", src, st)
    counts, k, u = (pd.to_numeric(d[c], errors="coerce") for c in ("count", "k", "n_candidates"))
    if not np.isfinite(np.c_[counts, k, u]).all() or (k <= 0).any() or (u < k).any():
        return _untestable(1, "missing (NaN) or impossible overlap counts, k or unit counts", src, st)
    steps = sorted_steps(d["step"])
    if len(steps) < 2:
        return _untestable(1, f"only one recorded step ({steps[0]}); a fall needs two", src, st)
    val = {s: float((counts[d["step"] == s] / k[d["step"] == s]).mean()) for s in steps}
    nums = [(f"mean diagonal overlap / k at step {s}", fnum(val[s])) for s in steps]
    first = steps[0]
    f = d["step"] == first
    kk, uu = int(k[f].iloc[0]), int(u[f].iloc[0])
    p = overlap_tail(counts[f].astype(int).tolist(), kk, uu)
    n_lab = int(f.sum())
    above = Test("above chance at the first step", f"Σ_L overlap at step {first}", float(counts[f].sum()),
                 p_value=p, n=f"{n_lab} languages, k = {kk}, U = {uu}, chance {n_lab * kk * kk / uu:.2f}",
                 passed=p < st.alpha)
    # language-specific: the same language's sets overlap more than other languages' sets do
    full = df[(df["analysis"] == "source_language") & (df["step"] == first)]
    mat = full.pivot_table(index="speech_label", columns="text_label", values="count", aggfunc="first")
    labs = [l for l in mat.index if l in mat.columns]
    specific = Test("language-specific at the first step", "Σ diagonal vs random pairings of the languages",
                    float(np.trace(mat.loc[labs, labs].to_numpy())) if labs else None,
                    n=f"{len(labs)} languages, mean off-diagonal "
                      f"{(mat.loc[labs, labs].to_numpy().sum() - np.trace(mat.loc[labs, labs].to_numpy())) / max(len(labs) * (len(labs) - 1), 1):.2f}")
    if len(labs) < 2 or not np.isfinite(mat.loc[labs, labs].to_numpy(dtype=float)).all():
        specific.note = "needs the full speech × text overlap matrix of two or more languages"
    else:
        specific.p_value = diagonal_tail(mat.loc[labs, labs].to_numpy(dtype=float), seed=0)
        specific.passed = specific.p_value < st.alpha
        if math.factorial(len(labs)) * st.alpha < 1 and not specific.passed:
            specific.note = f"{len(labs)} languages allow p ≥ 1/{len(labs)}!"
    tests = [above, specific]
    if boot is None or boot.empty:
        tests.append(Test("falls after the first step", "first − later overlap / k", None,
                          note="no bootstrap table (analysis/overlap_boot.csv)"))
    else:
        for s in steps[1:]:
            row = boot[(boot["step_a"].astype(str) == first) & (boot["step_b"].astype(str) == s)]
            t = Test(f"falls from step {first} to {s}", f"overlap/k step {first} − step {s}")
            tests.append(_above_zero(t, row, st, "no bootstrap row",
                                     lambda r: f"{int(r['n_groups'])} sentence groups, {int(r['n_boot'])} replicates"))
    return make_claim(1, tests, None, nums, src, st)


# ------------------------------------------------------------------------------------------ claim 2

def _paired_effect(iv: Intervention) -> pd.Series | None:
    """Per-sample forced − baseline is_expected (index: group, sample_id), or None without results.
    Samples of one sentence group are one cluster; without a group column each sample is its own."""
    r = iv.results
    if r is None or not {"sample_id", "condition", "is_expected"} <= set(r.columns):
        return None
    if "point" in r.columns:  # a dose-response sweep: the curve's mean height over its points, per sample
        from babelscope.intervene.sweep import sweep_effects
        d = sweep_effects(r).groupby(level="sample_id").mean().dropna()
    else:
        piv = r.pivot_table(index="sample_id", columns="condition", values="is_expected", aggfunc="first")
        if not {"forced", "baseline"} <= set(piv.columns):
            return None
        d = (piv["forced"].astype(float) - piv["baseline"].astype(float)).dropna()
    group = r.drop_duplicates("sample_id").set_index("sample_id")["group"] if "group" in r.columns else None
    g = d.index.to_series() if group is None else group.reindex(d.index).fillna(d.index.to_series()).astype(str)
    return pd.Series(d.to_numpy(), index=pd.MultiIndex.from_arrays([g.to_numpy(), d.index], names=["group",
                                                                                                  "sample_id"]))


def _dose(iv: Intervention) -> tuple:
    """The (k, factor) points a run was swept over; a single-point run is its own point."""
    sw = iv.spec.get("sweep") or {}
    if sw:
        return tuple(sw.get("k") or ()), tuple(sw.get("factor") or ())
    return (iv.spec.get("k"),), (iv.spec.get("factor", 1.0),)


def _effect_test(part: str, per_sample: pd.Series, st: DecisionSettings) -> Test:
    """Paired test on sentence groups: the per-sample differences are averaged within each group (the
    resampling and sign-flip unit), so the samples of one sentence in several languages count once."""
    d = per_sample.groupby(level="group").mean().to_numpy(dtype=float)
    t = Test(part, "mean forced − baseline is_expected", n=f"{d.size} sentence groups, {per_sample.size} samples")
    if d.size < st.min_samples:
        t.note = f"{d.size} sentence groups < min_samples {st.min_samples}"
        return t
    est, lo, hi = paired_diff_ci(d, np.zeros_like(d), n_boot=st.n_boot, alpha=st.alpha, seed=0)
    p = sign_flip_test(d, n_perm=st.n_perm, seed=0)
    t.estimate, t.interval, t.p_value = est, (lo, hi), p
    t.passed = bool(est > 0 and lo > 0 and p < st.alpha)
    return t


def _ordered_ranges(ranges: Sequence[tuple[int, int]]) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """(earliest, latest) step ranges when the earliest ends before the latest starts (whole extents)."""
    if len(ranges) < 2:
        return None
    earliest = min(ranges, key=lambda r: (r[1], r[0]))
    latest = max(ranges, key=lambda r: (r[0], r[1]))
    return (earliest, latest) if earliest[1] <= latest[0] else None


def claim_steering(ivs: Sequence[Intervention] | None, missing: str = "not run",
                   settings: DecisionSettings = _DEFAULT) -> Claim:
    """Claim 2: speech-derived control neurons steer text input, more at later steps."""
    src, st = "interventions/", settings
    if ivs is None:
        return _untestable(2, missing, src, st)
    cross = [iv for iv in ivs if iv.kind == "steering" and iv.spec.get("source_modality") == "speech"
             and iv.spec.get("target_modality") == "text"]
    rows = [(iv, _paired_effect(iv)) for iv in cross]
    rows = [(iv, d) for iv, d in rows if d is not None]
    if not rows:
        return _untestable(2, "no speech → text steering run with per-sample forced and baseline results", src, st)
    nums = [(f"{iv.name} ({iv.steps_label}, → {lang_name(iv.spec.get('steer_to'))})",
             f"{d.mean():+.3f} over {d.size} samples"
             + (f" (mean over the sweep's k = {', '.join(map(str, _dose(iv)[0]))})" if iv.curve else "")) for iv, d in rows]
    ranges = sorted({iv.steps for iv, _ in rows if iv.steps is not None})
    latest = max(ranges, key=lambda r: (r[0], r[1])) if ranges else None
    late = [(iv, d) for iv, d in rows if iv.steps == latest]
    label = "all steps" if latest is None else f"[{latest[0]}, {latest[1]})"
    tests = [_effect_test(f"steers at {label}: {iv.name}", d, st) for iv, d in late]
    order = _ordered_ranges(ranges)
    part_b = Test("steers more at later steps", "late − early effect (paired per sample)")
    if order is None:
        part_b.note = ("needs two step ranges, the earlier ending before the later starts; got "
                       + (", ".join(f"[{a}, {b})" for a, b in ranges) or "none"))
    else:
        e_runs = [d for iv, d in rows if iv.steps == order[0]]
        l_runs = [d for iv, d in rows if iv.steps == order[1]]
        doses = {_dose(iv) for iv, _ in rows if iv.steps in order}
        if len(doses) > 1:
            part_b.note = "the early and late runs were swept over different points (k, factor); curves differ"
            tests.append(part_b)
            return make_claim(2, tests, None, nums, src, st)
        early = pd.concat(e_runs, axis=1).mean(axis=1)
        late_m = pd.concat(l_runs, axis=1).mean(axis=1)
        common = early.index.intersection(late_m.index)
        part_b = _effect_test("steers more at later steps", late_m[common] - early[common], st)
        part_b.statistic = f"effect at [{order[1][0]}, {order[1][1]}) − effect at [{order[0][0]}, {order[0][1]})"
        if not len(common):
            part_b.note = "the early and late runs share no sample"
    tests.append(part_b)
    return make_claim(2, tests, None, nums, src, st)


# ------------------------------------------------------------------------------------------ claim 3

def claim_encoder_depth(df: pd.DataFrame | None, missing: str = "not run", boot: pd.DataFrame | None = None,
                        settings: DecisionSettings = _DEFAULT) -> Claim:
    """Claim 3: encoder selectivity above chance that falls with depth."""
    src, st = "analysis/encoder_depth.csv, analysis/encoder_depth_boot.csv", settings
    if df is None:
        return _untestable(3, missing, src, st)
    nums = []
    d = df[df["layer"] >= 0]
    for (comp, mod), g in d.groupby(["component", "modality"], sort=True):
        g = g.groupby("layer")["mean_max_ap"].mean().sort_index()
        nums.append((f"{comp} ({mod} input): mean best AP, first → last layer",
                     f"{g.iloc[0]:.3f} → {g.iloc[-1]:.3f} over {len(g)} layers"))
    if boot is None or boot.empty:
        return _untestable(3, "no bootstrap table (analysis/encoder_depth_boot.csv): the depth slope has no interval",
                           src, st, nums)
    tests = []
    for r in boot.itertuples(index=False):
        name = f"{r.component} ({r.modality} input)"
        t = Test(name, "slope of selectivity excess per layer", n=f"{int(r.n_layers)} layers, {int(r.n_groups)} "
                 f"sentence groups, {int(r.units_per_layer)} units per layer")
        if not _finite(r.slope, r.slope_lo, r.slope_hi, r.first_lo) or int(r.n_layers) < 3:
            t.note = "NaN or fewer than 3 layers"
        elif int(r.n_groups) < st.min_samples:
            t.note = f"fewer than {st.min_samples} sentence groups"
        else:
            t.estimate, t.interval = float(r.slope), (float(r.slope_lo), float(r.slope_hi))
            above = r.first_lo > 0
            t.passed = bool(r.slope_hi < 0 and above)
            t.note = (f"first-layer excess {r.first_excess:+.3f} [{r.first_lo:+.3f}, {r.first_hi:+.3f}]"
                      + ("" if above else " does not exceed chance"))
        tests.append(t)
    return make_claim(3, tests, None, nums, src, st)


# ------------------------------------------------------------------------------------------ claim 4

def claim_modality_units(df: pd.DataFrame | None, missing: str = "not run",
                         settings: DecisionSettings = _DEFAULT) -> Claim:
    """Claim 4: modality units enriched in the cross-attention K/V projections, at every step."""
    src, st = "analysis/modality_units.csv", settings
    if df is None:
        return _untestable(4, missing, src, st)
    df = df.copy()
    if "family" not in df.columns:
        df["family"] = "x2en"
    if not df["site"].map(is_kv_site).any():
        return _untestable(4, "no cross-attention key/value sites in the table", src, st)
    tests, nums = [], []
    for fam, fdf in df.groupby("family", sort=True):
        g = modality_groups(fdf)
        for step in sorted_steps(g["step"]):
            s = g[g["step"] == step]
            kv, other = s[s["is_kv"]], s[~s["is_kv"]]
            k = int(pd.to_numeric(fdf.loc[fdf["step"] == step, "k"], errors="coerce").max())
            x, K, U = int(kv["n_top"].sum()), int(kv["n_units"].sum()), int(s["n_units"].sum())
            t = Test(f"{fam}, {step_label(step)}", "K/V units among the top-k modality units", float(x),
                     n=f"k = {k}, K/V {K} of U = {U} units")
            if k < st.min_units or K == 0:
                t.note = f"k = {k} < min_units {st.min_units}" if K else "no K/V units"
                tests.append(t)
                continue
            t.p_value = enrichment_tail(x, k, K, U)
            e_kv = (x / k) / (K / U)
            fin = other[np.isfinite(other["enrichment"])]
            best = float(fin["enrichment"].max()) if not fin.empty else -math.inf
            best_name = str(fin.loc[fin["enrichment"].idxmax(), "category"]) if not fin.empty else "none"
            t.passed = bool(t.p_value < st.alpha and e_kv > best)
            t.note = f"enrichment ×{e_kv:.2f}; " + (f"highest other ×{best:.2f} ({best_name})" if best > 0 else
                                                     "no other category holds a top-k unit")
            nums.append((f"{fam}, {step_label(step)}: K/V enrichment", f"×{e_kv:.2f} (p = {t.p_value:.3g})"))
            tests.append(t)
    return make_claim(4, tests, None, nums, src, st)


# ------------------------------------------------------------------------------------------ claim 5

def claim_concentration(df: pd.DataFrame | None, missing: str = "not run", boot: pd.DataFrame | None = None,
                        settings: DecisionSettings = _DEFAULT, no_text: str | None = None) -> Claim:
    """Claim 5: higher decoder concentration for speech input and for jpn/cmn."""
    src, st = "analysis/concentration.csv, analysis/concentration_boot.csv", settings
    if df is None:
        return _untestable(5, missing, src, st)
    d = df[(df["component"] == "text_decoder") & np.isfinite(pd.to_numeric(df["gini"], errors="coerce"))]
    nums = [(f"mean Gini, {lang_name(l)}", fnum(v)) for l, v in d.groupby("lang")["gini"].mean().items()]
    if boot is None:
        speech_why = latin_why = "no bootstrap table (analysis/concentration_boot.csv)"
    else:
        latin_why = "no bootstrap row"
        speech_why = (latin_why if (d["modality"] == "text").any() else
                      "no text-input samples (a model without text input cannot compare speech with text)")
    tests = []
    for contrast, part, why in (("speech - text", "speech more concentrated than text", no_text or speech_why),
                                ("jpn/cmn - Latin", "jpn/cmn more concentrated than Latin script", latin_why)):
        t = Test(part, f"mean Gini {contrast.replace('-', '−')}")
        row = None if boot is None or boot.empty else boot[boot["contrast"] == contrast]
        if no_text and contrast == "speech - text":
            row = None  # a model without text input: nothing to compare, whatever the tables hold
        tests.append(_above_zero(t, row, st, why,
                                 lambda r: f"{int(r['n_cells'])} paired cells {r['pairing']}, "
                                           f"{int(r['n_groups'])} sentence groups"))
    return make_claim(5, tests, None, nums, src, st)


def no_text_input(run: dict | None) -> str | None:
    """Why a run cannot compare speech with text, or None when it can: its model takes no text
    (run.json's ``model.inputs``), or no recorded task gives it text."""
    if not isinstance(run, dict):
        return None
    model = run.get("model") or {}
    inputs = model.get("inputs")
    if isinstance(inputs, list) and "text" not in inputs:
        return (f"the model has no text input ({model.get('family', 'this model')} takes "
                f"{' and '.join(map(str, inputs)) or 'no'} input only)")
    tasks = ((run.get("settings") or {}).get("record") or {}).get("tasks")
    if isinstance(tasks, list) and tasks and all(t in TASKS and TASKS[t].modality != "text" for t in tasks):
        return f"no text-input task was recorded ([record] tasks: {', '.join(tasks)})"
    return None


def evaluate_claims(data: RunData, settings: DecisionSettings | None = None) -> list[Claim]:
    """All five claims from a loaded run folder (decision settings from its run.json by default).

    Claims 1, 2 and 4 compare speech with text input, and so does part (a) of claim 5: on a run
    without text input (a speech-only model such as Whisper) they are not testable, saying why."""
    st = settings or settings_from_run(data.run)
    no_text = no_text_input(data.run)
    why = f"{no_text}: the claim compares speech input with text input" if no_text else None
    return [
        _untestable(1, why, "analysis/overlap.csv", st) if why else
        claim_overlap(data.table("overlap"), data.why_missing("overlap"), data.table("overlap_boot"), st),
        _untestable(2, why, "interventions/", st) if why else
        claim_steering(data.interventions, data.problems.get("interventions", "not run"), st),
        claim_encoder_depth(data.table("encoder_depth"), data.why_missing("encoder_depth"),
                            data.table("encoder_depth_boot"), st),
        _untestable(4, why, "analysis/modality_units.csv", st) if why else
        claim_modality_units(data.table("modality_units"), data.why_missing("modality_units"), st),
        claim_concentration(data.table("concentration"), data.why_missing("concentration"),
                            data.table("concentration_boot"), st, no_text=no_text),
    ]
