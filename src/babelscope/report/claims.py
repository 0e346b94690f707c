"""Verdicts on the five claims of METHODS.md §10, each computed from the run's own tables.

Each claim gets one of three verdicts: ``supported``, ``not supported`` or ``not testable here``,
with the numbers behind it and the rule used. A claim whose data are missing (a stage that did not
run, a table without the rows the rule needs) is *not testable here*: missing data never become a
verdict. A claim made of several parts is *not supported* as soon as one testable part fails,
*supported* only when every part was tested and passed, and *not testable here* otherwise.

The rules (also printed in the report, see ``RULES``):

1. **Cross-modal overlap falls with steps** (``analysis/overlap.csv``, analysis
   ``source_language``, numeric steps only). For each step, the mean over languages of the diagonal
   overlap count / k (speech-derived set of language L vs text-derived set of L). Supported when the
   value at the first recorded step is the largest of all steps and greater than at the last step,
   and both the first- and last-step values are above chance (mean of chance / k = k / U).
2. **Cross-modal steering, stronger later** (``interventions/``: kind ``steering`` with
   source_modality ``speech`` and target_modality ``text``). The forced − baseline effect on
   ``is_expected`` (share of outputs in the steered-to language) and its 95% CI. (a) At the latest
   step range (the whole run if no range was given), every such intervention has an effect > 0
   with a CI that excludes 0. (b) The mean effect over the interventions of the latest step range
   is larger than over those of the earliest range (needs at least two ranges).
3. **Encoders grow language-agnostic with depth** (``analysis/encoder_depth.csv``, layers ≥ 0).
   For each encoder (component × input modality) with at least 3 layers that have a value: the metric is
   ``share_selective`` (or ``mean_max_ap`` where ``share_selective`` is constant); Spearman ρ of
   layer vs metric < 0 and the first layer's value > the last layer's. Supported when every
   testable encoder passes.
4. **Modality units sit in cross-attention K/V** (``analysis/modality_units.csv``). Sites ending in
   ``cross_attention.k_proj`` / ``cross_attention.v_proj`` form one category; every other
   (component, group) is its own. Enrichment = share of the top-k modality units ÷ share of all
   units. Supported when, at every recorded step, the K/V enrichment is ≥ 2 and larger than the
   enrichment of every other category.
5. **Speech and non-Latin scripts are more concentrated** (``analysis/concentration.csv``, the
   ``text_decoder`` rows when there are any, all rows otherwise; Gini averaged over tasks first).
   (a) Mean Gini of speech input > text input, over the (step, component, language) cells that have
   both. (b) Mean Gini of jpn/cmn > mean Gini of the Latin-script languages, over the (step,
   component, modality) cells that have both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from babelscope.report.data import (Intervention, RunData, fnum, is_numeric_step, lang_name,
                                    modality_groups, sorted_steps, step_label)

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
NOT_TESTABLE = "not testable here"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE)

NON_LATIN_FOCUS = ("jpn", "cmn")
LATIN_SCRIPT = ("eng", "deu", "spa", "fra", "ita", "por", "nld", "cat", "ron", "pol", "ces", "slk", "slv",
                "hrv", "swe", "dan", "nob", "nno", "fin", "est", "lav", "lit", "hun", "tur", "vie", "ind",
                "zsm", "tgl", "swh", "afr", "isl", "gle", "cym", "eus", "glg", "mlt", "uzn", "azj")

CLAIMS = {
    1: "Cross-modal overlap of language-representation neurons is highest at the first recorded step "
       "and falls at later steps.",
    2: "Language-control neurons found from speech input steer text-input generation to the target "
       "language, more strongly at later steps.",
    3: "Encoder representations grow more language-agnostic with depth.",
    4: "Modality-selective units are sharply localized in the decoder's cross-attention key and value "
       "projections.",
    5: "Speech-conditioned decoding and non-dominant scripts (jpn, cmn) show higher activation "
       "concentration.",
}

RULES = {
    1: "From analysis/overlap.csv (analysis source_language, numeric steps): per step, the mean over "
       "languages of the diagonal overlap count / k (speech-derived set of L vs text-derived set of L). "
       "Supported when the first step's value is the largest of all steps and greater than the last "
       "step's, and both are above chance (mean chance / k = k / U).",
    2: "From interventions of kind steering with source_modality speech and target_modality text: the "
       "forced − baseline effect on the share of outputs in the steered-to language (is_expected) with "
       "its 95% bootstrap CI. (a) At the latest step range (the whole run if no range was given) every "
       "such intervention has an effect > 0 whose CI excludes 0; (b) the mean effect at the latest step "
       "range is larger than at the earliest (needs two or more ranges).",
    3: "From analysis/encoder_depth.csv (layers ≥ 0): for each encoder (component × input modality) "
       "with ≥ 3 layers that have a value, the metric is share_selective (mean_max_ap where share_selective is constant); "
       "Spearman ρ(layer, metric) < 0 and first layer > last layer. Supported when every testable "
       "encoder passes.",
    4: "From analysis/modality_units.csv: sites ending in cross_attention.k_proj / v_proj form one "
       "category, every other (component, group) its own. Enrichment = share of the top-k modality "
       "units ÷ share of all units. Supported when at every recorded step the K/V enrichment is ≥ 2 "
       "and larger than every other category's.",
    5: "From analysis/concentration.csv (text_decoder rows if any, else all; Gini averaged over tasks "
       "first): (a) mean Gini of speech input > text input over the (step, component, language) cells "
       "that have both; (b) mean Gini of jpn/cmn > the Latin-script languages over the (step, "
       "component, modality) cells that have both.",
}


@dataclass
class Claim:
    """One claim's verdict, the numbers behind it and the rule that produced it."""

    number: int
    claim: str
    rule: str
    verdict: str
    reason: str
    numbers: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""

    def as_row(self) -> dict[str, Any]:
        return {"claim": self.number, "statement": self.claim, "verdict": self.verdict, "reason": self.reason,
                "numbers": "; ".join(f"{k} = {v}" for k, v in self.numbers), "rule": self.rule,
                "source": self.source}


def _combine(parts: Sequence[bool | None]) -> str:
    """Verdict of a claim with several parts: a failed tested part is decisive; all must be tested to
    support."""
    if any(p is False for p in parts):
        return NOT_SUPPORTED
    if parts and all(p is True for p in parts):
        return SUPPORTED
    return NOT_TESTABLE


def _claim(n: int, verdict: str, reason: str, numbers=None, source: str = "") -> Claim:
    return Claim(n, CLAIMS[n], RULES[n], verdict, reason, list(numbers or []), source)


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from babelscope.analysis import spearman
    return float(spearman(np.asarray(x, dtype=float), np.asarray(y, dtype=float)))


# ------------------------------------------------------------------------------------------ claims

def claim_overlap(df: pd.DataFrame | None, missing: str = "not run") -> Claim:
    """Claim 1 (see the module docstring for the rule)."""
    src = "analysis/overlap.csv"
    if df is None:
        return _claim(1, NOT_TESTABLE, missing, source=src)
    d = df[(df["analysis"] == "source_language") & df["step"].map(is_numeric_step)
           & (df["speech_label"] == df["text_label"])]
    d = d[pd.to_numeric(d["k"], errors="coerce") > 0]
    if d.empty:
        return _claim(1, NOT_TESTABLE, "no diagonal source_language rows at numeric steps", source=src)
    steps = sorted_steps(d["step"])
    if len(steps) < 2:
        return _claim(1, NOT_TESTABLE, f"only one recorded step ({steps[0]}); a fall needs two", source=src)
    val = {s: float((d[d["step"] == s]["count"] / d[d["step"] == s]["k"]).mean()) for s in steps}
    chance = {s: float((d[d["step"] == s]["chance"] / d[d["step"] == s]["k"]).mean()) for s in steps}
    first, last = steps[0], steps[-1]
    nums = [(f"diagonal overlap / k at step {s}", fnum(val[s])) for s in steps]
    nums += [(f"chance / k at step {s}", fnum(chance[s], 4)) for s in (first, last)]
    falls = val[first] > val[last] and val[first] >= max(val.values())
    above = val[first] > chance[first] and val[last] > chance[last]
    verdict = _combine([falls, above])
    reason = (f"step {first}: {val[first]:.3f} vs step {last}: {val[last]:.3f}"
              f" ({'highest at the first step and falls' if falls else 'does not fall from a first-step maximum'});"
              f" {'both above' if above else 'not both above'} chance")
    return _claim(1, verdict, reason, nums, src)


def _effect(iv: Intervention) -> tuple[float, float, float] | None:
    e = iv.effect("forced-baseline", "is_expected")
    if not e or e.get("effect") is None:
        return None
    ci = e.get("ci95") or [math.nan, math.nan]
    try:
        return float(e["effect"]), float(ci[0]), float(ci[1])
    except (TypeError, ValueError, IndexError):
        return None


def claim_steering(ivs: Sequence[Intervention] | None, missing: str = "not run") -> Claim:
    """Claim 2 (see the module docstring for the rule)."""
    src = "interventions/"
    if ivs is None:
        return _claim(2, NOT_TESTABLE, missing, source=src)
    cross = [iv for iv in ivs if iv.kind == "steering" and iv.spec.get("source_modality") == "speech"
             and iv.spec.get("target_modality") == "text"]
    rows = [(iv, _effect(iv)) for iv in cross]
    rows = [(iv, e) for iv, e in rows if e is not None and all(map(math.isfinite, e))]
    if not rows:
        return _claim(2, NOT_TESTABLE, "no speech → text steering intervention with a forced − baseline "
                      "effect on is_expected", source=src)
    ranges = sorted({iv.steps for iv, _ in rows if iv.steps is not None})
    nums = [(f"{iv.name} ({iv.steps_label}, → {lang_name(iv.spec.get('steer_to'))})",
             f"{e[0]:+.3f} [{e[1]:+.3f}, {e[2]:+.3f}]") for iv, e in rows]
    if ranges:
        latest, earliest = ranges[-1], ranges[0]
        late = [e for iv, e in rows if iv.steps == latest]
        early = [e for iv, e in rows if iv.steps == earliest]
    else:
        latest = earliest = None
        late, early = [e for _, e in rows], []
    ok_late = [e[0] > 0 and e[1] > 0 for e in late]
    part_a = all(ok_late)
    late_label = "all steps" if latest is None else f"[{latest[0]}, {latest[1]})"
    reason = f"{sum(ok_late)} of {len(late)} at {late_label} have a positive effect with a CI excluding 0"
    part_b: bool | None = None
    if len(ranges) >= 2:
        m_late, m_early = float(np.mean([e[0] for e in late])), float(np.mean([e[0] for e in early]))
        part_b = m_late > m_early
        nums += [(f"mean effect at [{earliest[0]}, {earliest[1]})", f"{m_early:+.3f}"),
                 (f"mean effect at {late_label}", f"{m_late:+.3f}")]
        reason += f"; mean effect {m_early:+.3f} at [{earliest[0]}, {earliest[1]}) vs {m_late:+.3f} at {late_label}"
    else:
        reason += "; only one step range, so 'more strongly at later steps' cannot be tested"
    return _claim(2, _combine([part_a, part_b]), reason, nums, src)


def claim_encoder_depth(df: pd.DataFrame | None, missing: str = "not run") -> Claim:
    """Claim 3 (see the module docstring for the rule)."""
    src = "analysis/encoder_depth.csv"
    if df is None:
        return _claim(3, NOT_TESTABLE, missing, source=src)
    d = df[df["layer"] >= 0]
    parts, nums, notes = [], [], []
    for (comp, mod), g in d.groupby(["component", "modality"], sort=True):
        g = g.groupby("layer")[["share_selective", "mean_max_ap"]].mean().sort_index()
        name = f"{comp} ({mod} input)"
        series = {m: g[m].dropna() for m in ("share_selective", "mean_max_ap")}
        usable = [m for m, v in series.items() if len(v) >= 3 and v.nunique() > 1]
        if not usable:
            n = max(len(v) for v in series.values())
            notes.append(f"{name}: only {n} layer(s) with a value" if n < 3 else f"{name}: both metrics constant")
            continue
        metric = usable[0]
        vals = series[metric]
        rho = _spearman(vals.index.to_numpy(), vals.to_numpy())
        v0, v1 = float(vals.iloc[0]), float(vals.iloc[-1])
        ok = rho < 0 and v0 > v1
        parts.append(ok)
        nums.append((f"{name}: ρ(layer, {metric})", fnum(rho)))
        nums.append((f"{name}: {metric} first → last layer", f"{v0:.3f} → {v1:.3f}"))
        notes.append(f"{name} {'decreases' if ok else 'does not decrease'} with depth")
    if not parts:
        return _claim(3, NOT_TESTABLE, "; ".join(notes) or "no encoder layers", nums, src)
    verdict = SUPPORTED if all(parts) else NOT_SUPPORTED
    return _claim(3, verdict, "; ".join(notes), nums, src)


def claim_modality_units(df: pd.DataFrame | None, missing: str = "not run") -> Claim:
    """Claim 4 (see the module docstring for the rule)."""
    src = "analysis/modality_units.csv"
    if df is None:
        return _claim(4, NOT_TESTABLE, missing, source=src)
    g = modality_groups(df)
    if not g["is_kv"].any():
        return _claim(4, NOT_TESTABLE, "no cross-attention key/value sites in the table", source=src)
    parts, nums, notes = [], [], []
    for step in sorted_steps(g["step"]):
        s = g[g["step"] == step]
        kv = s[s["is_kv"]]
        other = s[~s["is_kv"]]
        if kv.empty or not np.isfinite(kv["enrichment"]).any():
            notes.append(f"{step_label(step)}: no K/V units")
            continue
        e_kv = float(kv["enrichment"].max())
        finite = other[np.isfinite(other["enrichment"])]
        best_other = float(finite["enrichment"].max()) if not finite.empty else -math.inf
        best_name = str(finite.loc[finite["enrichment"].idxmax(), "category"]) if not finite.empty else "none"
        ok = e_kv >= 2 and e_kv > best_other
        parts.append(ok)
        nums.append((f"{step_label(step)}: K/V share of top-k / share of units",
                     f"{float(kv['share_top'].sum()):.3f} / {float(kv['share_units'].sum()):.3f} (×{e_kv:.2f})"))
        nums.append((f"{step_label(step)}: highest other enrichment", f"×{best_other:.2f} ({best_name})"))
        notes.append(f"{step_label(step)}: ×{e_kv:.2f} {'≥ 2 and the largest' if ok else 'fails'}")
    if not parts:
        return _claim(4, NOT_TESTABLE, "; ".join(notes), nums, src)
    return _claim(4, SUPPORTED if all(parts) else NOT_SUPPORTED, "; ".join(notes), nums, src)


def claim_concentration(df: pd.DataFrame | None, missing: str = "not run") -> Claim:
    """Claim 5 (see the module docstring for the rule)."""
    src = "analysis/concentration.csv"
    if df is None:
        return _claim(5, NOT_TESTABLE, missing, source=src)
    d = df[np.isfinite(pd.to_numeric(df["gini"], errors="coerce"))]
    scope = "text_decoder rows"
    if (d["component"] == "text_decoder").any():
        d = d[d["component"] == "text_decoder"]
    else:
        scope = "all rows (no text_decoder rows)"
    cells = d.groupby(["step", "component", "lang", "modality"])["gini"].mean().reset_index()
    nums: list[tuple[str, str]] = [("scope", scope)]
    reasons = []
    # (a) speech vs text, paired by (step, component, lang)
    piv = cells.pivot_table(index=["step", "component", "lang"], columns="modality", values="gini")
    part_a: bool | None = None
    if {"speech", "text"} <= set(piv.columns):
        both = piv[["speech", "text"]].dropna()
        if not both.empty:
            ms, mt = float(both["speech"].mean()), float(both["text"].mean())
            part_a = ms > mt
            nums += [("mean Gini, speech input", fnum(ms)), ("mean Gini, text input", fnum(mt)),
                     ("cells compared (speech vs text)", str(len(both)))]
            reasons.append(f"speech {ms:.3f} {'>' if part_a else '≤'} text {mt:.3f}")
    if part_a is None:
        reasons.append("no cell has both speech and text input")
    # (b) jpn/cmn vs Latin script, paired by (step, component, modality)
    cells["script"] = np.where(cells["lang"].isin(NON_LATIN_FOCUS), "focus",
                               np.where(cells["lang"].isin(LATIN_SCRIPT), "latin", "other"))
    sc = cells[cells["script"] != "other"].groupby(["step", "component", "modality", "script"])["gini"].mean()
    sc = sc.unstack("script") if not sc.empty else pd.DataFrame()
    part_b: bool | None = None
    if {"focus", "latin"} <= set(sc.columns):
        both = sc[["focus", "latin"]].dropna()
        if not both.empty:
            mf, ml = float(both["focus"].mean()), float(both["latin"].mean())
            part_b = mf > ml
            nums += [("mean Gini, jpn/cmn", fnum(mf)), ("mean Gini, Latin-script languages", fnum(ml))]
            reasons.append(f"jpn/cmn {mf:.3f} {'>' if part_b else '≤'} Latin {ml:.3f}")
    if part_b is None:
        reasons.append("no cell has both jpn/cmn and a Latin-script language")
    for lang, v in cells.groupby("lang")["gini"].mean().items():
        nums.append((f"mean Gini, {lang_name(lang)}", fnum(v)))
    return _claim(5, _combine([part_a, part_b]), "; ".join(reasons), nums, src)


def evaluate_claims(data: RunData) -> list[Claim]:
    """All five claims from a loaded run folder."""
    return [
        claim_overlap(data.table("overlap"), data.why_missing("overlap")),
        claim_steering(data.interventions, data.problems.get("interventions", "not run")),
        claim_encoder_depth(data.table("encoder_depth"), data.why_missing("encoder_depth")),
        claim_modality_units(data.table("modality_units"), data.why_missing("modality_units")),
        claim_concentration(data.table("concentration"), data.why_missing("concentration")),
    ]
