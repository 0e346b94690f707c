"""The small HTML helpers every section is built from, and the formatting of single values.

Safety: every value that reaches the page (generated texts, labels, file names, settings) goes
through :func:`esc`. HTML is only ever produced by the helpers here, which return :class:`Markup`
(a ``str`` marked as already-safe); any other value passed to them is escaped.
"""

from __future__ import annotations

import html as _html
import json
import math
from typing import Any, Iterable, Sequence

from babelscope.report.data import fnum
from babelscope.report.verdicts import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED

MAX_TEXT = 300


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
    """The parts, each escaped unless already ``Markup``, joined by ``sep``."""
    return Markup(sep.join(esc(p) for p in parts))


def tag(name: str, *content: Any, **attrs: Any) -> Markup:
    """``<name attrs>content</name>``; attribute names use ``_`` for ``-`` and a trailing ``_`` for
    reserved words (``class_``)."""
    at = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Markup(f"<{name}{at}>{join(content)}</{name}>")


def table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], class_: str | None = None) -> Markup:
    """A table with one header row of ``columns`` and one row per item of ``rows``."""
    head = tag("tr", *[tag("th", c) for c in columns])
    body = join(tag("tr", *[tag("td", c) for c in r]) for r in rows)
    return tag("table", tag("thead", head), tag("tbody", body), class_=class_)


def kv_table(pairs: Iterable[tuple[Any, Any]]) -> Markup:
    """A two-column key/value table."""
    return tag("table", tag("tbody", join(tag("tr", tag("th", k), tag("td", v)) for k, v in pairs)), class_="kv")


def details(summary: Any, *content: Any) -> Markup:
    """A collapsed block: ``summary`` shown, ``content`` on click."""
    return tag("details", tag("summary", summary), *content)


def not_run(reason: str) -> Markup:
    """The paragraph that stands in for a part whose input is missing: a 'not run' badge and the reason."""
    return tag("p", tag("span", "not run", class_="badge notrun"), " ", reason, class_="notrun")


def badge(verdict: str) -> Markup:
    """A claim's verdict as a coloured badge."""
    cls = {SUPPORTED: "ok", NOT_SUPPORTED: "bad", NOT_TESTABLE: "na"}.get(verdict, "na")
    return tag("span", verdict, class_=f"badge {cls}")


def truncate(text: Any, n: int = MAX_TEXT) -> str:
    """``text`` cut to ``n`` characters (with an ellipsis); None and NaN give ""."""
    s = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    return s if len(s) <= n else s[: n - 1] + "…"


def with_ci(v: Any, ci: Any, digits: int = 3, mark: bool = False) -> Markup:
    """A value with its interval on a second line (``mark``: append * for an interval excluding 0)."""
    if v is None:
        return esc("–")
    try:
        lo, hi = ci
        interval = f"[{fnum(lo, digits)}, {fnum(hi, digits)}]"
    except (TypeError, ValueError):
        return esc(fnum(v, digits))
    return join([fnum(v, digits) + (" *" if mark else ""), tag("span", interval, class_="ci")])


def duration(seconds: Any) -> str:
    """A duration in seconds as ``12.5 s``, ``3 min 05 s`` or ``1 h 02 min 05 s`` ("–" if unknown)."""
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


def flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as ``(dotted.key, value)`` pairs; lists are shown as JSON."""
    if isinstance(d, dict):
        out: list[tuple[str, str]] = []
        for k, v in d.items():
            out += flatten(v, f"{prefix}.{k}" if prefix else str(k))
        return out or [(prefix, "{}")]
    if isinstance(d, (list, tuple)):
        return [(prefix, json.dumps(d, ensure_ascii=False, default=str))]
    return [(prefix, "null" if d is None else str(d))]
