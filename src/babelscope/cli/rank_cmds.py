"""``babelscope rank``, ``select``, ``compare``, ``concentration``: thin wrappers over
:mod:`babelscope.rank` and :mod:`babelscope.analysis`."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from babelscope.defaults import MIN_NEGATIVES, MIN_POSITIVES

console = Console()


def _csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _frame_table(df, title: str, floats: str = "{:.4f}") -> Table:
    t = Table(title=title)
    for c in [df.index.name or ""] + [str(c) for c in df.columns]:
        t.add_column(c, overflow="fold")  # a narrow terminal wraps the labels that tell rows apart, never cuts them
    for idx, *row in df.itertuples(index=True, name=None):
        t.add_row(str(idx), *[floats.format(v) if isinstance(v, float) else str(v) for v in row])
    return t


def rank_cmd(
    store: Path = typer.Argument(..., help="Activation store folder written by `babelscope record`."),
    analysis: str = typer.Option(..., "--analysis", "-a", help="source_language, target_language, modality, "
                                 "language_x_modality or multimodal_language."),
    view: str = typer.Option(..., "--view", "-v", help="View to rank: 'encoder' or e.g. 'step=2/mean', 'step=7/last'."),
    modality: Optional[str] = typer.Option(None, help="speech or text (source_language / target_language only)."),
    family: Optional[str] = typer.Option(None, help="Task family of two-modality analyses: x2en (default) or en2x."),
    task: Optional[str] = typer.Option(None, help="Override the task of the comparison set (e.g. asr)."),
    sites: str = typer.Option("", "--sites", "-s", help="Comma-separated site globs, 're:REGEX' or component "
                              "names (default: every site with the view)."),
    components: str = typer.Option("", help="Comma-separated components to keep: speech_encoder, text_encoder, "
                                   "text_decoder."),
    block_units: int = typer.Option(4096, help="Units read from the store per block (bounds memory)."),
    threads: Optional[int] = typer.Option(None, help="Ranking threads (default: CPU count, at most 8)."),
    encoder_fallback: bool = typer.Option(True, help="Rank decoder sites recorded once per sample "
                                          "(cross-attention K/V) at the 'encoder' view."),
    unpaired: bool = typer.Option(False, help="Two-modality analyses: keep sentences present in one modality only."),
    min_positives: int = typer.Option(MIN_POSITIVES, help="A label with fewer positives (samples with a response "
                                      "at the view) is not ranked: a warning, or an error with --strict."),
    min_negatives: int = typer.Option(MIN_NEGATIVES, help="The same for negatives."),
    strict: bool = typer.Option(False, help="Refuse a ranking in which a label is below the minimums."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output Parquet file (default: "
                                       "expertise/<analysis>[-<family>]-<modality>[-<task>]-<view>.parquet, the "
                                       "name babelscope run gives it)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    backend: str = typer.Option("local", help="local, or ray: blocks of units as Ray tasks (same table; "
                                "needs Ray: the ray extra)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster to join (default: "
                                              "RAY_ADDRESS, else a local cluster)."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Ray tasks at once (default: the cluster's CPUs)."),
) -> None:
    """Rank every unit for every label of an analysis: AP and forcing statistics (an expertise table)."""
    import babelscope
    from babelscope.executor import Executor
    from babelscope.rank import build_analysis, rank_store

    st = babelscope.open_activations(store)
    an = build_analysis(st.samples, analysis, modality=modality, family=family, task=task,
                        paired=not unpaired)
    if out is None:  # the name `babelscope run` gives the same ranking
        from babelscope.pipeline.rank_stage import expertise_file_name

        out = Path("expertise") / expertise_file_name(analysis, an.modality, view, family, task)
    exp = rank_store(st, an, view=view, patterns=_csv(sites) or None, components=_csv(components) or None,
                     block_units=block_units, out=out, progress=progress,
                     encoder_fallback=encoder_fallback, threads=threads,
                     executor=Executor(backend, workers=workers, ray_address=ray_address),
                     min_positives=min_positives, min_negatives=min_negatives, strict=strict)
    meta = exp.meta
    console.print(f"ranked {sum(s['n_units'] for s in meta['sites'].values()):,} units at "
                  f"{len(meta['sites'])} site(s) for labels {', '.join(exp.labels)}"
                  + (f" (skipped: {', '.join(exp.skipped_labels)})" if exp.skipped_labels else "") + "; "
                  f"{meta['n_used']} of {meta['n_samples']} samples used, {meta['n_dropped']} dropped "
                  f"(no response at {view}); {len(meta['skipped_sites'])} site(s) skipped")
    console.print(f"wrote {out}")


def select_cmd(
    expertise: Path = typer.Argument(..., help="Expertise Parquet file written by `babelscope rank`."),
    label: str = typer.Option(..., "--label", "-l", help="Label to select for (e.g. deu, speech, deu/speech)."),
    k: int = typer.Option(1000, "--k", "-k", help="Number of units."),
    mode: str = typer.Option("both", help="top, bottom, both (k//2 top + rest bottom) or random."),
    component: str = typer.Option("text_decoder", help="speech_encoder, text_encoder, text_decoder (the "
                                  "decoder stream: no cross-attention K/V), decoder_kv, decoder_all, "
                                  "decoder_attn, decoder_ffn or all."),
    seed: int = typer.Option(0, help="Seed of mode=random."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output JSON (default: beside the expertise "
                                       "file, named after label, component, mode and k)."),
) -> None:
    """Select a neuron set (top/bottom/both/random k units) from an expertise table."""
    from babelscope.rank import read_expertise, save_neuron_set, select_units

    exp = read_expertise(expertise)
    ns = select_units(exp, label, k=k, mode=mode, component=component, seed=seed)
    out = out or expertise.with_name(f"{expertise.stem}.{_slug(label)}.{component}.{mode}{k}.json")
    save_neuron_set(ns, out)
    aps = [u.ap for u in ns.units]
    console.print(f"selected {len(ns)} of {ns.n_candidates:,} {component} units for {label!r} ({mode}); "
                  f"AP from {min(aps):.4f} to {max(aps):.4f}")
    console.print(f"wrote {out}")


def compare_cmd(
    inputs: list[Path] = typer.Argument(..., help="Two neuron-set JSON files, or two or more expertise "
                                        "Parquet files."),
    label: Optional[str] = typer.Option(None, "--label", "-l", help="With expertise files: compare this label "
                                        "across the files (e.g. across steps)."),
    k: int = typer.Option(1000, "--k", "-k", help="Set size when selecting from expertise files."),
    mode: str = typer.Option("both", help="Selection mode for expertise files: top, bottom, both, random."),
    component: str = typer.Option("text_decoder", help="Component to select from (see `select`)."),
    metric: str = typer.Option("count", help="Matrix entries: count, jaccard or overlap_coef."),
    by: str = typer.Option("global", help="Spearman scope for two expertise files: global, component, layer, site."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the matrix (or overlap row) as CSV."),
) -> None:
    """Compare neuron sets (overlap) or expertise tables (overlap matrices and Spearman agreement)."""
    import pandas as pd

    from babelscope.analysis import (across_step_matrix, cross_modal_matrix, overlap, rank_agreement)
    from babelscope.errors import ConfigError
    from babelscope.rank import load_neuron_set, read_expertise

    kinds = {p.suffix.lower() for p in inputs}
    if kinds == {".json"}:
        if len(inputs) != 2:
            raise ConfigError(f"compare needs exactly two neuron sets, got {len(inputs)}")
        a, b = (load_neuron_set(p) for p in inputs)
        o = overlap(a, b)
        df = pd.DataFrame([dataclasses.asdict(o)], index=pd.Index(["a vs b"]))
        console.print(_frame_table(df, f"overlap of {inputs[0].name} and {inputs[1].name}"))
    elif kinds == {".parquet"}:
        if len(inputs) < 2:
            raise ConfigError("compare needs at least two expertise files")
        exps = [read_expertise(p) for p in inputs]
        opts = dict(k=k, mode=mode, component=component, metric=metric)
        if label is not None:
            keys = [f"{p.stem}" for p in inputs]
            df = across_step_matrix(dict(zip(keys, exps)), label, **opts)
            console.print(_frame_table(df, f"overlap ({metric}) of {label!r} sets across files", "{:.3f}"))
        else:
            if len(exps) != 2:
                raise ConfigError("without --label, compare takes exactly two expertise files")
            df = cross_modal_matrix(exps[0], exps[1], **opts)
            console.print(_frame_table(df, f"overlap ({metric}): rows {inputs[0].name}, columns "
                                           f"{inputs[1].name}", "{:.3f}"))
            for lab in df.index:
                agree = rank_agreement(exps[0], exps[1], label_a=lab, by=by).set_index("scope")
                console.print(_frame_table(agree, f"Spearman rho of AP, label {lab!r}"))
        from babelscope.rank.select import candidates

        n_cand = len(candidates(exps[0].table, component, label or str(df.index[0])))
        console.print(f"chance level of the count for two random {k}-sets out of {n_cand:,} "
                      f"{component} units: {k * k / n_cand:.2f}")
    else:
        raise ConfigError("compare takes only .json neuron sets or only .parquet expertise files, "
                          f"got {sorted(kinds)}")
    if out is not None:
        df.to_csv(out)
        console.print(f"wrote {out}")


def concentration_cmd(
    store: Path = typer.Argument(..., help="Activation store folder written by `babelscope record`."),
    view: str = typer.Option(..., "--view", "-v", help="View: 'encoder' or e.g. 'step=2/mean'."),
    scope: str = typer.Option("component", help="Units pooled per measure: all, component, layer or site."),
    group_by: str = typer.Option("task,src_lang,modality", help="Comma-separated sample columns defining groups."),
    tasks: str = typer.Option("", help="Comma-separated tasks to keep (default: all)."),
    sites: str = typer.Option("", "--sites", "-s", help="Comma-separated site globs, 're:REGEX' or components."),
    components: str = typer.Option("", help="Comma-separated components to keep."),
    block_units: int = typer.Option(4096, help="Units read from the store per block (bounds memory)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the table as CSV."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Concentration of activation mass (Gini, top-1% share, normalised entropy) per group and scope."""
    import babelscope
    from babelscope.analysis import concentration_store

    st = babelscope.open_activations(store)
    res = concentration_store(st, view=view, scope=scope, group_by=_csv(group_by), tasks=_csv(tasks) or None,
                              patterns=_csv(sites) or None, components=_csv(components) or None,
                              block_units=block_units, progress=progress)
    console.print(_frame_table(res.table.set_index("group"), f"concentration at {view} by {scope}"))
    if out is not None:
        res.table.to_csv(out, index=False)
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add the ranking and comparison commands to the ``babelscope`` app."""
    app.command("rank")(rank_cmd)
    app.command("select")(select_cmd)
    app.command("compare")(compare_cmd)
    app.command("concentration")(concentration_cmd)
