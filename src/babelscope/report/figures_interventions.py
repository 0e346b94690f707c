"""The figures of the interventions: expected-language share per condition and steering success
by decoding-step range (the dose–response figure is in :mod:`.figures_dose`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib.lines import Line2D

from babelscope.report.data import Intervention, lang_name
from babelscope.report.figures import order_labels
from babelscope.report.plotting import figure_fn, literal, new_figure, no_data, panel_grid, save, suptitle

CONDITION_COLORS = {"unforced": "#7f7f7f", "baseline": "#1f77b4", "forced": "#d62728"}


def _iv_label(iv: Intervention) -> str:
    extra = f" → {lang_name(iv.spec['steer_to'])}" if iv.spec.get("steer_to") else ""
    return f"{iv.name} ({iv.direction}{extra})"


@figure_fn
def intervention_shares(ivs: Sequence[Intervention], out: str | Path) -> Path:
    """Share of outputs in the expected language (95% bootstrap CI) under unforced, random-baseline
    and forced generation, one row per intervention."""
    ivs = [iv for iv in ivs if iv.summary and iv.summary.get("conditions")]
    if not ivs:
        return no_data(out, "no intervention summaries")
    labels = [_iv_label(iv) for iv in ivs]
    fig = new_figure(4.5 + 0.055 * max(len(x) for x in labels), 1.7 + 0.42 * len(ivs))
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
    ax.set_yticklabels([literal(x) for x in labels])
    ax.invert_yaxis()
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("share of outputs in the expected language (95% CI)")
    ax.grid(axis="x", color="#e5e5e5")
    ax.set_axisbelow(True)
    fig.legend(loc="outside lower center", frameon=False, ncols=3)
    suptitle(fig, "Interventions: expected-language share per condition")
    return save(fig, out)


@figure_fn
def steering_by_steps(ivs: Sequence[Intervention], out: str | Path) -> Path:
    """Steering success per step range: share of outputs in the steered-to language when forced
    (filled, 95% CI) and under the random baseline (hollow), one panel per modality direction."""
    st = [iv for iv in ivs if iv.kind == "steering" and iv.summary and iv.condition("forced")]
    if not st:
        return no_data(out, "no steering interventions")
    directions = sorted({iv.direction for iv in st})
    ranges = sorted({iv.steps for iv in st}, key=lambda r: (-1, -1) if r is None else r)
    rlabels = ["all steps" if r is None else f"[{r[0]}, {r[1]})" for r in ranges]
    langs = order_labels({str(iv.spec.get("steer_to")) for iv in st})
    colors = {l: f"C{i % 10}" for i, l in enumerate(langs)}
    fig = new_figure(max(4.0, 1.6 + 1.3 * len(ranges)) * len(directions) + 0.4, 4.0)
    axes = panel_grid(fig, len(directions), len(directions), sharey=True)
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
        ax.set_title(literal(f"neurons from {src} input,\ngenerating from {tgt} input"))
        ax.grid(axis="y", color="#e5e5e5")
        ax.set_axisbelow(True)
    handles = [Line2D([], [], color=colors[l], marker="o", ls="none") for l in langs] + [
        Line2D([], [], color="black", marker="o", ls="none"),
        Line2D([], [], color="black", marker="o", mfc="white", ls="none")]
    labels = [literal(f"steer to {lang_name(l)}") for l in langs] + ["forced (95% CI)", "random baseline"]
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), frameon=False)
    suptitle(fig, "Steering success by decoding-step range")
    return save(fig, out)
