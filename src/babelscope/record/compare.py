"""Compare two activation stores: exactly, or under the documented tolerance.

Two recordings of the same samples with the same settings and the same torch thread count on the
same machine are bitwise equal, whichever backend computed them. Where the arithmetic legitimately
differs — another thread count, another device, another BLAS — a float reduction sums in another
order and responses differ in their last bits. The contract is then elementwise:

    |a - b| <= atol + rtol * max(|a|, |b|)

with the same missing responses (NaN where ``valid`` is False) in both, and the same generated
tokens. :data:`TOLERANCE` holds the defaults per store dtype; docs/scale.md gives the measured
figures behind them. A sample whose greedy output differs between the stores (a near-tie of two
tokens resolved differently) makes every later decoder response incomparable: it fails the
comparison unless ``allow_divergent``, which then leaves its decoder views out and counts it.

Memory is bounded: arrays are read a block of rows at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from babelscope.errors import StoreError
from babelscope.record.plan import settings_diff
from babelscope.record.store import SETTINGS, Activations, open_activations

#: default (rtol, atol) per store dtype. float32: the measured cross-thread-count difference with
#: margin (docs/scale.md). float16: one rounding step of float16 (2**-10 relative) can flip on a
#: last-bit difference of the float32 value it rounds, so the tolerance is two float16 steps.
TOLERANCE: dict[str, tuple[float, float]] = {"float32": (1e-4, 1e-4), "float16": (2 ** -9, 2 ** -9)}

#: elements of one block of rows read at a time; each is held as float64 with about ten temporaries,
#: so a block costs about 80 bytes per element (~160 MB)
_BLOCK_ELEMENTS = 2 * 2 ** 20


@dataclass
class ViewDiff:
    """How one view's responses differ: over the elements both stores compare."""

    view: str
    n_compared: int
    max_abs: float
    #: the largest |a - b| / (atol + rtol * max(|a|, |b|)): the share of the tolerance used (<= 1 passes)
    used: float
    n_over: int  #: elements beyond the tolerance
    worst: tuple[int, int] | None = None  #: (sample row, unit column) of the largest excess, if any


@dataclass
class StoreComparison:
    a: Path
    b: Path
    rtol: float
    atol: float
    views: list[ViewDiff] = field(default_factory=list)
    #: differences that make the stores incomparable or unequal beyond numbers (settings, samples,
    #: missing responses, outputs)
    problems: list[str] = field(default_factory=list)
    #: rows whose generated tokens differ
    divergent: list[int] = field(default_factory=list)
    threads: tuple[Any, Any] = (None, None)

    @property
    def max_abs(self) -> float:
        return max((v.max_abs for v in self.views), default=0.0)

    @property
    def used(self) -> float:
        return max((v.used for v in self.views), default=0.0)

    @property
    def ok(self) -> bool:
        return not self.problems and all(v.n_over == 0 for v in self.views)

    def summary(self) -> str:
        exact = self.rtol == 0 and self.atol == 0
        verdict = ("equal" if self.ok else "NOT equal") if exact else (
            "within tolerance" if self.ok else "NOT within tolerance")
        rule = "exact" if exact else f"rtol {self.rtol:g}, atol {self.atol:g}: {self.used:.1%} of the tolerance used"
        text = (f"{self.a} vs {self.b} (torch threads {self.threads[0]} vs {self.threads[1]}): max |a-b| "
                f"{self.max_abs:.3g} ({rule}): {verdict}")
        if self.divergent:
            text += f"; {len(self.divergent)} sample(s) with other generated tokens"
        return text

    def report_lines(self) -> list[str]:
        """The summary, one line per view, then every problem."""
        lines = [self.summary()]
        exact = self.rtol == 0 and self.atol == 0
        for v in self.views:
            used = "" if exact else f"  tolerance used {v.used:.1%}"
            lines.append(f"  {v.view:14s} compared {v.n_compared:>12,}  max|a-b| {v.max_abs:.3g}{used}  "
                         f"over tolerance {v.n_over:,}")
        lines += [f"  problem: {p}" for p in self.problems]
        return lines


def _settings(store: Activations) -> dict:
    return json.loads((Path(store.folder) / SETTINGS).read_text())


def compare_stores(a: str | Path | Activations, b: str | Path | Activations, *, rtol: float | None = None,
                   atol: float | None = None, exact: bool = False, allow_divergent: bool = False) -> StoreComparison:
    """Compare the responses of two complete stores of the same recording.

    ``exact``: equal values (rtol = atol = 0). Otherwise ``rtol``/``atol`` default to
    :data:`TOLERANCE` for the stores' dtype. Settings may differ in ``settings.threads`` only
    (anything else is a different recording and a problem). Returns a :class:`StoreComparison`;
    ``.ok`` says whether the stores agree.
    """
    if exact and (rtol or atol):
        raise StoreError(f"exact comparison takes no tolerance; got rtol={rtol}, atol={atol}")
    sa = a if isinstance(a, Activations) else open_activations(a)
    sb = b if isinstance(b, Activations) else open_activations(b)
    ma, mb = _settings(sa), _settings(sb)
    dtype = ma.get("settings", {}).get("dtype", "float32")
    d_rtol, d_atol = (0.0, 0.0) if exact else TOLERANCE.get(dtype, TOLERANCE["float32"])
    rtol = d_rtol if rtol is None else float(rtol)
    atol = d_atol if atol is None else float(atol)
    if rtol < 0 or atol < 0:
        raise StoreError(f"tolerances must be >= 0, got rtol={rtol}, atol={atol}")
    res = StoreComparison(Path(sa.folder), Path(sb.folder), rtol, atol,
                          threads=(ma.get("settings", {}).get("threads"), mb.get("settings", {}).get("threads")))
    other = [k for k in settings_diff(ma, mb) if k != "settings.threads"]
    if other:
        res.problems.append(f"the recordings differ in {', '.join(other)}: not the same recording")
        return res
    ta, tb = sa.samples, sb.samples
    ids = [c for c in ta.columns if c not in ("output_tokens", "output_text", "n_output_tokens")]
    if list(ta.columns) != list(tb.columns) or not ta[ids].equals(tb[ids]):
        res.problems.append("the samples tables differ in their inputs")
        return res
    res.divergent = [i for i, (x, y) in enumerate(zip(ta["output_tokens"], tb["output_tokens"]))
                     if list(x) != list(y)]
    if res.divergent and not allow_divergent:
        show = ", ".join(str(ta["sample_id"].iloc[i]) for i in res.divergent[:5])
        res.problems.append(f"{len(res.divergent)} sample(s) generated other tokens ({show}"
                            f"{', …' if len(res.divergent) > 5 else ''}); their decoder responses are not "
                            "comparable (allow_divergent leaves them out)")
    keep = np.ones(len(ta), dtype=bool)
    keep[res.divergent] = False
    if len(ta) and not keep.any():
        res.problems.append("every sample generated other tokens: no decoder response could be compared")
    for view in sorted(sa.manifest["layout"]):
        res.views.append(_compare_view(sa, sb, view, rtol, atol, None if view == "encoder" else keep, res.problems))
    return res


def _compare_view(sa: Activations, sb: Activations, view: str, rtol: float, atol: float,
                  keep: np.ndarray | None, problems: list[str]) -> ViewDiff:
    (va, ga), (vb, gb) = sa.view_arrays(view), sb.view_arrays(view)
    if va.shape != vb.shape:
        problems.append(f"{view}: shapes differ ({va.shape} vs {vb.shape})")
        return ViewDiff(view, 0, float("nan"), float("nan"), 0)
    ga, gb = np.asarray(ga[:]), np.asarray(gb[:])
    if keep is not None:
        ga, gb = ga[keep], gb[keep]
    if not np.array_equal(ga, gb):
        problems.append(f"{view}: the stores have responses for different samples ({int((ga != gb).sum())} "
                        "sample × site cells differ in valid)")
    n, units = va.shape
    step = max(1, _BLOCK_ELEMENTS // max(1, units))
    diff = ViewDiff(view, 0, 0.0, 0.0, 0)
    worst_excess = 0.0
    for start in range(0, n, step):
        x = np.asarray(va[start:start + step], dtype=np.float64)
        y = np.asarray(vb[start:start + step], dtype=np.float64)
        rows = np.arange(start, start + len(x))
        if keep is not None:
            sel = keep[start:start + len(x)]
            x, y, rows = x[sel], y[sel], rows[sel]
        nan_x, nan_y = np.isnan(x), np.isnan(y)
        if not np.array_equal(nan_x, nan_y):
            bad = np.argwhere(nan_x != nan_y)
            problems.append(f"{view}: missing responses (NaN) differ in {len(bad)} element(s), first at sample "
                            f"row {int(rows[bad[0, 0]])}, unit column {int(bad[0, 1])}")
        inf_x, inf_y = np.isinf(x), np.isinf(y)
        if inf_x.any() or inf_y.any():  # an overflow (float16 beyond 65504): equal only to the same infinity
            odd = (inf_x | inf_y) & ~(nan_x | nan_y) & (x != y)
            if odd.any():
                bad = np.argwhere(odd)
                problems.append(f"{view}: infinite responses differ in {len(bad)} element(s), first at sample row "
                                f"{int(rows[bad[0, 0]])}, unit column {int(bad[0, 1])}")
                diff.n_over += len(bad)
                diff.max_abs = diff.used = float("inf")
        both = ~(nan_x | nan_y | inf_x | inf_y)
        with np.errstate(invalid="ignore"):  # inf - inf where both overflowed: masked out by ``both``
            d = np.where(both, np.abs(x - y), 0.0)
            scale = np.where(both, np.maximum(np.abs(x), np.abs(y)), 0.0)
        diff.n_compared += int(both.sum())
        if d.size:
            diff.max_abs = max(diff.max_abs, float(d.max()))
            allowed = atol + rtol * scale
            with np.errstate(divide="ignore", invalid="ignore"):
                used = np.where(d > 0, d / allowed, 0.0)  # d > 0 with nothing allowed: inf
            diff.used = max(diff.used, float(used.max()))
            excess = d - allowed
            over = excess > 0
            diff.n_over += int(over.sum())
            if over.any():
                i, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
                if excess[i, j] > worst_excess:
                    worst_excess, diff.worst = float(excess[i, j]), (int(rows[i]), int(j))
    return diff
