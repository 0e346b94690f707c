"""The sections of the page about the run as a whole: the summary (model, corpus, headline numbers,
claim verdicts), the claims with their tests, and the provenance (settings, versions, timings,
files read)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from babelscope.version import __version__
from babelscope.report.claims import Claim, no_text_input
from babelscope.report.data import TABLES, lang_name, step_label
from babelscope.report.layout import Writer, shown
from babelscope.report.markup import Markup, badge, duration, flatten, join, kv_table, table, tag

#: analysis tables that compare speech with text input (absent for a model without text input)
SPEECH_VS_TEXT_TABLES = ("overlap", "spearman", "modality_units", "overlap_boot")


def _total_seconds(stages: dict[str, Any]) -> float:
    return sum(float((v or {}).get("seconds") or 0) for v in stages.values() if isinstance(v, dict))


def section_summary(rep: Writer, claims: list[Claim]) -> Markup:
    """Model, corpus and run; headline numbers and what is missing; one verdict per claim."""
    data = rep.data
    run = data.run or {}
    model, corpus = run.get("model") or {}, run.get("corpus") or {}
    langs = corpus.get("languages") or []
    info = kv_table([
        ("model", f"{model.get('name', '–')} ({model.get('family', '?')}; id {model.get('id', '–')}, "
                  f"revision {model.get('revision', '–')}, {model.get('dtype', '–')})"),
        ("corpus", f"{corpus.get('path', '–')}: {corpus.get('n_groups', '–')} parallel sentence groups"),
        ("languages", ", ".join(f"{lang_name(l)} ({l})" for l in langs) or "–"),
        ("run", f"{run.get('started', '–')} → {run.get('finished', '–')}; "
                f"stages took {duration(_total_seconds(run.get('stages') or {}))}"),
    ])
    items = []
    ap = data.table("ap_summary")
    if ap is not None:
        items.append(f"{int(ap['n_units'].max()):,} units ranked per analysis")
        for analysis, g in ap.groupby("analysis"):
            best = g.loc[g["max_ap"].idxmax()]
            items.append(f"{analysis}: best AP {best['max_ap']:.3f} ({lang_name(best['label'])}, "
                         f"{best['modality']}, {step_label(best['step'])}); up to "
                         f"{int(g['n_ap_over_0_9'].max())} units with AP > 0.9 for one label")
    ev = data.table("evidence")
    if ev is not None:
        thin = ev[~ev["ranked"].astype(bool)]
        if len(thin):
            items.append(f"{len(thin)} label ranking(s) skipped for too few positives or negatives (e.g. "
                         f"{lang_name(thin.iloc[0]['label'])}, {thin.iloc[0]['analysis']} {thin.iloc[0]['modality']} "
                         f"{step_label(thin.iloc[0]['step'])}: {thin.iloc[0]['why_skipped']}); see the evidence table")
    with_eff = [iv for iv in data.interventions or [] if iv.effect("forced-baseline", "is_expected")]
    if with_eff:
        sig = sum(1 for iv in with_eff if iv.effect("forced-baseline", "is_expected").get("excludes_zero"))
        items.append(f"{len(with_eff)} interventions; {sig} with a forced − baseline effect on the "
                     f"expected-language share whose 95% CI excludes 0")
    missing = [n for n in list(TABLES) + ["interventions"] if n in data.problems]
    no_text = no_text_input(data.run)
    if no_text:  # the speech-vs-text tables cannot exist for this run: say why, not "not run"
        na = [n for n in missing if n in SPEECH_VS_TEXT_TABLES]
        missing = [n for n in missing if n not in SPEECH_VS_TEXT_TABLES]
        if na:
            items.append(f"not applicable ({no_text}): " + ", ".join(na))
    if missing:
        items.append("not run or unreadable: " + ", ".join(missing))
    verdicts = table(["claim", "verdict", "why"],
                     [(f"{c.number}. {c.claim}", badge(c.verdict), c.reason) for c in claims])
    return join([tag("h2", "Summary", id="summary"), info,
                 tag("ul", join(tag("li", i) for i in items), class_="headline"),
                 tag("h3", "Claims of the paper (METHODS §10)"), verdicts])


def _tests_table(c: Claim) -> Markup:
    """The tests behind one verdict: statistic, estimate, interval, p-value, counts and outcome."""
    def num(x, fmt="{:+.4f}"):
        if x is None:
            return "–"
        return str(int(x)) if fmt == "{:+.4f}" and float(x).is_integer() and abs(x) >= 1 else fmt.format(x)
    rows = [(t.part, t.statistic, num(t.estimate),
             "–" if t.interval is None else f"[{t.interval[0]:+.4f}, {t.interval[1]:+.4f}]",
             num(t.p_value, "{:.3g}"), t.n, t.outcome()) for t in c.tests]
    return table(["part", "statistic", "estimate", f"{100 * (1 - c.alpha):g}% interval", "p (one-sided)", "n",
                  "outcome"], rows)


def section_claims(rep: Writer, claims: list[Claim]) -> Markup:
    """Each claim: verdict, reason, tests, numbers and rule; the verdicts also as ``tables/claims.csv``."""
    parts = [tag("h2", "Claims", id="claims"),
             tag("p", "Each claim of the paper (METHODS §10) decided from this run's own numbers by a stated test "
                      f"at level α = {claims[0].alpha:g} (one-sided p-values; intervals at 1 − α). Missing, NaN or "
                      "too-small inputs are never turned into a verdict: they give “not testable here”. A claim "
                      "with several parts is not supported as soon as one tested part fails, and supported only "
                      "when every part was tested and passed.")]
    for c in claims:
        parts.append(tag("div",
                         tag("h3", f"Claim {c.number} ", badge(c.verdict)),
                         tag("p", tag("strong", c.claim)),
                         tag("p", c.reason),
                         _tests_table(c) if c.tests else Markup(""),
                         kv_table(c.numbers) if c.numbers else Markup(""),
                         tag("p", tag("strong", "Rule: "), c.rule, " Source: ", tag("code", c.source), class_="rule"),
                         class_="claim", id=f"claim-{c.number}"))
    name = rep.write_table("claims", pd.DataFrame([c.as_row() for c in claims]))
    parts.append(tag("p", "Table: ", tag("code", name)))
    return join(parts)


def _run_details(run: dict[str, Any]) -> Markup:
    """Model, corpus, versions and time per stage side by side, then the settings."""
    stages = run.get("stages") or {}
    srows = [(k, duration((v or {}).get("seconds") if isinstance(v, dict) else None)) for k, v in stages.items()]
    timing = join([table(["stage", "time"], srows + [("total", duration(_total_seconds(stages)))]) if srows
                   else tag("p", "no stage timings recorded"),
                   kv_table([("started", run.get("started", "–")), ("finished", run.get("finished", "–"))])])
    blocks = [("Model", kv_table(flatten(run.get("model") or {}))),
              ("Corpus", kv_table(flatten(run.get("corpus") or {}))),
              ("Versions", kv_table(flatten(run.get("versions") or {}))),
              ("Run time per stage", timing)]
    return join([tag("div", join(tag("div", tag("h3", h), b) for h, b in blocks), class_="grid"),
                 tag("h3", "Settings"), kv_table(flatten(run.get("settings") or {}))])


def section_provenance(rep: Writer) -> Markup:
    """Where the numbers come from: the run's record, the files read and any figure that failed."""
    data = rep.data
    parts = [tag("h2", "Provenance", id="provenance"),
             shown(data.run, _run_details, data.problems.get("run", "run.json is missing"))]
    files = [("run.json", "read" if data.run is not None else data.problems.get("run", ""))]
    files += [(f"analysis/{n}.csv", "read" if n in data.tables else data.problems.get(n, "")) for n in TABLES]
    files.append(("interventions/index.json", "read" if data.interventions is not None
                  else data.problems.get("interventions", "")))
    parts.append(tag("h3", "Files read"))
    parts.append(table(["file", "status"], files))
    parts.append(tag("p", f"Report written by babelscope {__version__} from run folder ",
                     tag("code", data.root.name), "."))
    if rep.failures:
        parts.append(tag("ul", join(tag("li", f) for f in rep.failures), class_="warn"))
    return join(parts)
