"""The figures of where the neurons sit: selectivity (AP) of the top-k units, their layers and
module groups, encoder depth, and the location of the modality-selective units."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from babelscope.report.data import FAMILY_NAMES, lang_name, layer_name, modality_groups, sorted_steps, step_label
from babelscope.report.figures import component_name, components, order_labels, short_analysis
from babelscope.report.plotting import figure_fn, heatmap, literal, new_figure, no_data, panel_grid, save, suptitle

KV_COLOR, OTHER_COLOR, UNITS_COLOR = "#d62728", "#4c72b0", "#c7c7c7"


@figure_fn
def ap_summary_heatmap(df: pd.DataFrame, out: str | Path) -> Path:
    """Mean AP of the top-k units per analysis, modality and label (rows) and step (columns)."""
    steps = sorted_steps(df["step"])
    keys = []
    for analysis in sorted(df["analysis"].unique()):
        sub = df[df["analysis"] == analysis]
        for mod in sorted(sub["modality"].unique()):
            for lab in order_labels(sub[sub["modality"] == mod]["label"]):
                keys.append((analysis, mod, lab))
    grid = np.full((len(keys), len(steps)), np.nan)
    rows = []
    for i, (a, m, lab) in enumerate(keys):
        sub = df[(df["analysis"] == a) & (df["modality"] == m) & (df["label"] == lab)]
        base = sub["base_rate"].mean()
        rows.append(f"{short_analysis(a)} · {m} · {lang_name(lab)} (base {base:.2f})")
        for _, r in sub.iterrows():
            grid[i, steps.index(str(r["step"]))] = r["mean_top_ap"]
    fig = new_figure(2.8 + 0.75 * len(steps) + 0.06 * max(len(r) for r in rows), 1.3 + 0.24 * len(rows))
    ax = fig.subplots()
    im = heatmap(ax, grid, rows, [step_label(s) for s in steps], vmin=0, vmax=1, rotate=False)
    ax.set_xlabel("recorded step")
    ks = sorted({int(k) for k in df["k"].dropna()})
    suptitle(fig, f"Mean AP of the top-k units (k = {', '.join(map(str, ks))}); base rate = AP of a non-selective unit")
    fig.colorbar(im, ax=ax, label="mean AP of top-k units", shrink=0.6)
    return save(fig, out)


@figure_fn
def top_units_by_layer(df: pd.DataFrame, out: str | Path) -> Path:
    """Where the top-k units sit: share of the top-k units (over all labels) per layer, one panel per
    analysis × modality × component, one line per step. Layer -1 (no layer) is shown as 'none'."""
    panels = []
    for analysis in sorted(df["analysis"].unique()):
        for mod in sorted(df[df["analysis"] == analysis]["modality"].unique()):
            sub = df[(df["analysis"] == analysis) & (df["modality"] == mod)]
            for comp in components(sub["component"]):
                panels.append((analysis, mod, comp))
    if not panels:
        return no_data(out, "no top-k units")
    ncols = 3 if len(panels) >= 3 else len(panels)
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(4.3 * ncols, 0.4 + 2.7 * nrows)
    axes = panel_grid(fig, len(panels), ncols)
    steps_all = sorted_steps(df["step"])
    colors = {s: f"C{i % 10}" for i, s in enumerate(steps_all)}
    totals = df.groupby(["analysis", "modality", "step"])["count"].sum()
    for ax, (analysis, mod, comp) in zip(axes, panels):
        sub = df[(df["analysis"] == analysis) & (df["modality"] == mod) & (df["component"] == comp)]
        layers = sorted(sub["layer"].unique())
        for step in sorted_steps(sub["step"]):
            s = sub[sub["step"] == step].groupby("layer")["count"].sum()
            tot = totals[(analysis, mod, step)]
            y = [s.get(l, 0) / tot if tot else np.nan for l in layers]
            ax.plot(layers, y, marker="o", ms=3.5, lw=1.4, color=colors[step], label=step_label(step))
        ax.set_title(literal(f"{short_analysis(analysis)} · {mod} input\n{component_name(comp)}"))
        ax.set_xlabel("layer")
        ax.set_ylabel("share of top-k units")
        ax.set_ylim(bottom=0)
        ticks = layers if len(layers) <= 13 else layers[:: math.ceil(len(layers) / 12)]
        ax.set_xticks(ticks)
        ax.set_xticklabels([layer_name(l) for l in ticks])
        ax.legend(frameon=False, loc="upper left")
    suptitle(fig, "Where the top-k units sit: share per layer (all labels pooled)")
    return save(fig, out)


@figure_fn
def top_units_by_group(df: pd.DataFrame, out: str | Path) -> Path:
    """Share of the top-k units in each component and module group, per analysis, modality and step."""
    keys = []
    for analysis in sorted(df["analysis"].unique()):
        for mod in sorted(df[df["analysis"] == analysis]["modality"].unique()):
            sub = df[(df["analysis"] == analysis) & (df["modality"] == mod)]
            keys += [(analysis, mod, s) for s in sorted_steps(sub["step"])]
    cols = []
    for comp in components(df["component"]):
        cols += [(comp, g) for g in sorted(df[df["component"] == comp]["group"].unique())]
    counts = df.groupby(["analysis", "modality", "step", "component", "group"])["count"].sum()
    grid = np.full((len(keys), len(cols)), np.nan)
    for i, (a, m, s) in enumerate(keys):
        tot = df[(df["analysis"] == a) & (df["modality"] == m) & (df["step"] == s)]["count"].sum()
        for j, (c, g) in enumerate(cols):
            grid[i, j] = counts.get((a, m, s, c, g), 0) / tot if tot else np.nan
    rows = [f"{short_analysis(a)} · {m} · {step_label(s)}" for a, m, s in keys]
    collabels = [f"{component_name(c)}: {g}" for c, g in cols]
    fig = new_figure(2.6 + 0.62 * len(cols) + 0.05 * max(len(r) for r in rows), 1.9 + 0.3 * len(rows))
    ax = fig.subplots()
    im = heatmap(ax, grid * 100, rows, collabels, cmap="Blues", vmin=0, vmax=100, fmt="{:.0f}", rotate=True)
    suptitle(fig, "Share of the top-k units (%) in each component and module group")
    ax.set_xlabel("component: module group")
    fig.colorbar(im, ax=ax, label="% of top-k units", shrink=0.7)
    return save(fig, out)


@figure_fn
def encoder_depth(df: pd.DataFrame, out: str | Path) -> Path:
    """Language selectivity of encoder layers vs depth: share of units with AP > 0.9 for some source
    language, and the mean of each unit's best AP (chance: mean base rate)."""
    d = df[df["layer"] >= 0]
    series = [(m, c) for c in components(d["component"]) for m in sorted(d[d["component"] == c]["modality"].unique())]
    fig = new_figure(10, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    for i, (m, c) in enumerate(series):
        s = d[(d["modality"] == m) & (d["component"] == c)].sort_values("layer")
        lab = literal(f"{component_name(c)} ({m} input)")
        ax1.plot(s["layer"], s["share_selective"], marker="o", ms=3.5, color=f"C{i}", label=lab)
        ax2.plot(s["layer"], s["mean_max_ap"], marker="o", ms=3.5, color=f"C{i}", label=lab)
        ax2.plot(s["layer"], s["chance_ap"], ls="--", lw=1, color=f"C{i}", alpha=0.7)
    ax1.set_title("share of units with AP > 0.9 for some language")
    ax1.set_ylabel("share of the layer's units")
    ax2.set_title("mean best AP per unit (dashed: chance)")
    ax2.set_ylabel("mean max AP")
    for ax in (ax1, ax2):
        ax.set_xlabel("encoder layer (0 = first)")
        ax.set_ylim(bottom=0)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    handles, labs = ax1.get_legend_handles_labels()
    fig.legend(handles, labs, loc="outside lower center", ncols=max(1, len(labs)), frameon=False)
    suptitle(fig, "Source-language selectivity across encoder depth")
    return save(fig, out)


@figure_fn
def modality_units(df: pd.DataFrame, out: str | Path) -> Path:
    """Where the top-k modality-selective units sit: per category, the share of the top-k units
    (red: cross-attention key/value projections) beside the share of all units (grey)."""
    g = modality_groups(df)
    fams = [f for f in ("x2en", "en2x") if f in set(g["family"])] + sorted(set(g["family"]) - {"x2en", "en2x"})
    panels = [(f, st) for f in fams for st in sorted_steps(g.loc[g["family"] == f, "step"])]
    steps = sorted_steps(g["step"])
    cats = sorted(g["category"].unique(), key=lambda c: (not c.endswith("k/v"), c))
    ncols = min(len(steps), len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(3.8 * ncols + 1.6, (0.9 + 0.36 * len(cats)) * nrows + 0.9)
    axes = panel_grid(fig, len(panels), ncols)
    y = np.arange(len(cats))
    kcol = df.assign(family=df["family"] if "family" in df.columns else "x2en")
    for i, (ax, (fam, step)) in enumerate(zip(axes, panels)):
        s = g[(g["step"] == step) & (g["family"] == fam)].set_index("category").reindex(cats)
        top = s["share_top"].fillna(0).to_numpy()
        units = s["share_units"].fillna(0).to_numpy()
        colors = [KV_COLOR if c.endswith("k/v") else OTHER_COLOR for c in cats]
        ax.barh(y - 0.2, top, 0.4, color=colors)
        ax.barh(y + 0.2, units, 0.4, color=UNITS_COLOR)
        for yi, (t_, e) in enumerate(zip(top, s["enrichment"].to_numpy())):
            if np.isfinite(e):
                ax.text(t_ + 0.01, yi - 0.2, f"×{e:.1f}", va="center", fontsize=7)
        ax.set_yticks(y)
        ax.set_yticklabels([literal(c) for c in cats] if i % ncols == 0 else [])
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.0, max(top.max(initial=0), units.max(initial=0)) * 1.25 + 0.05))
        ax.set_xlabel("share")
        k = int(kcol[(kcol["step"] == step) & (kcol["family"] == fam)]["k"].max())
        ax.set_title(literal(f"{FAMILY_NAMES.get(fam, fam)} · {step_label(step)} (k = {k})"))
    fig.legend([Patch(color=KV_COLOR), Patch(color=OTHER_COLOR), Patch(color=UNITS_COLOR)],
               ["share of top-k units: cross-attn k/v", "share of top-k units: other", "share of all units"],
               loc="outside lower center", ncols=3, frameon=False)
    suptitle(fig, "Modality-selective units (speech vs text): location and enrichment (×: top share / unit share)")
    return save(fig, out)
