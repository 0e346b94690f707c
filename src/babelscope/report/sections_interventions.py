"""The interventions section of the page: the table of conditions and effects with CIs, its
figures, the dose–response sweeps and example generations per condition."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from babelscope.evaluate.metrics import METRICS
from babelscope.report.data import CONDITIONS, Intervention, fnum, lang_name
from babelscope.report.figures_dose import dose_response
from babelscope.report.figures_interventions import intervention_shares, steering_by_steps
from babelscope.report.layout import Writer, shown
from babelscope.report.markup import Markup, details, join, table, tag, truncate, with_ci

N_EXAMPLES = 3


def section_interventions(rep: Writer) -> Markup:
    """The interventions section, or why there are none."""
    ivs = rep.data.interventions
    why = (rep.data.problems.get("interventions", "not run") if ivs is None
           else "interventions/index.json lists no intervention")
    return join([tag("h2", "Interventions", id="interventions"),
                 shown(ivs or None, lambda ivs: _interventions(rep, ivs), why)])


def _flat_record(iv: Intervention, n: Any) -> dict[str, Any]:
    """One row of ``tables/interventions.csv``: the spec, then every condition and effect flattened."""
    s = iv.spec
    rec = {"name": iv.name, **{k: s.get(k) for k in ("kind", "source_modality", "target_modality", "steer_to",
                                                  "ask", "set_label", "k", "component")},
           "steps": iv.steps_label, "n_samples": n, "problem": iv.problem}
    for c in CONDITIONS:
        cd = iv.condition(c) or {}
        for m in METRICS.values():  # the registered metrics (babelscope.evaluate.metrics) drive the columns
            rec[f"{c}_{m.summary}"] = cd.get(m.summary)
            if m.ci:
                ci = cd.get(f"{m.summary}_ci95") or [None, None]
                rec.update({f"{c}_ci_lo": ci[0], f"{c}_ci_hi": ci[1]})
    for pair in ("forced-unforced", "forced-baseline", "baseline-unforced"):
        for m in METRICS:
            e = iv.effect(pair, m) or {}
            ci = e.get("ci95") or [None, None]
            rec.update({f"{pair}_{m}": e.get("effect"), f"{pair}_{m}_lo": ci[0], f"{pair}_{m}_hi": ci[1]})
    return rec


def _row(iv: Intervention, n: Any) -> tuple[Any, ...]:
    """One row of the page's intervention table."""
    s = iv.spec
    conds = [with_ci((iv.condition(c) or {}).get("share_expected"), (iv.condition(c) or {}).get("share_expected_ci95"))
             for c in CONDITIONS]
    effs = []
    for pair in ("forced-baseline", "forced-unforced"):
        e = iv.effect(pair, "is_expected")
        effs.append("–" if not e else with_ci(e.get("effect"), e.get("ci95"), mark=bool(e.get("excludes_zero"))))
    target = lang_name(s.get("steer_to")) if s.get("steer_to") else "–"
    pv = (iv.effect("forced-baseline", "is_expected") or {}).get("p_two_sided")
    return (iv.name, s.get("kind", "–"), iv.direction, target, iv.steps_label,
            f"{lang_name(s.get('set_label', '–'))}, k = {s.get('k', '–')}, {s.get('component', '–')}"
            + (" (sweep: headline point)" if iv.curve else ""),
            n, *conds, *effs, "–" if pv is None else fnum(pv, 4))


def _interventions(rep: Writer, ivs: Sequence[Intervention]) -> Markup:
    parts = []
    rows, flat = [], []
    for iv in ivs:
        n = (iv.summary or {}).get("n_samples", "–")
        rows.append(_row(iv, n))
        flat.append(_flat_record(iv, n))
    name = rep.write_table("interventions", pd.DataFrame(flat))
    parts.append(tag("p", "Share of outputs in the expected language (the steered-to language for steering, "
                          "the asked target otherwise) with 95% bootstrap CIs; effects are paired differences "
                          "over samples, * = CI excludes 0; p: two-sided sign-flip permutation test of the "
                          "paired forced − baseline differences. Full table: ", tag("code", name), "."))
    parts.append(table(["intervention", "kind", "modalities (neurons → input)", "steer to", "steps", "neuron set",
                        "samples", "unforced", "forced", "random baseline", "forced − baseline",
                        "forced − unforced", "p (forced vs baseline, sign flip)"], rows, class_="iv"))
    problems = [f"{iv.name}: {iv.problem}" for iv in ivs if iv.problem]
    if problems:
        parts.append(tag("ul", join(tag("li", p) for p in problems), class_="warn"))
    parts.append(rep.figure("interventions", intervention_shares, ivs,
                            "Expected-language share under unforced, random-baseline and forced generation "
                            "(95% CI)."))
    parts.append(shown(ivs if any(iv.kind == "steering" and iv.summary for iv in ivs) else None,
                       lambda ivs: rep.figure("steering", steering_by_steps, ivs,
                                              "Steering success by decoding-step range and modality direction: "
                                              "forced (filled, 95% CI) and random baseline (hollow)."),
                       "no steering intervention"))
    sweeps = [iv for iv in ivs if iv.curve]
    if sweeps:
        parts.append(_dose_response(rep, ivs, sweeps))
    parts.append(tag("h3", "Example generations"))
    for iv in ivs:
        parts.append(_examples(iv))
    return join(parts)


def _dose_response(rep: Writer, ivs: Sequence[Intervention], sweeps: list[Intervention]) -> Markup:
    parts = [tag("h3", "Dose–response"),
             rep.figure("dose_response", dose_response, ivs,
                        "Steering at each swept set size (or value factor): share of outputs in the "
                        "steered-to language when forced (95% CI of the paired effect against the "
                        "baselines' mean) over the range of the random-unit baselines (each drawn "
                        "with its own seed, forced at the same size, steps and factor).")]
    prow = []
    for iv in sweeps:
        for pt in iv.curve:
            b = pt.get("baseline_shares") or []
            prow.append((iv.name, iv.steps_label, pt.get("k"), fnum(pt.get("factor"), 2),
                         fnum(pt.get("forced_share")), f"{fnum(min(b))}–{fnum(max(b))}" if b else "–",
                         with_ci(pt.get("effect"), pt.get("ci"), mark=bool((pt.get("ci") or [0])[0] > 0)),
                         fnum(pt.get("p_value"), 4), fnum(pt.get("forced_empty_share")),
                         fnum(pt.get("forced_chrf"), 1), pt.get("n")))
    broken = [f"{iv.name}, k = {pt.get('k')}, factor {fnum(pt.get('factor'), 2)}: "
              f"{100 * pt['forced_empty_share']:.0f}% of the forced outputs are empty — the forcing breaks "
              "generation at this point, and its share in the steered-to language is 0 for that reason"
              for iv in sweeps for pt in iv.curve if (pt.get("forced_empty_share") or 0) > 0.5]
    if broken:
        parts.append(tag("ul", join(tag("li", b) for b in broken), class_="warn"))
    parts.append(details("Sweep points", table(
        ["intervention", "steps", "k", "factor", "forced share", "baselines (range)",
         "forced − baselines (95% CI)", "p (sign flip)", "empty forced outputs", "forced chrF++", "n"], prow)))
    return join(parts)


def _examples(iv: Intervention) -> Markup:
    """A collapsed table of the first generations of ``iv``, every condition of each sample together."""
    df = iv.results
    if df is None or df.empty or "condition" not in df.columns:
        return details(f"{iv.name}: no results", tag("p", iv.problem or "results.parquet is missing"))
    ids = sorted(df["sample_id"].astype(str).unique())[:N_EXAMPLES] if "sample_id" in df.columns else []
    sub = df[df["sample_id"].astype(str).isin(ids)] if ids else df.head(N_EXAMPLES * 3)
    order = {c: i for i, c in enumerate(CONDITIONS)}
    sub = sub.assign(_o=sub["condition"].map(lambda c: order.get(c, 9))).sort_values(["sample_id", "_o"])

    def g(r, c):
        return r.get(c) if c in r else None
    rows = [(g(r, "sample_id"), g(r, "condition"), f"{g(r, 'src_lang')} → {g(r, 'tgt_lang')} ({g(r, 'modality')})",
             g(r, "expected_lang"), g(r, "lid_lang"), truncate(g(r, "text")), truncate(g(r, "reference")))
            for r in (dict(x) for _, x in sub.iterrows())]
    return details(f"{iv.name} ({iv.direction}, {iv.steps_label})", table(
        ["sample", "condition", "task", "expected", "identified", "generated text", "reference"], rows,
        class_="gen"))
