"""``babelscope run CONFIG.toml`` and ``babelscope demo``: the whole study, resumable."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)


def _print_dry_run(d: dict) -> None:
    console.print(f"[bold]model[/] {d['model']}   [bold]corpus[/] {d['corpus']}")
    console.print(f"[bold]stages[/] {' → '.join(d['stages'])}")
    console.print(f"[bold]tasks[/] {', '.join(d['tasks'])}   [bold]steps[/] {d['steps']}   "
                  f"[bold]samples[/] {d['n_samples'] if d['n_samples'] >= 0 else 'unknown'}")
    t = Table(title="sites")
    for c in ("component", "sites", "units"):
        t.add_column(c)
    for comp, v in d["by_component"].items():
        t.add_row(comp, str(v["sites"]), f"{v['units']:,}")
    t.add_row("all", str(d["n_sites"]), f"{d['n_units']:,}")
    console.print(t)
    for name, kind, n, stream in d["sites"]:
        console.print(f"  {name}  [dim]{kind}, {n} units, {stream}[/]", highlight=False)
    gb = d["store_bytes"] / 1e9
    console.print(f"[bold]store[/] {d['values_per_sample']:,} values per sample → "
                  + (f"{gb:,.2f} GB" if d["n_samples"] >= 0 else "unknown (corpus not on this machine)"))
    if d["interventions"]:
        console.print(f"[bold]interventions[/] {', '.join(d['interventions'])}")


def run_cmd(
    config: Path = typer.Argument(..., help="Run configuration (TOML); see configs/ for examples."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<config name>)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the config and show stages, sites, unit "
                                 "counts and the store's size; run nothing."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """Run every stage of a config in order (corpus, record, rank, analysis, intervene, report).

    Stages whose artifacts are complete and match the config are skipped, so an interrupted run resumes.
    """
    from babelscope.config import load_config
    from babelscope.pipeline import dry_run as plan, run_pipeline

    cfg = load_config(config)
    if dry_run:
        _print_dry_run(plan(cfg))
        return
    out = out or Path("runs") / cfg.name
    t0 = time.time()
    result = run_pipeline(cfg, out, progress=progress, log=lambda m: err.print(m, highlight=False, markup=False))
    err.print(f"run finished in {time.time() - t0:.0f} s")
    console.print(str(Path(result).resolve()), highlight=False, soft_wrap=True)


def demo(
    out: Path = typer.Option(Path("demo-out"), "--out", "-o", help="Run folder."),
    progress: bool = typer.Option(True, help="Show progress bars."),
) -> None:
    """The whole study on babel-mini and the synthesized demo corpus; prints the report's path last."""
    from babelscope.config import demo_config
    from babelscope.pipeline import run_pipeline

    t0 = time.time()
    result = run_pipeline(demo_config(), out, progress=progress, log=lambda m: err.print(m, highlight=False, markup=False))
    err.print(f"demo finished in {time.time() - t0:.0f} s")
    console.print(str(Path(result).resolve()), highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)
    app.command("demo")(demo)
