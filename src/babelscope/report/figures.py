"""The report's figures: one function per figure, each takes the table(s) it shows and an output
PNG path and returns that path.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend switch), under fixed rcParams, with constrained layout and sizes computed from the
number of rows and columns, and saved without a ``Software`` tag so that the same tables give the
same bytes. Languages are shown by name (``deu`` → German); other labels as they are.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from babelscope.report.data import (COMPONENT_NAMES, FAMILY_NAMES, LANG_NAMES, Intervention, modality_groups,
                                    lang_name, sorted_steps, step_key, step_label)

DPI = 110
RC = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 11,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "savefig.dpi": DPI, "figure.dpi": DPI, "svg.hashsalt": "babelscope", "path.simplify": True,
    "image.interpolation": "nearest", "axes.prop_cycle": matplotlib.cycler(color=[
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf"]),
}
CONDITION_COLORS = {"unforced": "#7f7f7f", "baseline": "#1f77b4", "forced": "#d62728"}
KV_COLOR, OTHER_COLOR, UNITS_COLOR = "#d62728", "#4c72b0", "#c7c7c7"
LANG_ORDER = tuple(LANG_NAMES)
COMPONENT_ORDER = ("speech_encoder", "text_encoder", "text_decoder")


# ----------------------------------------------------------------------------------------- helpers

def _t(text: Any) -> str:
    """Text for matplotlib: a literal ``$`` must not start mathtext."""
    return str(text).replace("$", r"\$")


def _comp(c: Any) -> str:
    return COMPONENT_NAMES.get(str(c), str(c))


def order_labels(labels) -> list[str]:
    """Known language codes in their usual order, then the rest sorted."""
    labels = {str(x) for x in labels}
    known = [c for c in LANG_ORDER if c in labels]
    return known + sorted(labels - set(known))


def _components(values) -> list[str]:
    values = {str(v) for v in values}
    return [c for c in COMPONENT_ORDER if c in values] + sorted(values - set(COMPONENT_ORDER))


def figure_fn(fn: Callable[..., Path]) -> Callable[..., Path]:
    """Run a figure function under the fixed rcParams."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Path:
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def _new(width: float, height: float) -> Figure:
    fig = Figure(figsize=(min(max(width, 4.0), 22.0), min(max(height, 2.6), 40.0)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=DPI, format="png", metadata={"Software": None})
    return out


def _fit_title(fig: Figure, text: str, size_pt: float) -> None:
    """Widen the figure so that a title of ``text`` at ``size_pt`` fits (constrained layout never
    widens a figure by itself)."""
    need = 0.62 * size_pt / 72 * len(text) + 0.6
    w, h = fig.get_size_inches()
    if w < need:
        fig.set_size_inches(min(need, 22.0), h)


def _suptitle(fig: Figure, text: str) -> None:
    _fit_title(fig, text, RC["figure.titlesize"])
    fig.suptitle(_t(text))


def _grid(fig: Figure, n: int, ncols: int, **kw: Any) -> list[Any]:
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw).ravel().tolist()
    for ax in axes[n:]:
        ax.set_axis_off()
    return axes[:n]


def _text_color(rgba: Sequence[float]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def _heatmap(ax, values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, cmap: str = "viridis",
             vmin: float | None = None, vmax: float | None = None, fmt: str = "{:.2f}",
             annotate: bool | None = None, rotate: bool | None = None):
    values = np.asarray(values, dtype=float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_yticks(range(len(rows)))
    if rotate is None:
        rotate = max((len(c) for c in cols), default=0) * len(cols) > 40
    ax.set_xticklabels([_t(c) for c in cols], rotation=40 if rotate else 0, ha="right" if rotate else "center",
                       rotation_mode="anchor")
    ax.set_yticklabels([_t(r) for r in rows])
    ax.tick_params(length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    if annotate is None:
        annotate = values.size <= 400
    if annotate:
        size = 7 if values.size > 80 else 8
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=size,
                        color=_text_color(im.cmap(im.norm(v))))
            else:
                ax.text(j, i, "–", ha="center", va="center", fontsize=size, color="#666666")
    return im


def _no_data(out: str | Path, message: str) -> Path:
    fig = _new(5, 1.5)
    fig.text(0.5, 0.5, _t(message), ha="center", va="center")
    return _save(fig, out)


def _short_analysis(a: str) -> str:
    return {"source_language": "source language", "target_language": "target language",
            "language_x_modality": "language × modality", "multimodal_language": "multimodal language"
            }.get(a, a.replace("_", " "))


# ----------------------------------------------------------------------------------- selectivity

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
        rows.append(f"{_short_analysis(a)} · {m} · {lang_name(lab)} (base {base:.2f})")
        for _, r in sub.iterrows():
            grid[i, steps.index(str(r["step"]))] = r["mean_top_ap"]
    fig = _new(2.8 + 0.75 * len(steps) + 0.06 * max(len(r) for r in rows), 1.3 + 0.24 * len(rows))
    ax = fig.subplots()
    im = _heatmap(ax, grid, rows, [step_label(s) for s in steps], vmin=0, vmax=1, rotate=False)
    ax.set_xlabel("recorded step")
    ks = sorted({int(k) for k in df["k"].dropna()})
    _suptitle(fig, f"Mean AP of the top-k units (k = {', '.join(map(str, ks))}); base rate = AP of a non-selective unit")
    fig.colorbar(im, ax=ax, label="mean AP of top-k units", shrink=0.6)
    return _save(fig, out)


@figure_fn
def top_units_by_layer(df: pd.DataFrame, out: str | Path) -> Path:
    """Where the top-k units sit: share of the top-k units (over all labels) per layer, one panel per
    analysis × modality × component, one line per step. Layer -1 (no layer) is shown as 'none'."""
    panels = []
    for analysis in sorted(df["analysis"].unique()):
        for mod in sorted(df[df["analysis"] == analysis]["modality"].unique()):
            sub = df[(df["analysis"] == analysis) & (df["modality"] == mod)]
            for comp in _components(sub["component"]):
                panels.append((analysis, mod, comp))
    if not panels:
        return _no_data(out, "no top-k units")
    ncols = 3 if len(panels) >= 3 else len(panels)
    nrows = math.ceil(len(panels) / ncols)
    fig = _new(4.3 * ncols, 0.4 + 2.7 * nrows)
    axes = _grid(fig, len(panels), ncols)
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
        ax.set_title(_t(f"{_short_analysis(analysis)} · {mod} input\n{_comp(comp)}"))
        ax.set_xlabel("layer")
        ax.set_ylabel("share of top-k units")
        ax.set_ylim(bottom=0)
        ticks = layers if len(layers) <= 13 else layers[:: math.ceil(len(layers) / 12)]
        ax.set_xticks(ticks)
        ax.set_xticklabels(["none" if l < 0 else str(l) for l in ticks])
        ax.legend(frameon=False, loc="upper left")
    _suptitle(fig, "Where the top-k units sit: share per layer (all labels pooled)")
    return _save(fig, out)


@figure_fn
def top_units_by_group(df: pd.DataFrame, out: str | Path) -> Path:
    """Share of the top-k units in each component and module group, per analysis, modality and step."""
    keys = []
    for analysis in sorted(df["analysis"].unique()):
        for mod in sorted(df[df["analysis"] == analysis]["modality"].unique()):
            sub = df[(df["analysis"] == analysis) & (df["modality"] == mod)]
            keys += [(analysis, mod, s) for s in sorted_steps(sub["step"])]
    cols = []
    for comp in _components(df["component"]):
        cols += [(comp, g) for g in sorted(df[df["component"] == comp]["group"].unique())]
    counts = df.groupby(["analysis", "modality", "step", "component", "group"])["count"].sum()
    grid = np.full((len(keys), len(cols)), np.nan)
    for i, (a, m, s) in enumerate(keys):
        tot = df[(df["analysis"] == a) & (df["modality"] == m) & (df["step"] == s)]["count"].sum()
        for j, (c, g) in enumerate(cols):
            grid[i, j] = counts.get((a, m, s, c, g), 0) / tot if tot else np.nan
    rows = [f"{_short_analysis(a)} · {m} · {step_label(s)}" for a, m, s in keys]
    collabels = [f"{_comp(c)}: {g}" for c, g in cols]
    fig = _new(2.6 + 0.62 * len(cols) + 0.05 * max(len(r) for r in rows), 1.9 + 0.3 * len(rows))
    ax = fig.subplots()
    im = _heatmap(ax, grid * 100, rows, collabels, cmap="Blues", vmin=0, vmax=100, fmt="{:.0f}", rotate=True)
    _suptitle(fig, "Share of the top-k units (%) in each component and module group")
    ax.set_xlabel("component: module group")
    fig.colorbar(im, ax=ax, label="% of top-k units", shrink=0.7)
    return _save(fig, out)


# ---------------------------------------------------------------------------------- comparison

@figure_fn
def overlap_heatmaps(df: pd.DataFrame, out: str | Path) -> Path:
    """Cross-modal overlap |A ∩ B| of the top-k sets: speech-derived label (rows) × text-derived
    label (columns), one panel per analysis (rows of panels) and step (columns); chance in titles."""
    analyses = sorted(df["analysis"].unique())
    steps = sorted_steps(df["step"])
    labels = order_labels(set(df["speech_label"]) | set(df["text_label"]))
    n = len(labels)
    side = 0.42 * n + 1.6
    fig = _new(side * len(steps) + 1.2, (side - 0.3) * len(analyses) + 0.6)
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
            im = _heatmap(ax, grid, [lang_name(x) for x in rl], [lang_name(x) for x in cl], cmap="magma",
                          vmin=0, vmax=vmax, fmt="{:.0f}", rotate=True)
            ks = "/".join(str(int(v)) for v in sorted(sub["k"].unique()))
            ax.set_title(_t(f"{_short_analysis(analysis)} · {step_label(step)}\n"
                            f"k = {ks}, chance = {sub['chance'].mean():.2f}"))
            ax.set_xlabel("text-derived set")
            if j == 0:
                ax.set_ylabel("speech-derived set")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), label="|speech set ∩ text set| (units)", shrink=0.8)
    _suptitle(fig, "Cross-modal overlap of the top-k units (diagonal: same label)")
    return _save(fig, out)


@figure_fn
def spearman_global(df: pd.DataFrame, out: str | Path) -> Path:
    """Spearman ρ between speech- and text-derived AP vectors over all units: rows = analysis ×
    label (× component when several), columns = step."""
    g = df[df["scope"] == "global"]
    if g.empty:
        return _no_data(out, "no global Spearman rows")
    steps = sorted_steps(g["step"])
    several = g["component"].nunique() > 1
    keys = []
    for analysis in sorted(g["analysis"].unique()):
        sub = g[g["analysis"] == analysis]
        for comp in (_components(sub["component"]) if several else [None]):
            s2 = sub if comp is None else sub[sub["component"] == comp]
            keys += [(analysis, comp, lab) for lab in order_labels(s2["label"])]
    grid = np.full((len(keys), len(steps)), np.nan)
    for i, (a, c, lab) in enumerate(keys):
        sub = g[(g["analysis"] == a) & (g["label"] == lab) & ((g["component"] == c) if c is not None else True)]
        for s, v in sub.groupby("step")["rho"].mean().items():
            grid[i, steps.index(s)] = v
    rows = [f"{_short_analysis(a)}{' · ' + _comp(c) if c else ''} · {lang_name(lab)}" for a, c, lab in keys]
    fig = _new(2.6 + 0.8 * len(steps) + 0.06 * max(len(r) for r in rows), 1.3 + 0.26 * len(rows))
    ax = fig.subplots()
    im = _heatmap(ax, grid, rows, [step_label(s) for s in steps], cmap="RdBu_r", vmin=-1, vmax=1, rotate=False)
    ax.set_xlabel("recorded step")
    _suptitle(fig, "Rank agreement of speech- and text-derived AP (global Spearman ρ)")
    fig.colorbar(im, ax=ax, label="Spearman ρ", shrink=0.7)
    return _save(fig, out)


@figure_fn
def spearman_layers(df: pd.DataFrame, out: str | Path) -> Path:
    """Spearman ρ per layer: one panel per analysis × component × step, rows = layer, columns = label."""
    g = df[df["scope"] == "layer"]
    if g.empty:
        return _no_data(out, "no per-layer Spearman rows")
    panels = []
    for analysis in sorted(g["analysis"].unique()):
        for comp in _components(g[g["analysis"] == analysis]["component"]):
            sub = g[(g["analysis"] == analysis) & (g["component"] == comp)]
            panels += [(analysis, comp, s) for s in sorted_steps(sub["step"])]
    labels = order_labels(g["label"])
    n_layers = g["layer"].nunique()
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    pw = 1.6 + 0.5 * len(labels)
    ph = 1.2 + 0.26 * n_layers
    fig = _new(pw * ncols + 1.0, ph * nrows + 0.5)
    axes = _grid(fig, len(panels), ncols)
    im = None
    for ax, (a, c, s) in zip(axes, panels):
        sub = g[(g["analysis"] == a) & (g["component"] == c) & (g["step"] == s)]
        layers = sorted(sub["layer"].unique())
        grid = np.full((len(layers), len(labels)), np.nan)
        for (layer, lab), v in sub.groupby(["layer", "label"])["rho"].mean().items():
            grid[layers.index(layer), labels.index(lab)] = v
        im = _heatmap(ax, grid, [str(l) for l in layers], [lang_name(x) for x in labels], cmap="RdBu_r",
                      vmin=-1, vmax=1, annotate=grid.size <= 160, rotate=True)
        ax.set_title(_t(f"{_short_analysis(a)} · {_comp(c)}\n{step_label(s)}"))
        ax.set_ylabel("layer")
    if im is not None:
        fig.colorbar(im, ax=axes, label="Spearman ρ", shrink=0.7)
    _suptitle(fig, "Rank agreement per layer (Spearman ρ of speech- vs text-derived AP)")
    return _save(fig, out)


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
    fig = _new(pw * ncols + 0.5, 2.8 * nrows + 0.9)
    axes = _grid(fig, len(panels), ncols)
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
        ax.set_xticklabels([_t(lang_name(l)) for l in labels], rotation=30, ha="right", rotation_mode="anchor")
        ax.set_ylabel("overlap / k")
        ax.set_ylim(0, 1)
        ax.set_title(_t(f"{_short_analysis(a)} · {m} input"))
    handles, labs = axes[0].get_legend_handles_labels()
    fig.legend(handles, labs, loc="outside lower center", ncols=min(len(labs), 4), frameon=False)
    _suptitle(fig, "Stability of the top-k units across steps (same label and modality)")
    return _save(fig, out)


# ------------------------------------------------------------------------------- localisation

@figure_fn
def encoder_depth(df: pd.DataFrame, out: str | Path) -> Path:
    """Language selectivity of encoder layers vs depth: share of units with AP > 0.9 for some source
    language, and the mean of each unit's best AP (chance: mean base rate)."""
    d = df[df["layer"] >= 0]
    series = [(m, c) for c in _components(d["component"]) for m in sorted(d[d["component"] == c]["modality"].unique())]
    fig = _new(10, 3.6)
    ax1, ax2 = fig.subplots(1, 2)
    for i, (m, c) in enumerate(series):
        s = d[(d["modality"] == m) & (d["component"] == c)].sort_values("layer")
        lab = _t(f"{_comp(c)} ({m} input)")
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
    _suptitle(fig, "Source-language selectivity across encoder depth")
    return _save(fig, out)


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
    fig = _new(3.8 * ncols + 1.6, (0.9 + 0.36 * len(cats)) * nrows + 0.9)
    axes = _grid(fig, len(panels), ncols)
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
        ax.set_yticklabels([_t(c) for c in cats] if i % ncols == 0 else [])
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.0, max(top.max(initial=0), units.max(initial=0)) * 1.25 + 0.05))
        ax.set_xlabel("share")
        k = int(kcol[(kcol["step"] == step) & (kcol["family"] == fam)]["k"].max())
        ax.set_title(_t(f"{FAMILY_NAMES.get(fam, fam)} · {step_label(step)} (k = {k})"))
    fig.legend([Patch(color=KV_COLOR), Patch(color=OTHER_COLOR), Patch(color=UNITS_COLOR)],
               ["share of top-k units: cross-attn k/v", "share of top-k units: other", "share of all units"],
               loc="outside lower center", ncols=3, frameon=False)
    _suptitle(fig, "Modality-selective units (speech vs text): location and enrichment (×: top share / unit share)")
    return _save(fig, out)


# ------------------------------------------------------------------------------- concentration

def _panel_title(comp: str, step: str, sep: str = " · ") -> str:
    return _comp(comp) if str(step) == "encoder" else f"{_comp(comp)}{sep}{step_label(step)}"


def _concentration_panels(df: pd.DataFrame) -> list[tuple[str, str]]:
    return [(c, s) for c in _components(df["component"])
            for s in sorted_steps(df[df["component"] == c]["step"])]


@figure_fn
def gini_heatmaps(df: pd.DataFrame, out: str | Path) -> Path:
    """Gini coefficient of activation mass (mean over tasks): language × input modality, one panel
    per component and step."""
    panels = _concentration_panels(df)
    langs = order_labels(df["lang"])
    mods_all = sorted(df["modality"].unique())
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = _new((1.6 + 0.9 * len(mods_all)) * ncols + 1.2, (0.9 + 0.3 * len(langs)) * nrows + 0.6)
    axes = _grid(fig, len(panels), ncols)
    lo, hi = float(df["gini"].min()), float(df["gini"].max())
    im = None
    for ax, (c, s) in zip(axes, panels):
        sub = df[(df["component"] == c) & (df["step"] == s)]
        mods = sorted(sub["modality"].unique())
        m = sub.groupby(["lang", "modality"])["gini"].mean()
        grid = np.array([[m.get((l, mo), np.nan) for mo in mods] for l in langs])
        im = _heatmap(ax, grid, [lang_name(l) for l in langs], mods, cmap="viridis", vmin=lo, vmax=hi,
                      fmt="{:.3f}", rotate=False)
        ax.set_title(_t(_panel_title(c, s, "\n")))
        ax.set_xlabel("input modality")
    if im is not None:
        fig.colorbar(im, ax=axes, label="Gini coefficient", shrink=0.7)
    _suptitle(fig, "Concentration of activation mass (Gini over units; higher = fewer units carry the mass)")
    return _save(fig, out)


@figure_fn
def lorenz_curves(df: pd.DataFrame, out: str | Path) -> Path:
    """Lorenz curves of activation mass (mean over tasks): colour = language, line style = input
    modality; one panel per component and step."""
    panels = _concentration_panels(df)
    langs = order_labels(df["lang"])
    mods = sorted(df["modality"].unique())
    styles = {m: ls for m, ls in zip(mods, ("-", "--", ":", "-."))}
    colors = {l: f"C{i % 10}" for i, l in enumerate(langs)}
    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    fig = _new(3.3 * ncols + 0.4, 3.3 * nrows + 1.0)
    axes = _grid(fig, len(panels), ncols)
    for ax, (c, s) in zip(axes, panels):
        sub = df[(df["component"] == c) & (df["step"] == s)]
        for (l, mo), g in sub.groupby(["lang", "modality"]):
            curve = g.groupby("x")["y"].mean()
            ax.plot(curve.index, curve.to_numpy(), color=colors[l], ls=styles[mo], lw=1.2)
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
        ax.set_title(_t(_panel_title(c, s)))
        ax.set_xlabel("share of units (ascending mass)")
        ax.set_ylabel("share of mass")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
    handles = [Line2D([], [], color=colors[l], lw=2) for l in langs] + \
              [Line2D([], [], color="black", ls=styles[m]) for m in mods]
    labels = [_t(lang_name(l)) for l in langs] + [f"{m} input" for m in mods]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 8), frameon=False)
    _suptitle(fig, "Lorenz curves of activation mass (dotted diagonal: equal mass)")
    return _save(fig, out)


# ------------------------------------------------------------------------------- interventions

def _iv_label(iv: Intervention) -> str:
    extra = f" → {lang_name(iv.spec['steer_to'])}" if iv.spec.get("steer_to") else ""
    return f"{iv.name} ({iv.direction}{extra})"


@figure_fn
def intervention_shares(ivs: Sequence[Intervention], out: str | Path) -> Path:
    """Share of outputs in the expected language (95% bootstrap CI) under unforced, random-baseline
    and forced generation, one row per intervention."""
    ivs = [iv for iv in ivs if iv.summary and iv.summary.get("conditions")]
    if not ivs:
        return _no_data(out, "no intervention summaries")
    labels = [_iv_label(iv) for iv in ivs]
    fig = _new(4.5 + 0.055 * max(len(x) for x in labels), 1.7 + 0.42 * len(ivs))
    ax = fig.subplots()
    y = np.arange(len(ivs))
    for ci, cond in enumerate(("unforced", "baseline", "forced")):
        xs, lo, hi, ys = [], [], [], []
        for i, iv in enumerate(ivs):
            c = iv.condition(cond)
            if not c or c.get("share_expected") is None:
                continue
            v = float(c["share_expected"])
            ci95 = c.get("share_expected_ci95") or [v, v]
            xs.append(v)
            lo.append(max(v - float(ci95[0]), 0))
            hi.append(max(float(ci95[1]) - v, 0))
            ys.append(i + (ci - 1) * 0.22)
        ax.errorbar(xs, ys, xerr=[lo, hi], fmt="o", ms=4.5, capsize=2.5, color=CONDITION_COLORS[cond], label=cond)
    ax.set_yticks(y)
    ax.set_yticklabels([_t(x) for x in labels])
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share of outputs in the expected language (95% CI)")
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", frameon=False, ncols=3)
    _suptitle(fig, "Interventions: expected-language share per condition")
    return _save(fig, out)


@figure_fn
def steering_by_steps(ivs: Sequence[Intervention], out: str | Path) -> Path:
    """Steering success per step range: share of outputs in the steered-to language when forced
    (filled, 95% CI) and under the random baseline (hollow), one panel per modality direction."""
    st = [iv for iv in ivs if iv.kind == "steering" and iv.summary and iv.condition("forced")]
    if not st:
        return _no_data(out, "no steering interventions")
    directions = sorted({iv.direction for iv in st})
    ranges = sorted({iv.steps for iv in st}, key=lambda r: (-1, -1) if r is None else r)
    rlabels = ["all steps" if r is None else f"[{r[0]}, {r[1]})" for r in ranges]
    langs = order_labels({str(iv.spec.get("steer_to")) for iv in st})
    colors = {l: f"C{i % 10}" for i, l in enumerate(langs)}
    fig = _new(max(4.0, 1.6 + 1.3 * len(ranges)) * len(directions) + 0.4, 4.0)
    axes = _grid(fig, len(directions), len(directions), sharey=True)
    for ax, d in zip(axes, directions):
        sub = [iv for iv in st if iv.direction == d]
        slots: dict[Any, list[Intervention]] = {}
        for iv in sorted(sub, key=lambda iv: (langs.index(str(iv.spec.get("steer_to"))), iv.name)):
            slots.setdefault(iv.steps, []).append(iv)
        for ri, r in enumerate(ranges):
            group = slots.get(r, [])
            for gi, iv in enumerate(group):
                x = ri + (gi - (len(group) - 1) / 2) * 0.15
                f = iv.condition("forced")
                v = float(f["share_expected"])
                lo, hi = f.get("share_expected_ci95") or [v, v]
                col = colors[str(iv.spec.get("steer_to"))]
                ax.errorbar([x], [v], yerr=[[max(v - lo, 0)], [max(hi - v, 0)]], fmt="o", ms=5, capsize=2.5, color=col)
                b = iv.condition("baseline")
                if b and b.get("share_expected") is not None:
                    ax.plot([x], [float(b["share_expected"])], marker="o", ms=5, mfc="white", mec=col, ls="none")
        ax.set_xticks(range(len(ranges)))
        ax.set_xticklabels(rlabels)
        ax.set_xlim(-0.6, len(ranges) - 0.4)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("decoding steps forced")
        if ax is axes[0]:
            ax.set_ylabel("share in steered-to language")
        src, _, tgt = d.partition(" → ")
        ax.set_title(_t(f"neurons from {src} input,\ngenerating from {tgt} input"))
        ax.grid(axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
    handles = [Line2D([], [], color=colors[l], marker="o", ls="none") for l in langs] + [
        Line2D([], [], color="black", marker="o", ls="none"),
        Line2D([], [], color="black", marker="o", mfc="white", ls="none")]
    labels = [_t(f"steer to {lang_name(l)}") for l in langs] + ["forced (95% CI)", "random baseline"]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)
    _suptitle(fig, "Steering success by decoding-step range")
    return _save(fig, out)
