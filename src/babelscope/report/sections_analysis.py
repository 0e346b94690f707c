"""The sections of the page that show the analysis tables: where the neurons sit, cross-modal
overlap, rank agreement and concentration of activation (declared as :class:`~.layout.Section`\\ s)."""

from __future__ import annotations

import pandas as pd

from babelscope.report.data import FAMILY_NAMES, fnum, lang_name, modality_groups, step_key, step_label
from babelscope.report.figures_concentration import gini_heatmaps, lorenz_curves
from babelscope.report.figures_overlap import across_steps_bars, overlap_heatmaps, spearman_global, spearman_layers
from babelscope.report.figures_selectivity import (ap_summary_heatmap, encoder_depth, modality_units,
                                                   top_units_by_group, top_units_by_layer)
from babelscope.report.layout import Fig, Part, Section, Writer, shown
from babelscope.report.markup import Markup, details, table, tag
from babelscope.vocab.tasks import TASKS


# ------------------------------------------------------------------------------ where the neurons sit

def _ap_table(rep: Writer, ap: pd.DataFrame) -> list[Markup]:
    rows = [(r.analysis, r.modality, step_label(r.step), lang_name(r.label), fnum(r.base_rate),
             fnum(r.max_ap), r.n_ap_over_0_9, fnum(r.mean_top_ap), r.k) for r in ap.itertuples()]
    return [details("AP summary table (tables/ap_summary.csv)", table(
        ["analysis", "modality", "step", "label", "base rate", "max AP", "units AP > 0.9",
         "mean top-k AP", "k"], rows))]


def _modality_enrichment(rep: Writer, mu: pd.DataFrame) -> list[Markup]:
    g = modality_groups(mu)
    name = rep.write_table("modality_enrichment", g)
    rows = [(FAMILY_NAMES.get(r.family, r.family), step_label(r.step), r.category, r.n_units, r.n_top,
             fnum(r.share_units), fnum(r.share_top), fnum(r.enrichment, 2)) for r in g.itertuples()]
    return [details(f"Enrichment per category ({name})", table(
        ["task family", "step", "category", "units", "top-k units", "share of units", "share of top-k",
         "enrichment"],
        rows))]


def _evidence_table(rep: Writer, ev: pd.DataFrame) -> list[Markup]:
    per = ev.groupby(["analysis", "modality", "step"], sort=False).agg(
        n_samples=("n_samples", "first"), n_used=("n_used", "first"), n_dropped=("n_dropped", "first"),
        min_pos=("positives", "min"), min_neg=("negatives", "min"),
        skipped=("ranked", lambda r: ", ".join(lang_name(l) for l in ev.loc[r.index][~r]["label"]) or "–"))
    rows = [(a, m, step_label(s), r.n_samples, r.n_used, r.n_dropped, r.min_pos, r.min_neg, r.skipped)
            for (a, m, s), r in per.iterrows()]
    return [tag("p", "Each ranking uses the samples of its analysis that have a response at its view; a label with "
                     "fewer positives or negatives than the minimum is not ranked. Per label: tables/evidence.csv."),
            table(["analysis", "modality", "step", "samples", "used", "dropped", "fewest positives",
                   "fewest negatives", "labels skipped"], rows)]


LOCATION = Section("location", "Where the neurons sit", (
    Part("evidence", "Samples used and dropped per analysis", (), _evidence_table),
    Part("ap_summary", "Selectivity (average precision)", (Fig(
        "ap_summary", ap_summary_heatmap,
        "Mean AP of the top-k units per analysis, input modality and label (rows) "
        "at each recorded step; the base rate is the AP of a unit that is not selective."),), _ap_table),
    Part("top_units_location", "Top-k units by layer and module", (
        Fig("top_units_by_layer", top_units_by_layer,
            "Share of the top-k units per layer (all labels pooled), one panel per "
            "analysis, input modality and component; one line per step."),
        Fig("top_units_by_group", top_units_by_group, "Share of the top-k units in each component and module group."))),
    Part("encoder_depth", "Encoder depth", (Fig(
        "encoder_depth", encoder_depth,
        "Source-language selectivity of each encoder layer: share of units with "
        "AP > 0.9 for some language, and the mean of each unit's best AP."),)),
    Part("modality_units", "Modality-selective units", (Fig(
        "modality_units", modality_units,
        "Where the top-k units of the modality analysis (speech vs text) sit, "
        "against the share of all units; cross-attention key/value projections in red."),), _modality_enrichment),
))


# ------------------------------------------------------------------------------- cross-modal overlap

def _overlap_diagonal(rep: Writer, ov: pd.DataFrame) -> list[Markup]:
    d = ov[ov["speech_label"] == ov["text_label"]].copy()
    d["overlap_per_k"] = d["count"] / d["k"]
    d["chance_per_k"] = d["chance"] / d["k"]
    summ = d.groupby(["analysis", "step"], sort=False).agg(
        mean_diagonal_overlap_per_k=("overlap_per_k", "mean"), mean_jaccard=("jaccard", "mean"),
        chance_per_k=("chance_per_k", "mean"), n_labels=("count", "size")).reset_index()
    order = sorted(range(len(summ)), key=lambda i: (summ["analysis"].iloc[i], step_key(summ["step"].iloc[i])))
    summ = summ.iloc[order].reset_index(drop=True)
    name = rep.write_table("overlap_diagonal", summ)
    return [table(["analysis", "step", "mean diagonal overlap / k", "mean Jaccard", "chance / k", "labels"],
                  [(r.analysis, step_label(r.step), fnum(r.mean_diagonal_overlap_per_k),
                    fnum(r.mean_jaccard), fnum(r.chance_per_k, 4), r.n_labels)
                   for r in summ.itertuples()]),
            tag("p", "Table: ", tag("code", name))]


def _role_overlap(rep: Writer, ro: pd.DataFrame) -> list[Markup]:
    rows = sorted(ro.itertuples(), key=lambda r: (r.modality, step_key(r.step), str(r.label)))
    return [tag("p", "Top-k units of a language as the input's language (source-language analysis) "
                     "and as the asked-for output language (target-language analysis), same modality "
                     "and step; p: hypergeometric tail P(X ≥ overlap) for two random k-sets."),
            table(["input", "step", "language", "overlap", "k", "chance", "Jaccard", "p"],
                  [(r.modality, step_label(r.step), lang_name(r.label), r.count, r.k, fnum(r.chance, 3),
                    fnum(r.jaccard), f"{r.p_value:.2g}") for r in rows]),
            tag("p", "Table: ", tag("code", "analysis/role_overlap.csv"))]


OVERLAP = Section("overlap", "Cross-modal overlap", (
    Part("overlap", None, (Fig(
        "overlap", overlap_heatmaps,
        "Overlap |A ∩ B| of the top-k units found from speech input (rows) and from "
        "text input (columns); the diagonal pairs the same label. Chance = k·k/U."),), _overlap_diagonal),
    Part("across_steps", "Across steps", (Fig(
        "across_steps", across_steps_bars,
        "Overlap of the top-k units of the same label and modality at two steps, as "
        "a share of k; dashed: chance."),)),
    Part("role_overlap", "Representation and control", more=_role_overlap),
))


# ------------------------------------------------------------------------------------ rank agreement

def _agreement(rep: Writer, sp: pd.DataFrame) -> list[Markup]:
    return [tag("p", "Spearman ρ between the AP vectors derived from speech input and from text input "
                     "for the same label, over all units (global) and per layer."),
            shown(sp if (sp["scope"] == "global").any() else None,
                  lambda sp: rep.figure("spearman_global", spearman_global, sp,
                                        "Global Spearman ρ per analysis and label (rows) and step (columns)."),
                  "spearman.csv has no rows with scope 'global'"),
            shown(sp if (sp["scope"] == "layer").any() else None,
                  lambda sp: rep.figure("spearman_layers", spearman_layers, sp,
                                        "Spearman ρ per layer (rows) and label (columns)."),
                  "spearman.csv has no rows with scope 'layer'")]


AGREEMENT = Section("agreement", "Rank agreement", (Part("spearman", more=_agreement),))


# ------------------------------------------------------------------------------------- concentration

def _concentration_table(rep: Writer, co: pd.DataFrame) -> list[Markup]:
    # transcription tasks (asr) have no text side: the speech/text columns compare like with like
    paired = co[[not (t in TASKS and TASKS[t].direction == "same") for t in co["task"]]]
    g = paired.groupby(["component", "lang", "modality"]).agg(
        gini=("gini", "mean"), top1_share=("top1_share", "mean"), entropy=("entropy", "mean"),
        rows=("gini", "size")).reset_index()
    name = rep.write_table("concentration_by_language", g)
    return [details(f"Mean over steps and tasks with both input modalities, per component ({name}); "
                    "claim 5's tests pair speech with text within step, task family and language",
                    table(["component", "language", "modality", "Gini", "top-1% share", "entropy", "rows"],
                          [(r.component, lang_name(r.lang), r.modality, fnum(r.gini), fnum(r.top1_share),
                            fnum(r.entropy), r.rows) for r in g.itertuples()]))]


CONCENTRATION = Section("concentration", "Concentration of activation", (
    Part("concentration", None, (Fig(
        "gini", gini_heatmaps,
        "Gini coefficient (mean over tasks) by language and input modality, one "
        "panel per component and step."),), _concentration_table),
    Part("lorenz", "Lorenz curves", (Fig(
        "lorenz", lorenz_curves,
        "Lorenz curves of activation mass; the further below the diagonal, the more concentrated."),)),
), intro="How much of a group's activation mass sits in few units (METHODS §9): Gini coefficient "
         "over units of the mean absolute response, share of the top 1% of units, normalised "
         "entropy, and Lorenz curves. These measures are babelscope's own; the paper does not "
         "publish its measure.")

#: the analysis sections, in page order
ANALYSIS_SECTIONS = (LOCATION, OVERLAP, AGREEMENT, CONCENTRATION)
