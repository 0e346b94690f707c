"""``babelscope intervene``: force neuron sets during generation, beside the unforced model and a
random-k baseline, on the samples of an activation store."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)


def _steps(spec: str | None) -> tuple[int, int] | None:
    from babelscope.errors import ConfigError

    if not spec:
        return None
    try:
        a, b = (int(x) for x in spec.split(":"))
    except ValueError:
        raise ConfigError(f"--steps: expected A:B (the step range [A, B)), got {spec!r}") from None
    return (a, b)


def intervene_cmd(
    store: Path = typer.Option(..., "--store", help="Activation store whose samples are the inputs."),
    sets: List[Path] = typer.Option(..., "--set", help="Neuron set JSON (repeat for several sets at once)."),
    expertise: List[Path] = typer.Option([], "--expertise", help="Expertise table(s) the sets were selected "
                                         "from, for the random-k baseline (one for all sets, or one per set)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model (default: the store's model)."),
    tasks: str = typer.Option("en2x_t2t", help="Comma-separated tasks of the store to run."),
    ask: Optional[str] = typer.Option(None, help="Ask every sample for this target language."),
    steer_to: Optional[str] = typer.Option(None, "--steer-to", help="Steering: the language the forced sets "
                                           "should produce; samples already asking for it are dropped."),
    op: str = typer.Option("replace", help="What is done to the units: replace, add, scale (or a registered "
                           "intervention, see docs/architecture.md)."),
    value: str = typer.Option("on_p50", help="on_p50, on_p90, off_p50, off_mean or zero."),
    factor: float = typer.Option(1.0, help="Multiply the forcing value (scale: the factor itself)."),
    positions: str = typer.Option("all", help="all or newest decoder positions."),
    steps: Optional[str] = typer.Option(None, help="Force only decoding steps in [A, B), e.g. 7:12."),
    allow_encoder_stream: bool = typer.Option(False, "--allow-encoder-stream", help="With --steps: force "
                                              "encoder-stream units of the sets (encoders, cross-attention "
                                              "K/V) anyway, on every step (otherwise an error)."),
    baseline_seed: int = typer.Option(0, help="Seed of the random-k baseline."),
    max_per_lang: Optional[int] = typer.Option(None, help="At most N samples per (task, target language)."),
    batch_size: int = typer.Option(16, help="Samples per generate call."),
    max_new_tokens: int = typer.Option(32, help="Generation length limit."),
    lid_langs: str = typer.Option("", help="Restrict language identification to these languages "
                                  "(comma-separated ISO 639-3; default: every language py3langid knows)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (results.parquet, summary.json, forcing.json)."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch intra-op threads while "
                                          "generating (default: torch's default here)."),
) -> None:
    """Run an intervention (or steering) with its unforced and random-k controls and score the outputs."""
    import babelscope
    from babelscope.errors import ConfigError
    from babelscope.intervene import Forcing, run_intervention
    from babelscope.intervene.samples import samples_from_table, select_samples
    from babelscope.models import load_model
    from babelscope.rank import load_neuron_set, read_expertise

    from babelscope.outputs import check_replaceable

    check_replaceable(out, "intervention")  # before minutes of generation, not after
    st = babelscope.open_activations(store)
    neuron_sets = tuple(load_neuron_set(p) for p in sets)
    forcing = Forcing(sets=neuron_sets, value=value, factor=factor, positions=positions, steps=_steps(steps),
                      allow_encoder_stream=allow_encoder_stream, op=op)
    if not expertise:  # before the model loads; the Python API's own message names its argument
        raise ConfigError("intervene: the random-k baseline draws its units from the expertise table(s) the sets "
                          "were selected from: pass them with --expertise FILE (once per table)")
    tables = [read_expertise(p).table for p in expertise]
    adapter = load_model(model or st.manifest["model"]["name"])
    samples = select_samples(samples_from_table(st.samples), tasks=tasks, ask=ask, exclude_tgt=steer_to,
                             max_per_lang=max_per_lang)
    res = run_intervention(adapter, samples, forcing, baseline_tables=tables or None, baseline_seed=baseline_seed,
                           steer_to=steer_to, batch_size=batch_size, max_new_tokens=max_new_tokens,
                           lid_langs=[l.strip() for l in lid_langs.split(",") if l.strip()] or None,
                           out=out, progress=progress, threads=threads,
                           log=lambda line: err.print(line, highlight=False))
    print_summary(res.summary)
    console.print(str(Path(out).resolve()))


def print_summary(summary: dict) -> None:
    from babelscope.evaluate.metrics import METRICS

    t = Table(title=f"{summary['forcing']}  ({summary['n_samples']} samples)")
    t.add_column("condition", overflow="fold")
    for m in METRICS.values():  # the registered metrics drive the columns
        t.add_column(m.label, overflow="fold")
        if m.ci:
            t.add_column("95% CI")
    for cond, s in summary["conditions"].items():
        cells = [cond]
        for m in METRICS.values():
            cells.append(format(s.get(m.summary, float("nan")), m.fmt))
            if m.ci:
                lo, hi = s.get(f"{m.summary}_ci95") or (float("nan"), float("nan"))
                cells.append(f"[{format(lo, m.fmt)}, {format(hi, m.fmt)}]")
        t.add_row(*cells)
    console.print(t)
    for pair, eff in summary["effects"].items():
        e = eff.get("is_expected")
        if e:
            console.print(f"{pair}: share expected {e['effect']:+.3f} [{e['ci95'][0]:+.3f}, {e['ci95'][1]:+.3f}]"
                          + (" (interval excludes 0)" if e["excludes_zero"] else ""))


def register(app: typer.Typer) -> None:
    app.command("intervene")(intervene_cmd)
