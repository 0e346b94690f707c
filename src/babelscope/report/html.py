"""The self-contained HTML report of a run folder.

``build_report(run_dir)`` writes ``report.html`` (one file: figures embedded as base64 PNG data
URIs, inline CSS, no JavaScript, no external URL), ``figures/*.png`` and ``tables/*.csv``.

Safety: every value that reaches the page (generated texts, labels, file names, settings) goes
through :func:`esc`. HTML is only ever produced by the helpers here, which return :class:`Markup`
(a ``str`` marked as already-safe); any other value passed to them is escaped. A Content Security
Policy forbids scripts and any load other than inline styles and data-URI images.
"""

from __future__ import annotations

import base64
import html as _html
import json
import math
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import pandas as pd

from babelscope import __version__
from babelscope.atomic import commit_dir, remove_stale_temps, temp_name
from babelscope.outputs import REPORT_MARKER, check_replaceable
from babelscope.report import figures as F
from babelscope.report.claims import (NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, Claim, evaluate_claims,
                                      no_text_input)
from babelscope.report.data import (CONDITIONS, FAMILY_NAMES, TABLES, Intervention, RunData, fnum, lang_name, load_run,
                                    modality_groups, step_key, step_label)
from babelscope.tasks import TASKS

MAX_TEXT = 300
#: analysis tables that compare speech with text input (absent for a model without text input)
SPEECH_VS_TEXT_TABLES = ("overlap", "spearman", "modality_units", "overlap_boot")
N_EXAMPLES = 3


class Markup(str):
    """A string of HTML built by this module's helpers: inserted as is, never escaped again."""

    def __add__(self, other: Any) -> "Markup":
        return Markup(str.__add__(self, esc(other)))


def esc(value: Any) -> Markup:
    """Escape any value for HTML text or attribute context (``Markup`` passes through)."""
    if isinstance(value, Markup):
        return value
    return Markup(_html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[Any], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def tag(name: str, *content: Any, **attrs: Any) -> Markup:
    """``<name attrs>content</name>``; attribute names use ``_`` for ``-`` and a trailing ``_`` for
    reserved words (``class_``)."""
    at = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Markup(f"<{name}{at}>{join(content)}</{name}>")


def table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], class_: str | None = None) -> Markup:
    head = tag("tr", *[tag("th", c) for c in columns])
    body = join(tag("tr", *[tag("td", c) for c in r]) for r in rows)
    return tag("table", tag("thead", head), tag("tbody", body), class_=class_)


def kv_table(pairs: Iterable[tuple[Any, Any]]) -> Markup:
    return tag("table", tag("tbody", join(tag("tr", tag("th", k), tag("td", v)) for k, v in pairs)), class_="kv")


def details(summary: Any, *content: Any) -> Markup:
    return tag("details", tag("summary", summary), *content)


def not_run(reason: str) -> Markup:
    return tag("p", tag("span", "not run", class_="badge notrun"), " ", reason, class_="notrun")



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

def badge(verdict: str) -> Markup:
    cls = {SUPPORTED: "ok", NOT_SUPPORTED: "bad", NOT_TESTABLE: "na"}.get(verdict, "na")
    return tag("span", verdict, class_=f"badge {cls}")


def _truncate(text: Any, n: int = MAX_TEXT) -> str:
    s = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def _ci(v: Any, ci: Any, digits: int = 3, mark: bool = False) -> Markup:
    """A value with its interval on a second line (``mark``: append * for an interval excluding 0)."""
    if v is None:
        return esc("–")
    try:
        lo, hi = ci
        interval = f"[{fnum(lo, digits)}, {fnum(hi, digits)}]"
    except (TypeError, ValueError):
        return esc(fnum(v, digits))
    return join([fnum(v, digits) + (" *" if mark else ""), tag("span", interval, class_="ci")])


def _duration(seconds: Any) -> str:
    try:
        s = float(seconds)
    except (TypeError, ValueError):
        return "–"
    if math.isnan(s):
        return "–"
    if s < 60:
        return f"{s:.1f} s"
    m, sec = divmod(int(round(s)), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min {sec:02d} s" if h else f"{m} min {sec:02d} s"


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(d, dict):
        out: list[tuple[str, str]] = []
        for k, v in d.items():
            out += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out or [(prefix, "{}")]
    if isinstance(d, (list, tuple)):
        return [(prefix, json.dumps(d, ensure_ascii=False, default=str))]
    return [(prefix, "null" if d is None else str(d))]


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;color:#1d1d1f;
background:#fafafa;line-height:1.45}
main{max-width:1480px;margin:0 auto;padding:1.5rem 2rem 4rem;background:#fff}
h1{font-size:1.7rem;margin:.2rem 0 .3rem}h2{font-size:1.35rem;border-bottom:2px solid #e3e3e3;padding-bottom:.2rem;
margin-top:2.4rem}h3{font-size:1.08rem;margin:1.4rem 0 .4rem}
nav{font-size:.92rem;margin:.6rem 0 1rem}nav a{margin-right:.9rem;color:#0b5cad;text-decoration:none}
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.86rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f0f2f5}table.kv th{background:#f7f7f9;font-weight:600;white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0 1.6rem}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.86rem;color:#555;margin-top:.3rem}
.badge{display:inline-block;white-space:nowrap;border-radius:.8rem;padding:.05rem .6rem;font-size:.8rem;font-weight:600;color:#fff}
.badge.ok{background:#2e7d32}.badge.bad{background:#c62828}.badge.na{background:#757575}
.badge.notrun{background:#9e9e9e}p.notrun{color:#666}
.claim{border:1px solid #ddd;border-radius:.4rem;padding:.6rem 1rem;margin:.8rem 0}
.claim h3{margin-top:.2rem}.rule{font-size:.86rem;color:#444;background:#f7f7f9;padding:.4rem .6rem;border-radius:.3rem}
.warn{color:#8a4b00;background:#fff4e5;padding:.3rem .6rem;border-radius:.3rem}
details{margin:.4rem 0 1rem}summary{cursor:pointer;color:#0b5cad}
.gen td{max-width:28rem;word-break:break-word}
ul.headline li{margin:.15rem 0}
.ci{display:block;color:#555;font-size:.78rem;white-space:nowrap}
.grid{display:flex;flex-wrap:wrap;gap:0 2.5rem;align-items:flex-start}
table.iv{font-size:.8rem;display:block;overflow-x:auto}
"""

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'none'; "
       "base-uri 'none'; form-action 'none'")


class _Report:
    def __init__(self, data: RunData, out: Path):
        self.data = data
        self.out = out
        self.fig_dir = out / "figures"
        self.tab_dir = out / "tables"
        self.failures: list[str] = []

    # -- figures and tables -----------------------------------------------------------------
    def figure(self, name: str, fn: Callable[..., Path], arg: Any, caption: str) -> Markup:
        path = self.fig_dir / f"{name}.png"
        try:
            fn(arg, path)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the whole report
            msg = f"figure {name} failed: {type(exc).__name__}: {exc}"
            self.failures.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            return tag("p", msg, class_="warn")
        b64 = base64.b64encode(path.read_bytes()).decode("ascii")
        img = Markup(f'<img src="data:image/png;base64,{b64}" alt="{esc(caption)}">')
        return tag("figure", img, tag("figcaption", caption, " (", tag("code", f"figures/{name}.png"), ")"))

    def write_table(self, name: str, df: pd.DataFrame) -> str:
        self.tab_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(self.tab_dir / f"{name}.csv", index=False)
        return f"tables/{name}.csv"

    def copy_inputs(self) -> None:
        self.tab_dir.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            if name in self.data.tables:
                shutil.copyfile(self.data.path(name), self.tab_dir / f"{name}.csv")

    # -- sections ------------------------------------------------------------------------------
    def section_summary(self, claims: list[Claim]) -> Markup:
        run = self.data.run or {}
        model, corpus = run.get("model") or {}, run.get("corpus") or {}
        langs = corpus.get("languages") or []
        stages = run.get("stages") or {}
        total = sum(float((v or {}).get("seconds") or 0) for v in stages.values() if isinstance(v, dict))
        info = kv_table([
            ("model", f"{model.get('name', '–')} ({model.get('family', '?')}; id {model.get('id', '–')}, "
                      f"revision {model.get('revision', '–')}, {model.get('dtype', '–')})"),
            ("corpus", f"{corpus.get('path', '–')}: {corpus.get('n_groups', '–')} parallel sentence groups"),
            ("languages", ", ".join(f"{lang_name(l)} ({l})" for l in langs) or "–"),
            ("run", f"{run.get('started', '–')} → {run.get('finished', '–')}; stages took {_duration(total)}"),
        ])
        items = []
        ap = self.data.table("ap_summary")
        if ap is not None:
            items.append(f"{int(ap['n_units'].max()):,} units ranked per analysis")
            for analysis, g in ap.groupby("analysis"):
                best = g.loc[g["max_ap"].idxmax()]
                items.append(f"{analysis}: best AP {best['max_ap']:.3f} ({lang_name(best['label'])}, "
                             f"{best['modality']}, {step_label(best['step'])}); up to "
                             f"{int(g['n_ap_over_0_9'].max())} units with AP > 0.9 for one label")
        ivs = self.data.interventions or []
        with_eff = [iv for iv in ivs if iv.effect("forced-baseline", "is_expected")]
        if with_eff:
            sig = sum(1 for iv in with_eff if iv.effect("forced-baseline", "is_expected").get("excludes_zero"))
            items.append(f"{len(with_eff)} interventions; {sig} with a forced − baseline effect on the "
                         f"expected-language share whose 95% CI excludes 0")
        missing = [n for n in list(TABLES) + ["interventions"] if n in self.data.problems]
        no_text = no_text_input(self.data.run)
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

    def section_location(self) -> Markup:
        parts = [tag("h2", "Where the neurons sit", id="location")]
        ap = self.data.table("ap_summary")
        parts.append(tag("h3", "Selectivity (average precision)"))
        if ap is None:
            parts.append(not_run(self.data.why_missing("ap_summary")))
        else:
            parts.append(self.figure("ap_summary", F.ap_summary_heatmap, ap,
                                     "Mean AP of the top-k units per analysis, input modality and label (rows) "
                                     "at each recorded step; the base rate is the AP of a unit that is not selective."))
            rows = [(r.analysis, r.modality, step_label(r.step), lang_name(r.label), fnum(r.base_rate),
                     fnum(r.max_ap), r.n_ap_over_0_9, fnum(r.mean_top_ap), r.k) for r in ap.itertuples()]
            parts.append(details("AP summary table (tables/ap_summary.csv)", table(
                ["analysis", "modality", "step", "label", "base rate", "max AP", "units AP > 0.9",
                 "mean top-k AP", "k"], rows)))
        loc = self.data.table("top_units_location")
        parts.append(tag("h3", "Top-k units by layer and module"))
        if loc is None:
            parts.append(not_run(self.data.why_missing("top_units_location")))
        else:
            parts.append(self.figure("top_units_by_layer", F.top_units_by_layer, loc,
                                     "Share of the top-k units per layer (all labels pooled), one panel per "
                                     "analysis, input modality and component; one line per step."))
            parts.append(self.figure("top_units_by_group", F.top_units_by_group, loc,
                                     "Share of the top-k units in each component and module group."))
        depth = self.data.table("encoder_depth")
        parts.append(tag("h3", "Encoder depth"))
        if depth is None:
            parts.append(not_run(self.data.why_missing("encoder_depth")))
        else:
            parts.append(self.figure("encoder_depth", F.encoder_depth, depth,
                                     "Source-language selectivity of each encoder layer: share of units with "
                                     "AP > 0.9 for some language, and the mean of each unit's best AP."))
        mu = self.data.table("modality_units")
        parts.append(tag("h3", "Modality-selective units"))
        if mu is None:
            parts.append(not_run(self.data.why_missing("modality_units")))
        else:
            parts.append(self.figure("modality_units", F.modality_units, mu,
                                     "Where the top-k units of the modality analysis (speech vs text) sit, "
                                     "against the share of all units; cross-attention key/value projections in red."))
            g = modality_groups(mu)
            name = self.write_table("modality_enrichment", g)
            rows = [(FAMILY_NAMES.get(r.family, r.family), step_label(r.step), r.category, r.n_units, r.n_top,
                     fnum(r.share_units), fnum(r.share_top), fnum(r.enrichment, 2)) for r in g.itertuples()]
            parts.append(details(f"Enrichment per category ({name})", table(
                ["task family", "step", "category", "units", "top-k units", "share of units", "share of top-k",
                 "enrichment"],
                rows)))
        return join(parts)

    def section_overlap(self) -> Markup:
        parts = [tag("h2", "Cross-modal overlap", id="overlap")]
        ov = self.data.table("overlap")
        if ov is None:
            parts.append(not_run(self.data.why_missing("overlap")))
        else:
            parts.append(self.figure("overlap", F.overlap_heatmaps, ov,
                                     "Overlap |A ∩ B| of the top-k units found from speech input (rows) and from "
                                     "text input (columns); the diagonal pairs the same label. Chance = k·k/U."))
            d = ov[ov["speech_label"] == ov["text_label"]].copy()
            d["overlap_per_k"] = d["count"] / d["k"]
            d["chance_per_k"] = d["chance"] / d["k"]
            summ = d.groupby(["analysis", "step"], sort=False).agg(
                mean_diagonal_overlap_per_k=("overlap_per_k", "mean"), mean_jaccard=("jaccard", "mean"),
                chance_per_k=("chance_per_k", "mean"), n_labels=("count", "size")).reset_index()
            order = sorted(range(len(summ)), key=lambda i: (summ["analysis"].iloc[i], step_key(summ["step"].iloc[i])))
            summ = summ.iloc[order].reset_index(drop=True)
            name = self.write_table("overlap_diagonal", summ)
            parts.append(table(["analysis", "step", "mean diagonal overlap / k", "mean Jaccard", "chance / k",
                                "labels"],
                               [(r.analysis, step_label(r.step), fnum(r.mean_diagonal_overlap_per_k),
                                 fnum(r.mean_jaccard), fnum(r.chance_per_k, 4), r.n_labels)
                                for r in summ.itertuples()]))
            parts.append(tag("p", "Table: ", tag("code", name)))
        acr = self.data.table("across_steps")
        parts.append(tag("h3", "Across steps"))
        if acr is None:
            parts.append(not_run(self.data.why_missing("across_steps")))
        else:
            parts.append(self.figure("across_steps", F.across_steps_bars, acr,
                                     "Overlap of the top-k units of the same label and modality at two steps, as "
                                     "a share of k; dashed: chance."))
        ro = self.data.table("role_overlap")
        parts.append(tag("h3", "Representation and control"))
        if ro is None:
            parts.append(not_run(self.data.why_missing("role_overlap")))
        else:
            parts.append(tag("p", "Top-k units of a language as the input's language (source-language analysis) "
                                  "and as the asked-for output language (target-language analysis), same modality "
                                  "and step; p: hypergeometric tail P(X ≥ overlap) for two random k-sets."))
            rows = sorted(ro.itertuples(), key=lambda r: (r.modality, step_key(r.step), str(r.label)))
            parts.append(table(["input", "step", "language", "overlap", "k", "chance", "Jaccard", "p"],
                               [(r.modality, step_label(r.step), lang_name(r.label), r.count, r.k, fnum(r.chance, 3),
                                 fnum(r.jaccard), f"{r.p_value:.2g}") for r in rows]))
            parts.append(tag("p", "Table: ", tag("code", "analysis/role_overlap.csv")))
        return join(parts)

    def section_agreement(self) -> Markup:
        parts = [tag("h2", "Rank agreement", id="agreement")]
        sp = self.data.table("spearman")
        if sp is None:
            parts.append(not_run(self.data.why_missing("spearman")))
            return join(parts)
        parts.append(tag("p", "Spearman ρ between the AP vectors derived from speech input and from text input "
                              "for the same label, over all units (global) and per layer."))
        if (sp["scope"] == "global").any():
            parts.append(self.figure("spearman_global", F.spearman_global, sp,
                                     "Global Spearman ρ per analysis and label (rows) and step (columns)."))
        else:
            parts.append(not_run("spearman.csv has no rows with scope 'global'"))
        if (sp["scope"] == "layer").any():
            parts.append(self.figure("spearman_layers", F.spearman_layers, sp,
                                     "Spearman ρ per layer (rows) and label (columns)."))
        else:
            parts.append(not_run("spearman.csv has no rows with scope 'layer'"))
        return join(parts)

    def section_concentration(self) -> Markup:
        parts = [tag("h2", "Concentration of activation", id="concentration"),
                 tag("p", "How much of a group's activation mass sits in few units (METHODS §9): Gini coefficient "
                          "over units of the mean absolute response, share of the top 1% of units, normalised "
                          "entropy, and Lorenz curves. These measures are babelscope's own; the paper does not "
                          "publish its measure.")]
        co = self.data.table("concentration")
        if co is None:
            parts.append(not_run(self.data.why_missing("concentration")))
        else:
            parts.append(self.figure("gini", F.gini_heatmaps, co,
                                     "Gini coefficient (mean over tasks) by language and input modality, one "
                                     "panel per component and step."))
            # transcription tasks (asr) have no text side: the speech/text columns compare like with like
            paired = co[[not (t in TASKS and TASKS[t].direction == "same") for t in co["task"]]]
            g = paired.groupby(["component", "lang", "modality"]).agg(
                gini=("gini", "mean"), top1_share=("top1_share", "mean"), entropy=("entropy", "mean"),
                rows=("gini", "size")).reset_index()
            name = self.write_table("concentration_by_language", g)
            parts.append(details(f"Mean over steps and tasks with both input modalities, per component ({name}); "
                                 "claim 5's tests pair speech with text within step, task family and language",
                                 table(["component", "language", "modality", "Gini", "top-1% share", "entropy", "rows"],
                                       [(r.component, lang_name(r.lang), r.modality, fnum(r.gini), fnum(r.top1_share),
                                         fnum(r.entropy), r.rows) for r in g.itertuples()])))
        lo = self.data.table("lorenz")
        parts.append(tag("h3", "Lorenz curves"))
        if lo is None:
            parts.append(not_run(self.data.why_missing("lorenz")))
        else:
            parts.append(self.figure("lorenz", F.lorenz_curves, lo,
                                     "Lorenz curves of activation mass; the further below the diagonal, the more "
                                     "concentrated."))
        return join(parts)

    def section_interventions(self) -> Markup:
        parts = [tag("h2", "Interventions", id="interventions")]
        ivs = self.data.interventions
        if ivs is None:
            parts.append(not_run(self.data.problems.get("interventions", "not run")))
            return join(parts)
        if not ivs:
            parts.append(not_run("interventions/index.json lists no intervention"))
            return join(parts)
        rows, flat = [], []
        for iv in ivs:
            s = iv.spec
            conds = [_ci((iv.condition(c) or {}).get("share_expected"), (iv.condition(c) or {}).get("share_expected_ci95"))
                     for c in CONDITIONS]
            effs = []
            for pair in ("forced-baseline", "forced-unforced"):
                e = iv.effect(pair, "is_expected")
                effs.append("–" if not e else _ci(e.get("effect"), e.get("ci95"), mark=bool(e.get("excludes_zero"))))
            n = (iv.summary or {}).get("n_samples", "–")
            target = lang_name(s.get("steer_to")) if s.get("steer_to") else "–"
            pv = (iv.effect("forced-baseline", "is_expected") or {}).get("p_two_sided")
            rows.append((iv.name, s.get("kind", "–"), iv.direction, target, iv.steps_label,
                         f"{lang_name(s.get('set_label', '–'))}, k = {s.get('k', '–')}, {s.get('component', '–')}"
                         + (" (sweep: headline point)" if iv.curve else ""),
                         n, *conds, *effs, "–" if pv is None else fnum(pv, 4)))
            rec = {"name": iv.name, **{k: s.get(k) for k in ("kind", "source_modality", "target_modality", "steer_to",
                                                          "ask", "set_label", "k", "component")},
                   "steps": iv.steps_label, "n_samples": n, "problem": iv.problem}
            for c in CONDITIONS:
                cd = iv.condition(c) or {}
                ci = cd.get("share_expected_ci95") or [None, None]
                rec.update({f"{c}_share_expected": cd.get("share_expected"), f"{c}_ci_lo": ci[0], f"{c}_ci_hi": ci[1],
                            f"{c}_mean_expected_prob": cd.get("mean_expected_prob"),
                            f"{c}_share_asked": cd.get("share_asked"), f"{c}_mean_chrf": cd.get("mean_chrf")})
            for pair in ("forced-unforced", "forced-baseline", "baseline-unforced"):
                for m in ("is_expected", "expected_prob", "is_asked", "chrf"):
                    e = iv.effect(pair, m) or {}
                    ci = e.get("ci95") or [None, None]
                    rec.update({f"{pair}_{m}": e.get("effect"), f"{pair}_{m}_lo": ci[0], f"{pair}_{m}_hi": ci[1]})
            flat.append(rec)
        name = self.write_table("interventions", pd.DataFrame(flat))
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
        parts.append(self.figure("interventions", F.intervention_shares, ivs,
                                 "Expected-language share under unforced, random-baseline and forced generation "
                                 "(95% CI)."))
        if any(iv.kind == "steering" and iv.summary for iv in ivs):
            parts.append(self.figure("steering", F.steering_by_steps, ivs,
                                     "Steering success by decoding-step range and modality direction: forced "
                                     "(filled, 95% CI) and random baseline (hollow)."))
        else:
            parts.append(not_run("no steering intervention"))
        sweeps = [iv for iv in ivs if iv.curve]
        if sweeps:
            from babelscope.report.figures_dose import dose_response
            parts.append(tag("h3", "Dose–response"))
            parts.append(self.figure("dose_response", dose_response, ivs,
                                     "Steering at each swept set size (or value factor): share of outputs in the "
                                     "steered-to language when forced (95% CI of the paired effect against the "
                                     "baselines' mean) over the range of the random-unit baselines (each drawn "
                                     "with its own seed, forced at the same size, steps and factor)."))
            prow = []
            for iv in sweeps:
                for pt in iv.curve:
                    b = pt.get("baseline_shares") or []
                    prow.append((iv.name, iv.steps_label, pt.get("k"), fnum(pt.get("factor"), 2),
                                 fnum(pt.get("forced_share")), f"{fnum(min(b))}–{fnum(max(b))}" if b else "–",
                                 _ci(pt.get("effect"), pt.get("ci"), mark=bool((pt.get("ci") or [0])[0] > 0)),
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
        parts.append(tag("h3", "Example generations"))
        for iv in ivs:
            parts.append(self.examples(iv))
        return join(parts)

    def examples(self, iv: Intervention) -> Markup:
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
                 g(r, "expected_lang"), g(r, "lid_lang"), _truncate(g(r, "text")), _truncate(g(r, "reference")))
                for r in (dict(x) for _, x in sub.iterrows())]
        return details(f"{iv.name} ({iv.direction}, {iv.steps_label})", table(
            ["sample", "condition", "task", "expected", "identified", "generated text", "reference"], rows,
            class_="gen"))

    def section_claims(self, claims: list[Claim]) -> Markup:  # noqa: D102
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
        name = self.write_table("claims", pd.DataFrame([c.as_row() for c in claims]))
        parts.append(tag("p", "Table: ", tag("code", name)))
        return join(parts)

    def section_provenance(self) -> Markup:
        import babelscope
        parts = [tag("h2", "Provenance", id="provenance")]
        run = self.data.run
        if run is None:
            parts.append(not_run(self.data.problems.get("run", "run.json is missing")))
        else:
            stages = run.get("stages") or {}
            srows = [(k, _duration((v or {}).get("seconds") if isinstance(v, dict) else None)) for k, v in stages.items()]
            total = sum(float((v or {}).get("seconds") or 0) for v in stages.values() if isinstance(v, dict))
            timing = join([table(["stage", "time"], srows + [("total", _duration(total))]) if srows
                           else tag("p", "no stage timings recorded"),
                           kv_table([("started", run.get("started", "–")), ("finished", run.get("finished", "–"))])])
            blocks = [("Model", kv_table(_flatten(run.get("model") or {}))),
                      ("Corpus", kv_table(_flatten(run.get("corpus") or {}))),
                      ("Versions", kv_table(_flatten(run.get("versions") or {}))),
                      ("Run time per stage", timing)]
            parts.append(tag("div", join(tag("div", tag("h3", h), b) for h, b in blocks), class_="grid"))
            parts.append(tag("h3", "Settings"))
            parts.append(kv_table(_flatten(run.get("settings") or {})))
        files = [("run.json", "read" if self.data.run is not None else self.data.problems.get("run", ""))]
        files += [(f"analysis/{n}.csv", "read" if n in self.data.tables else self.data.problems.get(n, ""))
                  for n in TABLES]
        files.append(("interventions/index.json", "read" if self.data.interventions is not None
                      else self.data.problems.get("interventions", "")))
        parts.append(tag("h3", "Files read"))
        parts.append(table(["file", "status"], files))
        parts.append(tag("p", f"Report written by babelscope {babelscope.__version__} from run folder ",
                         tag("code", self.data.root.name), "."))
        if self.failures:
            parts.append(tag("ul", join(tag("li", f) for f in self.failures), class_="warn"))
        return join(parts)


def _page(title: str, body: Markup) -> str:
    nav = tag("nav", join(tag("a", label, href=f"#{anchor}") for anchor, label in (
        ("summary", "Summary"), ("location", "Where the neurons sit"), ("overlap", "Cross-modal overlap"),
        ("agreement", "Rank agreement"), ("concentration", "Concentration"), ("interventions", "Interventions"),
        ("claims", "Claims"), ("provenance", "Provenance"))))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(CSP)}\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            f"{tag('h1', title)}\n{nav}\n{body}\n</main>\n</body>\n</html>\n")


def build_report(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of a run folder and return the path of ``report.html``.

    ``out_dir`` defaults to ``RUN/report``; it must be absent, empty or an earlier report, which is
    replaced whole (atomically). Missing files make their section say "not run" and their claim "not testable here".
    """
    from babelscope.errors import ConfigError

    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"{run}: not a run folder (no such directory)")
    out = Path(out_dir) if out_dir is not None else run / "report"
    # replace only an earlier report: a folder of the user's files is never touched
    check_replaceable(out, "report")
    data = load_run(run)
    claims = evaluate_claims(data)
    # the whole report (page, figures, tables, marker) is built in a fresh folder beside ``out`` and
    # swapped in at the end: an interrupted run leaves the old report whole (babelscope.atomic)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out)
    tmp = temp_name(out)
    if tmp.exists():
        shutil.rmtree(tmp)
    try:  # from the mkdir on: an interrupt at any point leaves no temporary behind
        tmp.mkdir()
        rep = _Report(data, tmp)
        rep.copy_inputs()
        body = join([rep.section_summary(claims), rep.section_location(), rep.section_overlap(),
                     rep.section_agreement(), rep.section_concentration(), rep.section_interventions(),
                     rep.section_claims(claims), rep.section_provenance()], "\n")
        model = ((data.run or {}).get("model") or {}).get("name") or run.name
        (tmp / "report.html").write_text(_page(f"babelscope report: {model}", body), encoding="utf-8")
        (tmp / REPORT_MARKER).write_text(json.dumps({"artifact": "report", "run": str(run.resolve()),
                                                     "babelscope_version": __version__}, indent=1))
        commit_dir(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out / "report.html"
