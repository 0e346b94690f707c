"""``babelscope models``, ``babelscope sites``, ``babelscope record``, ``babelscope diff-stores``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _ints(value: str, what: str) -> tuple[int, ...]:
    from babelscope.errors import ConfigError

    try:
        return tuple(int(v) for v in _csv(value))
    except ValueError:
        raise ConfigError(f"{what}: expected comma-separated integers, got {value!r}") from None


def models() -> None:
    """List the built-in and zoo models, and each model family's tasks with how it asks for them."""
    from babelscope.models import FAMILIES, ZOO, list_builtins
    from babelscope.vocab.tasks import TASKS

    t = Table("name", "family", "description", title="built-in models")
    for b in list_builtins():
        t.add_row(b["name"], b["family"], b["description"])
    console.print(t)
    z = Table("name", "description", title="zoo models (real weights from registry packages, assembled on first use)")
    for m in ZOO.values():
        z.add_row(m.name, m.description)
    console.print(z)
    f = Table("family", "model types", "task", "input", "how the model is asked", title="model families and tasks")
    for fam in FAMILIES.values():
        cls = fam.adapter_class()
        for i, (task, how) in enumerate(cls.task_requests.items()):
            f.add_row(fam.name if i == 0 else "", ", ".join(fam.model_types) if i == 0 else "", task,
                      TASKS[task].modality, how)
    console.print(f)
    console.print("Any local model folder or Hugging Face hub id of these model types also works.")


def sites(
    model: str = typer.Option(..., "--model", "-m", help="Built-in name, local folder or hub id."),
    pattern: str = typer.Option("*", "--sites", "-s", help="Comma-separated globs, 're:REGEX', component names or a preset: all (the paper's default), study (FFN post-activations, attention outputs, cross-attention K/V, layer outputs)."),
    component: Optional[str] = typer.Option(None, help="Keep one component: speech_encoder, text_encoder, text_decoder."),
    device: str = typer.Option("cpu", help="Device to load the model on."),
) -> None:
    """List a model's sites with their channel axis and unit counts."""
    from babelscope.models import load_model, select_sites

    adapter = load_model(model, device=device)
    chosen = select_sites(adapter.sites(), _csv(pattern), components=[component] if component else None)
    t = Table(title=f"sites of {model}")
    t.add_column("site", no_wrap=True)
    for col in ("component", "group", "layer", "kind", "axis", "units", "pooled"):
        t.add_column(col, overflow="fold")
    for s in chosen:
        t.add_row(s.name, s.component, s.group, str(s.layer), s.kind, str(s.channel_axis), str(s.n_units),
                  "sample" if s.stream == "encoder" else "step")
    Console(width=max(console.width, 150)).print(t)
    console.print(f"{len(chosen)} sites, {sum(s.n_units for s in chosen):,} units")


def record_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Built-in name, local folder or hub id."),
    corpus: Path = typer.Option(..., "--corpus", "-c", help="Corpus folder holding manifest.jsonl."),
    out: Path = typer.Option(..., "--out", "-o", help="Output store folder (resumed if interrupted)."),
    tasks: str = typer.Option("t2t", help="Comma-separated tasks: asr, s2t, t2t, en2x_s2t, en2x_t2t, x2y_s2t, "
                                          "x2y_t2t (`babelscope models` shows which a model family runs)."),
    tgt_lang: str = typer.Option("eng", "--tgt-lang", help="Pivot language: target of X-to-pivot tasks, source of en2x tasks."),
    langs: Optional[str] = typer.Option(None, help="Comma-separated non-pivot languages to keep (default: all)."),
    split: Optional[str] = typer.Option(None, help="Keep only records of this split."),
    max_groups: Optional[int] = typer.Option(None, help="Keep only the first N parallel groups."),
    steps: str = typer.Option("2,7,12", help="Decoding steps (prefix lengths incl. start tokens)."),
    site_patterns: str = typer.Option("text_decoder", "--sites", help="Comma-separated globs, 're:REGEX', component names or a preset: all (the paper's default), study (FFN post-activations, attention outputs, cross-attention K/V, layer outputs)."),
    encoder_pooling: str = typer.Option("mean", help="Pooling of encoder sites: mean, max or last."),
    batch_size: int = typer.Option(16, help="Samples per generate call (also the store's chunk size)."),
    max_new_tokens: int = typer.Option(24, help="Generation length limit (RecordSettings.max_new_tokens)."),
    dtype: str = typer.Option("float32", help="Store dtype: float32 or float16."),
    device: str = typer.Option("cpu", help="cpu, cuda, cuda:1, ... (--backend ray: the workers use one GPU "
                               "each when the cluster has GPUs, else the CPU)"),
    model_dtype: str = typer.Option("float32", help="Model weights dtype: float32, float16, bfloat16."),
    overwrite: bool = typer.Option(False, help="Delete an existing store at --out first."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    backend: str = typer.Option("local", help="local (this process) or ray (Ray actors, one model replica "
                                "each; needs Ray: the ray extra)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join (e.g. auto, "
                                              "ray://head:10001; default: RAY_ADDRESS, else a local cluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Ray actors (default: one per GPU, or per "
                                          "CPU without GPUs)."),
    seed: int = typer.Option(0, help="Seed of built-in random models (the Ray workers load the same one)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Torch intra-op threads of every "
                                          "recording process, local or Ray worker (default: torch's default "
                                          "here); the store records it; the same count gives the same bits."),
) -> None:
    """Record pooled responses of the chosen sites, per decoding step, into an activation store."""
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.models import load_model
    from babelscope.executor import Executor
    from babelscope.record import RecordSettings, record

    settings = RecordSettings(steps=_ints(steps, "steps"), sites=tuple(_csv(site_patterns)),
                              encoder_pooling=encoder_pooling, batch_size=batch_size, dtype=dtype,
                              max_new_tokens=max_new_tokens, threads=threads)
    corp = read_manifest(corpus)
    samples = build_task_samples(corp, _csv(tasks), pivot=tgt_lang, langs=_csv(langs) or None, split=split,
                                 max_groups=max_groups)
    ex = Executor(backend, threads=threads, workers=workers, ray_address=ray_address,
                  device=None if device == "cpu" else device)
    if ex.is_ray:
        from babelscope.ray_util import import_ray

        import_ray()  # before loading the model
    # with Ray the driver's copy only validates inputs and names the model: the workers choose their device
    adapter = load_model(model, device=ex.driver_device(device), dtype=model_dtype, seed=seed)
    store = record(adapter, samples, out, settings, executor=ex, overwrite=overwrite, progress=progress, seed=seed)
    print_store_summary(store)
    console.print(str(out))


def diff_stores_cmd(
    a: Path = typer.Argument(..., help="First store."),
    b: Path = typer.Argument(..., help="Second store (the same recording, e.g. another thread count)."),
    rtol: Optional[float] = typer.Option(None, help="Relative tolerance (default: per store dtype, see "
                                         "docs/scale.md)."),
    atol: Optional[float] = typer.Option(None, help="Absolute tolerance (default: per store dtype)."),
    exact: bool = typer.Option(False, help="Require equal values (rtol = atol = 0)."),
    allow_divergent: bool = typer.Option(False, help="Leave samples whose generated tokens differ out of the "
                                         "decoder views instead of failing."),
) -> None:
    """Compare two stores of one recording within |a-b| <= atol + rtol*max(|a|,|b|); exit 1 beyond it."""
    from babelscope.record import compare_stores

    res = compare_stores(a, b, rtol=rtol, atol=atol, exact=exact, allow_divergent=allow_divergent)
    for line in res.report_lines():
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    if not res.ok:
        raise typer.Exit(1)


def print_store_summary(store) -> None:
    man = store.manifest
    t = Table("task", "modality", "samples", "mean output tokens", title=f"{store.folder}")
    df = store.samples
    for (task, mod), g in df.groupby(["task", "modality"], sort=True):
        t.add_row(task, mod, str(len(g)), f"{g['n_output_tokens'].mean():.1f}")
    console.print(t)
    n_units = sum(s["n_units"] for s in man["sites"])
    missing = ", ".join(f"step {k}: {v}" for k, v in sorted(man["steps_missing"].items(), key=lambda kv: int(kv[0])))
    console.print(f"{len(man['sites'])} sites, {n_units:,} units; samples whose output ended before a step "
                  f"(no response there): {missing or 'none'}")


def register(app: typer.Typer) -> None:
    app.command("models")(models)
    app.command("sites")(sites)
    app.command("record")(record_cmd)
    app.command("diff-stores")(diff_stores_cmd)
