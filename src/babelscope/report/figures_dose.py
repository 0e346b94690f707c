"""The dose–response figure: each swept intervention's forced share of outputs in the steered-to
language against the swept quantity, over the band of its random-unit baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from babelscope.report.data import Intervention, lang_name
from babelscope.report.plotting import figure_fn, literal, new_figure, no_data, panel_grid, save, suptitle


def _axis(iv: Intervention) -> tuple[str, str]:
    """The swept quantity of a sweep (k unless only the factor varies) and its label."""
    sw = (iv.summary or {}).get("sweep") or {}
    return ("factor", "value factor") if len(sw.get("k") or []) <= 1 and len(sw.get("factor") or []) > 1 \
        else ("k", "units forced (k)")


@figure_fn
def dose_response(ivs: Sequence[Intervention], out: str | Path) -> Path:
    """One panel per (direction, steered-to language): a line per step range of forced share against k (or
    factor) with its 95% CI, and the shaded range of the random baselines' shares at each point."""
    sw = [iv for iv in ivs if iv.curve]
    if not sw:
        return no_data(out, "no dose-response sweep")
    panels = sorted({(iv.direction, str(iv.spec.get("steer_to"))) for iv in sw})
    ncols = min(3, len(panels))
    fig = new_figure(max(7.0, 4.6 * ncols + 0.6), 3.9 * ((len(panels) + ncols - 1) // ncols) + 0.8)
    top = 0.0
    axes = panel_grid(fig, len(panels), ncols, sharey=True)
    for ax, (direction, lang) in zip(axes, panels):
        sub = sorted([iv for iv in sw if (iv.direction, str(iv.spec.get("steer_to"))) == (direction, lang)],
                     key=lambda iv: (iv.steps or (0, 0)))
        for j, iv in enumerate(sub):
            col = f"C{j % 10}"
            key, xlabel = _axis(iv)
            pts = sorted(iv.curve, key=lambda p: (p[key], p["k"], p["factor"]))
            x = np.array([p[key] for p in pts], dtype=float)
            forced = np.array([p["forced_share"] for p in pts])
            base = [p["baseline_shares"] for p in pts]
            lo = np.array([min(b) for b in base])
            hi = np.array([max(b) for b in base])
            mean_b = np.array([np.mean(b) for b in base])
            ci = np.array([p["ci"] for p in pts], dtype=float)
            ax.fill_between(x, lo, hi, color=col, alpha=0.18, lw=0)
            ax.plot(x, mean_b, color=col, lw=1, ls=":")
            err = np.vstack([forced - (mean_b + ci[:, 0]), (mean_b + ci[:, 1]) - forced]).clip(min=0)
            ax.errorbar(x, forced, yerr=err, color=col, marker="o", ms=4, capsize=2.5, lw=1.5)
            top = max(top, float(np.nanmax(np.r_[forced + err[1], hi])))
            if key == "k":
                ax.set_xscale("log")
            ax.set_xlabel(xlabel)
        src, _, tgt = direction.partition(" → ")
        ax.set_title(literal(f"→ {lang_name(lang)}: neurons from {src} input, generating from {tgt} input"),
                     fontsize=9)
        ax.grid(color="#e5e5e5")
        ax.set_axisbelow(True)
        if ax is axes[0]:
            ax.set_ylabel("share in steered-to language")
        ax.legend([Line2D([], [], color=f"C{j % 10}", marker="o") for j in range(len(sub))],
                  [iv.steps_label for iv in sub], fontsize=7, loc="upper left", frameon=False)
    for ax in axes:  # small effects stay visible: the axis ends just above the largest value
        ax.set_ylim(-0.02, min(1.02, max(0.1, top * 1.2 + 0.02)))
    fig.legend([Line2D([], [], color="black", marker="o"), Patch(color="black", alpha=0.18),
                Line2D([], [], color="black", ls=":")],
               ["forced (95% CI of the paired effect)", "random baselines: range", "random baselines: mean"],
               loc="outside lower center", ncols=3, frameon=False, fontsize=8)
    suptitle(fig, "Dose–response of steering against random-unit baselines")
    return save(fig, out)
