"""``babelscope report``: the self-contained HTML report of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def report_cmd(
    run: Path = typer.Argument(..., help="Run folder written by `babelscope run` or `babelscope demo`."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output folder (default: RUN/report)."),
) -> None:
    """Write report.html (figures embedded), figures/*.png and tables/*.csv; print the report path last."""
    from rich.console import Console

    from babelscope.report import build_report, evaluate_claims, load_run

    console = Console(soft_wrap=True)
    path = build_report(run, out)
    for c in evaluate_claims(load_run(run)):
        colour = {"supported": "green", "not supported": "red"}.get(c.verdict, "yellow")
        console.print(f"claim {c.number}: [{colour}]{c.verdict}[/] — {c.reason}", highlight=False, markup=True)
    typer.echo(str(path.resolve()))


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
