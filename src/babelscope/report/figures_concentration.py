"""The figures of how concentrated activation mass is: Gini heatmaps and Lorenz curves."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from babelscope.report.data import lang_name, sorted_steps, step_label
from babelscope.report.figures import component_name, components, order_labels
from babelscope.report.plotting import figure_fn, heatmap, literal, new_figure, panel_grid, save, suptitle


def _panel_title(comp: str, step: str, sep: str = " · ") -> str:
    return component_name(comp) if str(step) == "encoder" else f"{component_name(comp)}{sep}{step_label(step)}"


def _concentration_panels(df: pd.DataFrame) -> list[tuple[str, str]]:
    return [(c, s) for c in components(df["component"])
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
    fig = new_figure((1.6 + 0.9 * len(mods_all)) * ncols + 1.2, (0.9 + 0.3 * len(langs)) * nrows + 0.6)
    axes = panel_grid(fig, len(panels), ncols)
    lo, hi = float(df["gini"].min()), float(df["gini"].max())
    im = None
    for ax, (c, s) in zip(axes, panels):
        sub = df[(df["component"] == c) & (df["step"] == s)]
        mods = sorted(sub["modality"].unique())
        m = sub.groupby(["lang", "modality"])["gini"].mean()
        grid = np.array([[m.get((l, mo), np.nan) for mo in mods] for l in langs])
        im = heatmap(ax, grid, [lang_name(l) for l in langs], mods, cmap="viridis", vmin=lo, vmax=hi,
                     fmt="{:.3f}", rotate=False)
        ax.set_title(literal(_panel_title(c, s, "\n")))
        ax.set_xlabel("input modality")
    if im is not None:
        fig.colorbar(im, ax=axes, label="Gini coefficient", shrink=0.7)
    suptitle(fig, "Concentration of activation mass (Gini over units; higher = fewer units carry the mass)")
    return save(fig, out)


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
    fig = new_figure(3.3 * ncols + 0.4, 3.3 * nrows + 1.0)
    axes = panel_grid(fig, len(panels), ncols)
    for ax, (c, s) in zip(axes, panels):
        sub = df[(df["component"] == c) & (df["step"] == s)]
        for (l, mo), g in sub.groupby(["lang", "modality"]):
            curve = g.groupby("x")["y"].mean()
            ax.plot(curve.index, curve.to_numpy(), color=colors[l], ls=styles[mo], lw=1.2)
        ax.plot([0, 1], [0, 1], color="black", lw=0.8, ls=":")
        ax.set_title(literal(_panel_title(c, s)))
        ax.set_xlabel("share of units (ascending mass)")
        ax.set_ylabel("share of mass")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
    handles = [Line2D([], [], color=colors[l], lw=2) for l in langs] + \
              [Line2D([], [], color="black", ls=styles[m]) for m in mods]
    labels = [literal(lang_name(l)) for l in langs] + [f"{m} input" for m in mods]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 8), frameon=False)
    suptitle(fig, "Lorenz curves of activation mass (dotted diagonal: equal mass)")
    return save(fig, out)
