"""The shape every section of the page shares: a heading, then parts that each show one input of
the run (figures, tables) or, when that input is missing, a 'not run' paragraph saying why.

A section that only shows analysis tables is declared as a :class:`Section` of :class:`Part`\\ s;
the other sections call :func:`shown` for each part that may be absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Protocol, TypeVar

import pandas as pd

from babelscope.report.data import RunData
from babelscope.report.markup import Markup, join, not_run, tag

T = TypeVar("T")


class Writer(Protocol):
    """What a section needs of the report being written (``babelscope.report.html``)."""

    data: RunData
    failures: list[str]

    def figure(self, name: str, fn: Callable[..., Path], arg: Any, caption: str) -> Markup:
        """Draw ``figures/NAME.png`` with ``fn(arg, path)`` and return it as an embedded figure."""

    def write_table(self, name: str, df: pd.DataFrame) -> str:
        """Write ``tables/NAME.csv`` and return its path relative to the report."""


def shown(value: Optional[T], build: Callable[[T], Markup], why: str, heading: str | None = None) -> Markup:
    """An optional ``<h3>`` heading, then ``build(value)``, or 'not run' and ``why`` when ``value`` is None."""
    head = [tag("h3", heading)] if heading else []
    return join(head + [not_run(why) if value is None else build(value)])


@dataclass(frozen=True)
class Fig:
    """A figure of a part: ``figures/NAME.png`` drawn by ``fn``, with its caption."""

    name: str
    fn: Callable[..., Path]
    caption: str


@dataclass(frozen=True)
class Part:
    """A part that shows the analysis table ``source``: its figures, then what ``more(rep, table)`` adds."""

    source: str
    heading: str | None = None
    figures: tuple[Fig, ...] = ()
    more: Callable[[Writer, pd.DataFrame], list[Markup]] | None = None

    def render(self, rep: Writer) -> Markup:
        """The part as HTML (figures drawn, derived tables written) or why its table is missing."""
        def build(df: pd.DataFrame) -> Markup:
            figures = [rep.figure(f.name, f.fn, df, f.caption) for f in self.figures]
            return join(figures + (self.more(rep, df) if self.more else []))
        return shown(rep.data.table(self.source), build, rep.data.why_missing(self.source), self.heading)


@dataclass(frozen=True)
class Section:
    """A section of analysis tables: ``<h2 id=anchor>``, an optional intro paragraph, then its parts."""

    anchor: str
    title: str
    parts: tuple[Part, ...]
    intro: str | None = None

    def render(self, rep: Writer) -> Markup:
        """The section as HTML."""
        intro = [tag("p", self.intro)] if self.intro else []
        return join([tag("h2", self.title, id=self.anchor), *intro, *(p.render(rep) for p in self.parts)])
