"""The self-contained HTML report of a run folder.

``build_report(run_dir)`` writes ``report.html`` (one file: figures embedded as base64 PNG data
URIs, inline CSS, no JavaScript, no external URL), ``figures/*.png`` and ``tables/*.csv``.

This module writes the report folder; the page is assembled from the sections
(:mod:`.sections_run`, :mod:`.sections_analysis`, :mod:`.sections_interventions`, laid out by
:mod:`.layout`) inside the document of :mod:`.page`, all built with the escaping helpers of
:mod:`.markup`.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from babelscope.version import __version__
from babelscope.atomic import staged_dir
from babelscope.outputs import REPORT_MARKER, check_replaceable
from babelscope.report.claims import Claim, evaluate_claims
from babelscope.report.data import TABLES, RunData, load_run
from babelscope.report.markup import Markup, esc, join, tag
from babelscope.report.page import page
from babelscope.report.sections_analysis import ANALYSIS_SECTIONS
from babelscope.report.sections_interventions import section_interventions
from babelscope.report.sections_run import section_claims, section_provenance, section_summary


class _Report:
    """The report being written into ``out``: its figures, its tables and the figures that failed."""

    def __init__(self, data: RunData, out: Path):
        self.data = data
        self.out = out
        self.fig_dir = out / "figures"
        self.tab_dir = out / "tables"
        self.failures: list[str] = []

    def figure(self, name: str, fn: Callable[..., Path], arg: Any, caption: str) -> Markup:
        """Draw ``figures/NAME.png`` with ``fn(arg, path)`` and return it as an embedded figure
        (a failing figure becomes a warning on the page, not a lost report)."""
        path = self.fig_dir / f"{name}.png"
        try:
            fn(arg, path)
        except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the whole report
            msg = f"figure {name} failed: {type(exc).__name__}: {exc}"
            self.failures.append(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            return tag("p", msg, class_="warn")
        b64 = base64.b64encode(path.read_bytes()).decode("ascii")
        img = Markup(f'<img src="data:image/png;base64,{b64}" alt="{esc(caption)}">')
        return tag("figure", img, tag("figcaption", caption, " (", tag("code", f"figures/{name}.png"), ")"))

    def write_table(self, name: str, df: pd.DataFrame) -> str:
        """Write ``tables/NAME.csv`` and return its path relative to the report."""
        self.tab_dir.mkdir(parents=True, exist_ok=True)
        df.to_csv(self.tab_dir / f"{name}.csv", index=False)
        return f"tables/{name}.csv"

    def copy_inputs(self) -> None:
        """Copy every analysis table that was read into ``tables/``."""
        self.tab_dir.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            if name in self.data.tables:
                shutil.copyfile(self.data.path(name), self.tab_dir / f"{name}.csv")

    def body(self, claims: list[Claim]) -> Markup:
        """Every section, in page order (provenance last: it lists the figures that failed)."""
        return join([section_summary(self, claims), *(s.render(self) for s in ANALYSIS_SECTIONS),
                     section_interventions(self), section_claims(self, claims), section_provenance(self)], "\n")


#: what a run folder holds (any of them, for a run that was interrupted or ran some stages only)
RUN_MARKS = ("run.json", "analysis", "expertise", "interventions")


def build_report(run_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the report of a run folder and return the path of ``report.html``.

    ``out_dir`` defaults to ``RUN/report``; it must be absent, empty or an earlier report, which is
    replaced whole (atomically). Missing files make their section say "not run" and their claim "not testable here".
    """
    from babelscope.errors import ConfigError

    run = Path(run_dir)
    if not run.is_dir():
        raise ConfigError(f"{run}: not a run folder (no such directory)")
    if not any((run / name).exists() for name in RUN_MARKS):
        what = (" — it is an activation store (`babelscope record`); rank, analyse and intervene on it with "
                "`babelscope run`, whose output folder is a run" if (run / "responses.zarr").exists() else "")
        raise ConfigError(f"{run}: not a run folder: it has none of {', '.join(RUN_MARKS)}{what}")
    out = Path(out_dir) if out_dir is not None else run / "report"
    # replace only an earlier report: a folder of the user's files is never touched
    check_replaceable(out, "report")
    data = load_run(run)
    claims = evaluate_claims(data)
    # the whole report (page, figures, tables, marker) is built in a fresh folder beside ``out`` and
    # swapped in at the end: an interrupted run leaves the old report whole (babelscope.atomic)
    with staged_dir(out) as tmp:
        rep = _Report(data, tmp)
        rep.copy_inputs()
        body = rep.body(claims)
        model = ((data.run or {}).get("model") or {}).get("name") or run.name
        (tmp / "report.html").write_text(page(f"babelscope report: {model}", body), encoding="utf-8")
        (tmp / REPORT_MARKER).write_text(json.dumps({"artifact": "report", "run": str(run.resolve()),
                                                     "babelscope_version": __version__}, indent=1))
    return out / "report.html"
