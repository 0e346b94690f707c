"""Run an intervention beside its controls and measure the outputs (METHODS §7–8).

Every intervention runs three conditions on the same inputs, batched like recording:

* ``unforced``: the model as it is;
* ``forced``: the forcing (one or several neuron sets);
* ``baseline``: for each set, the same number of units drawn at random from the same component
  (seeded), each forced to its own ``on_p50`` for the set's label, with the same positions and steps.

Steering (``steer_to=T``): the samples ask for their own target language while the control neurons
of ``T`` are forced; the expected language of every condition is then ``T``, and ``is_asked`` says
whether the output is still in the language that was asked for.

Artifacts (written atomically into ``out``): ``results.parquet`` (one row per sample × condition:
ids, languages, text, tokens, metrics), ``summary.json`` (per condition and effects with bootstrap
95% intervals against ``unforced`` and against ``baseline``) and ``forcing.json`` (the forcings,
neuron sets included).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from babelscope.atomic import staged_dir
from babelscope.corpus.tasks import TaskSample
from babelscope.errors import ConfigError
from babelscope.evaluate.metrics import METRICS, add_metric_columns
from babelscope.intervene.hooks import forcing_hooks
from babelscope.intervene.spec import Forcing, ForcingPlan, resolve
from babelscope.models.base import ModelAdapter
from babelscope.models.generation import generate_texts
from babelscope.outputs import check_replaceable
from babelscope.rank.select import select_units
from babelscope.threads import torch_threads

CONDITIONS = ("unforced", "forced", "baseline")
RESULTS, SUMMARY, FORCING = "results.parquet", "summary.json", "forcing.json"


@dataclass
class InterventionResult:
    table: pd.DataFrame
    summary: dict[str, Any]
    out: Path | None = None

    def __repr__(self) -> str:
        share = {c: round(s.get("share_expected", float("nan")), 3) for c, s in self.summary["conditions"].items()}
        where = f", out={str(self.out)!r}" if self.out is not None else ""
        return f"InterventionResult({self.summary['forcing']!r}, samples={self.summary['n_samples']}, " \
               f"share_expected={share}{where})"


def random_baseline(forcing: Forcing, tables: Sequence[pd.DataFrame], *, seed: int = 0) -> Forcing:
    """The random-k control of ``forcing``: per set, k random units of its component and label.

    ``tables[i]`` is the expertise table the i-th set was selected from (one table serves all sets
    when a single one is given); the random units get their own ``on_p50`` from it.
    """
    if len(tables) == 1:
        tables = list(tables) * len(forcing.sets)
    if len(tables) != len(forcing.sets):
        raise ConfigError(f"baseline: {len(forcing.sets)} neuron sets but {len(tables)} expertise tables")
    sets = []
    for i, (ns, table) in enumerate(zip(forcing.sets, tables)):
        sets.append(select_units(table, ns.label, k=len(ns), mode="random", component=ns.component,
                                 seed=seed + i, meta={"model": ns.model, "view": ns.view,
                                                      "analysis": {"analysis": ns.analysis, "task": ns.task,
                                                                   "modality": ns.modality}}))
    # the same intervention on random units; replacement with each unit's own on_p50 (METHODS §7)
    factor = 1.0 if forcing.op == "replace" else forcing.factor
    return Forcing(sets=tuple(sets), value="on_p50", factor=factor, positions=forcing.positions,
                   steps=forcing.steps, name="baseline", allow_encoder_stream=forcing.allow_encoder_stream,
                   op=forcing.op)


def result_rows(samples: Sequence[TaskSample], outputs: list[dict], condition: str, steer_to: str | None) -> pd.DataFrame:
    return pd.DataFrame({
        "sample_id": [s.sample_id for s in samples], "group": [s.group for s in samples],
        "task": [s.task for s in samples], "src_lang": [s.src_lang for s in samples],
        "tgt_lang": [s.tgt_lang for s in samples], "modality": [s.modality for s in samples],
        "condition": condition, "expected_lang": [steer_to or s.tgt_lang for s in samples],
        "reference": [s.reference for s in samples], "text": [o["text"] for o in outputs],
        "n_tokens": [len(o["tokens"]) for o in outputs], "tokens": [o["tokens"] for o in outputs]})


def condition_summary(df: pd.DataFrame) -> dict[str, float]:
    """The number of outputs and every registered metric's summary (:mod:`babelscope.evaluate.metrics`)."""
    return {"n": int(len(df)), **{m.summary: m.aggregate(df[m.name]) for m in METRICS.values()}}


def summarize_conditions(table: pd.DataFrame, *, n_boot: int = 1000, seed: int = 0,
                         n_perm: int = 10_000) -> dict[str, Any]:
    """Per-condition metrics and paired effects (forced − unforced, forced − baseline, baseline − unforced),
    each with its bootstrap 95% interval, its number of pairs and a two-sided sign-flip permutation p."""
    from babelscope.analysis.stats import sign_flip_test
    from babelscope.evaluate import bootstrap_ci, paired_diff_ci

    by = {c: g.set_index("sample_id").sort_index() for c, g in table.groupby("condition")}
    out: dict[str, Any] = {"conditions": {}, "effects": {}}
    for c, g in by.items():
        s = condition_summary(g)
        for m in METRICS.values():
            if m.ci:
                est, lo, hi = bootstrap_ci(g[m.name].astype(float).to_numpy(), n_boot=n_boot, seed=seed)
                s[f"{m.summary}_ci95"] = [lo, hi]
        out["conditions"][c] = s
    pairs = [("forced", "unforced"), ("forced", "baseline"), ("baseline", "unforced")]
    for a, b in pairs:
        if a not in by or b not in by:
            continue
        eff = {}
        for m in METRICS:
            x, y = by[a][m].astype(float), by[b][m].astype(float)
            if x.isna().all():
                continue
            xa, ya = x.to_numpy(), y.loc[x.index].to_numpy()
            est, lo, hi = paired_diff_ci(xa, ya, n_boot=n_boot, seed=seed)
            d = xa - ya
            d = d[~np.isnan(d)]
            eff[m] = {"effect": est, "ci95": [lo, hi], "excludes_zero": bool(lo > 0 or hi < 0), "n": int(d.size),
                      "p_two_sided": sign_flip_test(d, n_perm=n_perm, seed=seed, two_sided=True)}
        out["effects"][f"{a}-{b}"] = eff
    return out


def write_results_dir(out: Path, files: dict[str, Any]) -> None:
    """Write ``files`` into a temporary folder and move it to ``out`` (replacing an older results
    folder without ever leaving a partial one under ``out``; see :mod:`babelscope.atomic`)."""
    check_replaceable(out, "intervention")
    with staged_dir(out) as tmp:  # a killed intervention leaves no partial folder, and no temporary
        for name, obj in files.items():
            if isinstance(obj, pd.DataFrame):
                obj.to_parquet(tmp / name, index=False)
            else:
                (tmp / name).write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=float))


def run_intervention(adapter: ModelAdapter, samples: Sequence[TaskSample], forcing: Forcing, *,
                     baseline: Forcing | None = None, baseline_tables: Sequence[pd.DataFrame] | None = None,
                     baseline_seed: int = 0, steer_to: str | None = None, batch_size: int = 16,
                     max_new_tokens: int = 32, lid_langs: Sequence[str] | None = None, n_boot: int = 1000,
                     out: str | Path | None = None, progress: bool = True,
                     extra_files: dict[str, Any] | None = None, threads: int | None = None,
                     log: Callable[[str], None] | None = None) -> InterventionResult:
    """Generate under ``unforced``, ``forced`` and ``baseline`` and score every output.

    ``log`` receives one line once every input is checked, just before generation starts.

    ``threads``: torch intra-op threads while generating (default: torch's current setting); the
    summary records the count used (see :mod:`babelscope.threads`).

    ``extra_files`` (name -> JSON-able object) are written into ``out`` with the results, in the same
    atomic move.
    """
    from babelscope.evaluate import score_outputs

    if out is not None:  # before any work: only an earlier results folder may be replaced
        check_replaceable(out, "intervention")
    if not samples:
        raise ConfigError("intervention: no samples")
    if baseline is None:
        if baseline_tables is None:
            raise ConfigError("intervention: a random-k baseline is required; pass the expertise tables the "
                              "sets were selected from (baseline_tables) or a baseline forcing")
        baseline = random_baseline(forcing, baseline_tables, seed=baseline_seed)
    if steer_to is not None:
        adapter.model_lang(steer_to)
    adapter.check_generation_length(max_new_tokens)
    deepest = adapter.decoder_prompt_length + max_new_tokens - 1
    for f in (forcing, baseline):
        if f.steps is not None and f.steps[0] > deepest:
            raise ConfigError(f"forcing steps [{f.steps[0]}, {f.steps[1]}) start beyond the longest decoded prefix "
                              f"({deepest} = {adapter.decoder_prompt_length} start tokens + max_new_tokens "
                              f"{max_new_tokens} - 1): the forcing would never apply")
    plans: dict[str, ForcingPlan | None] = {"unforced": None, "forced": resolve(forcing, adapter),
                                            "baseline": resolve(baseline, adapter)}
    if log is not None:
        log(f"{len(samples)} samples, each generated unforced, forced and with the random-k baseline")
    t0 = time.time()
    frames = []
    with torch_threads(threads) as n_threads:
        for cond, plan in plans.items():
            ctx = None if plan is None else (lambda sub, batch, plan=plan: forcing_hooks(adapter, plan, batch))
            outputs = generate_texts(adapter, samples, batch_size=batch_size, max_new_tokens=max_new_tokens,
                                     context=ctx, progress=progress, label=f"intervene: {cond}")
            frames.append(result_rows(samples, outputs, cond, steer_to))
    table = pd.concat(frames, ignore_index=True)
    table = score_outputs(table, langs=lid_langs)
    add_metric_columns(table)
    summary = {"forcing": forcing.describe(), "baseline": baseline.describe(), "steer_to": steer_to,
               "n_samples": len(samples), "n_forced_units": plans["forced"].n_units,
               "lid_langs": list(lid_langs) if lid_langs else None, "model": adapter.describe(),
               "threads": n_threads,
               **summarize_conditions(table, n_boot=n_boot), "seconds": round(time.time() - t0, 1)}
    summary["by_tgt_lang"] = {
        str(l): {c: condition_summary(g2) for c, g2 in g.groupby("condition")}
        for l, g in table.groupby("tgt_lang")}
    path = None
    if out is not None:
        path = Path(out)
        write_results_dir(path, {RESULTS: table, SUMMARY: summary,
                                 FORCING: {"forced": forcing.to_json(), "baseline": baseline.to_json()},
                                 **(extra_files or {})})
    return InterventionResult(table=table, summary=summary, out=path)


def read_results(folder: str | Path) -> InterventionResult:
    folder = Path(folder)
    for name in (RESULTS, SUMMARY):
        if not (folder / name).is_file():
            raise ConfigError(f"{folder}: no {name}; not a finished intervention folder")
    return InterventionResult(table=pd.read_parquet(folder / RESULTS),
                              summary=json.loads((folder / SUMMARY).read_text()), out=folder)

