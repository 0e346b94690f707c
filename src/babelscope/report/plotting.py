"""Shared plotting helpers of the report's figures: fixed rcParams, figure creation and saving,
panel grids, titles and annotated heatmaps.

Figures are drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
global backend switch), under fixed rcParams, with constrained layout and sizes computed from the
number of rows and columns, and saved without a ``Software`` tag so that the same tables give the
same bytes.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any, Callable, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 150  # legible at the page's width (issue 18: 110 dpi left ~5 px text)
RC = {
    "font.family": "DejaVu Sans", "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9,
    "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 11,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": False,
    "savefig.dpi": DPI, "figure.dpi": DPI, "svg.hashsalt": "babelscope", "path.simplify": True,
    "image.interpolation": "nearest", "axes.prop_cycle": matplotlib.cycler(color=[
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf"]),
}


def literal(text: Any) -> str:
    """Text for matplotlib: a literal ``$`` must not start mathtext."""
    return str(text).replace("$", r"\$")


def figure_fn(fn: Callable[..., Path]) -> Callable[..., Path]:
    """Run a figure function under the fixed rcParams."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Path:
        with matplotlib.rc_context(RC):
            return fn(*args, **kwargs)
    return wrapper


def new_figure(width: float, height: float) -> Figure:
    """A constrained-layout figure on the Agg canvas, its size (inches) clamped to a sane range."""
    fig = Figure(figsize=(min(max(width, 4.0), 22.0), min(max(height, 2.6), 40.0)), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save(fig: Figure, out: str | Path) -> Path:
    """Write ``fig`` as a PNG without a ``Software`` tag (same figure, same bytes) and return the path."""
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


def suptitle(fig: Figure, text: str) -> None:
    """Set the figure's title, widening the figure so that the title fits."""
    _fit_title(fig, text, RC["figure.titlesize"])
    fig.suptitle(literal(text))


def panel_grid(fig: Figure, n: int, ncols: int, **kw: Any) -> list[Any]:
    """``n`` axes in rows of ``ncols`` (surplus axes of the last row switched off)."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw).ravel().tolist()
    for ax in axes[n:]:
        ax.set_axis_off()
    return axes[:n]


def _text_color(rgba: Sequence[float]) -> str:
    r, g, b = rgba[:3]
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.55 else "white"


def heatmap(ax, values: np.ndarray, rows: Sequence[str], cols: Sequence[str], *, cmap: str = "viridis",
            vmin: float | None = None, vmax: float | None = None, fmt: str = "{:.2f}",
            annotate: bool | None = None, rotate: bool | None = None):
    """Draw ``values`` (rows × cols; NaN as "–") on ``ax`` as a labelled heatmap, annotated unless large."""
    values = np.asarray(values, dtype=float)
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto")
    ax.set_xticks(range(len(cols)))
    ax.set_yticks(range(len(rows)))
    if rotate is None:
        rotate = max((len(c) for c in cols), default=0) * len(cols) > 40
    ax.set_xticklabels([literal(c) for c in cols], rotation=40 if rotate else 0,
                       ha="right" if rotate else "center", rotation_mode="anchor")
    ax.set_yticklabels([literal(r) for r in rows])
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


def no_data(out: str | Path, message: str) -> Path:
    """Write a small figure that only says ``message`` (a figure function's input had nothing to show)."""
    fig = new_figure(5, 1.5)
    fig.text(0.5, 0.5, literal(message), ha="center", va="center")
    return save(fig, out)
