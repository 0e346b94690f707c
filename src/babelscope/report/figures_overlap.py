"""The figures that compare top-k units across input modalities and steps: cross-modal overlap,
rank agreement (Spearman ρ, global and per layer) and stability across steps."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from babelscope.report.data import lang_name, layer_name, sorted_steps, step_key, step_label
from babelscope.report.figures import component_name, components, order_labels, short_analysis
from babelscope.report.plotting import figure_fn, heatmap, literal, new_figure, no_data, panel_grid, save, suptitle


@figure_fn
def overlap_heatmaps(df: pd.DataFrame, out: str | Path) -> Path:
    """Cross-modal overlap |A ∩ B| of the top-k sets: speech-derived label (rows) × text-derived
    label (columns), one panel per analysis (rows of panels) and step (columns); chance in titles."""
    analyses = sorted(df["analysis"].unique())
    steps = sorted_steps(df["step"])
    labels = order_labels(set(df["speech_label"]) | set(df["text_label"]))
    n = len(labels)
    side = 0.42 * n + 1.6
    fig = new_figure(side * len(steps) + 1.2, (side - 0.3) * len(analyses) + 0.6)
    axes = fig.subplots(len(analyses), len(steps), squeeze=False)
    vmax = max(float(df["count"].max()), 1.0)
    im = None
    for i, analysis in enumerate(analyses):
        for j, step in enumerate(steps):
            ax = axes[i][j]
            sub = df[(df["analysis"] == analysis) & (df["step"] == step)]
            if sub.empty:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes)
                continue
            rl = order_labels(sub["speech_label"])
            cl = order_labels(sub["text_label"])
            grid = np.full((len(rl), len(cl)), np.nan)
            for _, r in sub.iterrows():
                grid[rl.index(r["speech_label"]), cl.index(r["text_label"])] = r["count"]
            im = heatmap(ax, grid, [lang_name(x) for x in rl], [lang_name(x) for x in cl], cmap="magma",
                         vmin=0, vmax=vmax, fmt="{:.0f}", rotate=True)
            ks = "/".join(str(int(v)) for v in sorted(sub["k"].unique()))
            ax.set_title(literal(f"{short_analysis(analysis)} · {step_label(step)}\n"
                                  f"k = {ks}, chance = {sub['chance'].mean():.2f}"))
            ax.set_xlabel("text-derived set")
            if j == 0:
                ax.set_ylabel("speech-derived set")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), label="|speech set ∩ text set| (units)", shrink=0.8)
    suptitle(fig, "Cross-modal overlap of the top-k units (diagonal: same label)")
    return save(fig, out)


@figure_fn
def spearman_global(df: pd.DataFrame, out: str | Path) -> Path:
    """Spearman ρ between speech- and text-derived AP vectors over all units: rows = analysis ×
    label (× component when several), columns = step."""
    g = df[df["scope"] == "global"]
    if g.empty:
        return no_data(out, "no global Spearman rows")
    steps = sorted_steps(g["step"])
    several = g["component"].nunique() > 1
    keys = []
    for analysis in sorted(g["analysis"].unique()):
        sub = g[g["analysis"] == analysis]
        for comp in (components(sub["component"]) if several else [None]):
            s2 = sub if comp is None else sub[sub["component"] == comp]
            keys += [(analysis, comp, lab) for lab in order_labels(s2["label"])]
    grid = np.full((len(keys), len(steps)), np.nan)
    for i, (a, c, lab) in enumerate(keys):
        sub = g[(g["analysis"] == a) & (g["label"] == lab) & ((g["component"] == c) if c is not None else True)]
        for s, v in sub.groupby("step")["rho"].mean().items():
            grid[i, steps.index(s)] = v
    rows = [f"{short_analysis(a)}{' · ' + component_name(c) if c else ''} · {lang_name(lab)}" for a, c, lab in keys]
    fig = new_figure(2.6 + 0.8 * len(steps) + 0.06 * max(len(r) for r in rows), 1.3 + 0.26 * len(rows))
    ax = fig.subplots()
    im = heatmap(ax, grid, rows, [step_label(s) for s in steps], cmap="RdBu_r", vmin=-1, vmax=1, rotate=False)
    ax.set_xlabel("recorded step")
    suptitle(fig, "Rank agreement of speech- and text-derived AP (global Spearman ρ)")
    fig.colorbar(im, ax=ax, label="Spearman ρ", shrink=0.7)
    return save(fig, out)


@figure_fn
def spearman_layers(df: pd.DataFrame, out: str | Path) -> Path:
    """Spearman ρ per layer: one panel per analysis × component × step, rows = layer, columns = label."""
    g = df[df["scope"] == "layer"]
    if g.empty:
        return no_data(out, "no per-layer Spearman rows")
    panels = []
    for analysis in sorted(g["analysis"].unique()):
        for comp in components(g[g["analysis"] == analysis]["component"]):
            sub = g[(g["analysis"] == analysis) & (g["component"] == comp)]
            panels += [(analysis, comp, s) for s in sorted_steps(sub["step"])]
    labels = order_labels(g["label"])
    n_layers = g["layer"].nunique()
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    pw = 1.6 + 0.5 * len(labels)
    ph = 1.2 + 0.26 * n_layers
    fig = new_figure(pw * ncols + 1.0, ph * nrows + 0.5)
    axes = panel_grid(fig, len(panels), ncols)
    im = None
    for ax, (a, c, s) in zip(axes, panels):
        sub = g[(g["analysis"] == a) & (g["component"] == c) & (g["step"] == s)]
        layers = sorted(sub["layer"].unique())
        grid = np.full((len(layers), len(labels)), np.nan)
        for (layer, lab), v in sub.groupby(["layer", "label"])["rho"].mean().items():
            grid[layers.index(layer), labels.index(lab)] = v
        im = heatmap(ax, grid, [layer_name(l) for l in layers], [lang_name(x) for x in labels], cmap="RdBu_r",
                     vmin=-1, vmax=1, annotate=grid.size <= 160, rotate=True)
        ax.set_title(literal(f"{short_analysis(a)} · {component_name(c)}\n{step_label(s)}"))
        ax.set_ylabel("layer")
    if im is not None:
        fig.colorbar(im, ax=axes, label="Spearman ρ", shrink=0.7)
    suptitle(fig, "Rank agreement per layer (Spearman ρ of speech- vs text-derived AP)")
    return save(fig, out)


@figure_fn
def across_steps_bars(df: pd.DataFrame, out: str | Path) -> Path:
    """Overlap of the top-k sets of the same label and modality at two steps, as a share of k; the
    dashed line is chance (k/U)."""
    panels = [(a, m) for a in sorted(df["analysis"].unique())
              for m in sorted(df[df["analysis"] == a]["modality"].unique())]
    pairs = sorted({(str(a), str(b)) for a, b in zip(df["step_a"], df["step_b"])},
                   key=lambda p: (step_key(p[0]), step_key(p[1])))
    labels_all = order_labels(df["label"])
    ncols = min(2, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    pw = 1.6 + 0.22 * len(labels_all) * max(len(pairs), 1)
    fig = new_figure(pw * ncols + 0.5, 2.8 * nrows + 0.9)
    axes = panel_grid(fig, len(panels), ncols)
    width = 0.8 / max(len(pairs), 1)
    for ax, (a, m) in zip(axes, panels):
        sub = df[(df["analysis"] == a) & (df["modality"] == m)]
        labels = order_labels(sub["label"])
        x = np.arange(len(labels))
        for pi, (sa, sb) in enumerate(pairs):
            p = sub[(sub["step_a"] == sa) & (sub["step_b"] == sb)]
            vals = [(p[p["label"] == lab]["count"] / p[p["label"] == lab]["k"]).mean() for lab in labels]
            ax.bar(x - 0.4 + width * (pi + 0.5), vals, width, color=f"C{pi}",
                   label=f"{step_label(sa)} ∩ {step_label(sb)}")
        chance = (sub["chance"] / sub["k"]).mean()
        ax.axhline(chance, ls="--", color="black", lw=1, label=f"chance ({chance:.3f})")
        ax.set_xticks(x)
        ax.set_xticklabels([literal(lang_name(l)) for l in labels], rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylabel("overlap / k")
        ax.set_ylim(0, 1)
        ax.set_title(literal(f"{short_analysis(a)} · {m} input"))
    handles, labs = axes[0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="outside lower center", ncols=min(len(labs), 4), frameon=False)
    suptitle(fig, "Stability of the top-k units across steps (same label and modality)")
    return save(fig, out)
