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
        console.print(f"  {name}  [dim]{kind}, {n} units, {stream}[/]", highlight=False, soft_wrap=True)
    gb = d["store_bytes"] / 1e9
    per_1000 = d["values_per_sample"] * d["bytes_per_value"] * 1000 / 1e9
    console.print(f"[bold]store[/] {d['values_per_sample']:,} values per sample ({d['bytes_per_value']} bytes each) → "
                  f"{per_1000:,.1f} GB per 1,000 samples; "
                  + (f"{gb:,.2f} GB for this run's {d['n_samples']:,} samples" if d["n_samples"] >= 0
                     else "total unknown (corpus not on this machine)"), soft_wrap=True)
    known = d["n_samples"] >= 0
    t = Table(title=f"site selections ({d['bytes_per_value']} bytes per value)")
    for c in ("selection", "sites", "units", "per sample", "store" + ("" if known else " (samples unknown)")):
        t.add_column(c, justify="left" if c == "selection" else "right")
    for name, v in d["selections"].items():
        t.add_row(name, str(v["sites"]), f"{v['units']:,}", _bytes(v["bytes_per_sample"]),
                  _bytes(v["store_bytes"]) if known else "-")
    console.print(t)
    if d["interventions"]:
        console.print(f"[bold]interventions[/] {', '.join(d['interventions'])}")


def _bytes(n: float) -> str:
    for unit, size in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n:,.0f} B"


def _print_estimate(cfg, calibration_samples: int) -> None:
    from babelscope.pipeline.estimate import estimate_time, format_seconds as fmt

    console.print(f"[bold]calibration[/] recording {calibration_samples} samples with {cfg.model.name} ...")
    est = estimate_time(cfg, calibration_samples=calibration_samples)
    if "skipped" in est:
        console.print(f"[bold]time estimate[/] skipped: {est['skipped']}", highlight=False)
        return
    rec, rank = est["record"], est["rank"]
    fit = "; ".join(f"{mod} {f['a']:.3f} s per call + {f['c']:.3f} s per sample" for mod, f in rec["fit"].items())
    console.print(f"  record: calibrated on {rec['samples']} samples from {rec['inputs']} (device {est['device']}): "
                  f"{fit}", highlight=False)
    if rec["seconds"] is not None:
        console.print(f"  record: {est['n_samples']:,} samples in {rec['calls']:,} generate calls of at most "
                      f"{cfg.record.batch_size} → {rec['seconds_per_sample']:.3f} s per sample, "
                      f"[bold]{fmt(rec['seconds'])}[/]", highlight=False)
    else:
        console.print(f"  record: {rec['seconds_per_sample']:.3f} s per sample at batch {cfg.record.batch_size} "
                      "(the sample count is unknown: the corpus is not on this machine)", highlight=False)
    if rank.get("calibration"):
        cal = rank["calibration"]
        console.print(f"  rank: {rank['jobs']} tables, {rank['units']:,} unit columns; "
                      f"{cal['seconds_per_unit'] * 1e3:.3f} ms per unit at {cal['samples']:,} samples → "
                      f"[bold]{fmt(rank['seconds'])}[/]", highlight=False)
    console.print(f"[bold]time estimate[/] record + rank ≈ {fmt(est['total_seconds'])} in one process on this "
                  "machine (the Ray backend divides recording by about its number of workers; analysis, "
                  "interventions and the report are not included)", highlight=False)
    from babelscope.pipeline.estimate import step_reach_problem

    reach = ", ".join(f"step {s}: {n} of {m}" for s, (n, m) in est["steps_reached"].items())
    console.print(f"  steps: calibration samples with a response at {reach}", highlight=False)
    problem = step_reach_problem(est)
    if problem and est["representative"]:
        from babelscope.errors import ConfigError

        raise ConfigError(problem)
    if problem:  # stand-in inputs (the corpus is not here): their lengths need not be the run's
        err.print(f"[bold yellow]warning:[/] {problem} (measured on stand-in inputs)", highlight=False)


def run_cmd(
    config: Path = typer.Argument(..., help="Run configuration (TOML); see configs/ for examples."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/<config name>)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate the config and show stages, sites, unit "
                                 "counts and the store's size; run nothing."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    calibrate: bool = typer.Option(False, "--calibrate", help="With --dry-run: load the model, record a few "
                                   "samples into a temporary store and estimate the run's time."),
    calibration_samples: int = typer.Option(8, "--calibration-samples", help="Samples recorded by --calibrate."),
) -> None:
    """Run every stage of a config in order (corpus, record, rank, analysis, intervene, report).

    Stages whose artifacts are complete and match the config are skipped, so an interrupted run resumes.
    """
    from babelscope.config import load_config
    from babelscope.pipeline import dry_run as plan, run_pipeline

    cfg = load_config(config)
    if out is None:  # the name becomes a folder only here: then it must be a name, not a path
        from babelscope.outputs import safe_name

        out = Path("runs") / safe_name(cfg.name, f"{config}: name (it names the run folder runs/<name>; "
                                                 "or pass --out)")
    if dry_run:
        _print_dry_run(plan(cfg))
        if calibrate:
            _print_estimate(cfg, calibration_samples)
        return
    if calibrate:
        from babelscope.errors import ConfigError

        raise ConfigError("--calibrate goes with --dry-run")
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
