"""Dose–response: one intervention swept over the set size k and the value factor, each point beside
several random-unit baselines drawn with different seeds (METHODS §7, issue 13).

For every point (k, factor) of the sweep the set of ``k`` units is selected from the expertise table
(``mode``, ``component``) and forced to ``value × factor``; ``n_baselines`` random sets of the same k
from the same component (seeds ``baseline_seed + i``) are forced to their own ``on_p50 × factor`` with
the same positions and steps. The unforced model runs once. All conditions share the samples.

Per point the summary gives the forced share of outputs in the expected (steered-to) language, each
baseline's share (the random band is their range), and the paired per-sample effect
``d = is_expected(forced) − mean over baselines of is_expected(baseline)`` with its bootstrap interval
and one-sided sign-flip p-value, and the share of empty outputs (a forcing that breaks generation).
The headline point's ``conditions`` and ``effects`` use the first baseline seed, as a single
intervention does; the curve uses the mean over all seeds. ``results.parquet`` has one row per sample × condition × point, with
columns ``point``, ``k``, ``factor`` and ``baseline_seed`` (−1 for forced and unforced rows).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from babelscope.corpus.tasks import TaskSample
from babelscope.errors import ConfigError
from babelscope.evaluate.metrics import add_metric_columns
from babelscope.intervene.hooks import forcing_hooks
from babelscope.intervene.run import (FORCING, RESULTS, SUMMARY, InterventionResult, write_results_dir, result_rows,
                                      random_baseline, summarize_conditions)
from babelscope.intervene.spec import Forcing, resolve
from babelscope.models.generation import generate_texts
from babelscope.outputs import check_replaceable
from babelscope.rank.select import select_units
from babelscope.threads import torch_threads


def sweep_effects(table: pd.DataFrame) -> pd.DataFrame:
    """Per-sample effect per point: forced − mean over baselines of ``is_expected`` (index: point, sample_id)."""
    t = table[table["condition"].isin(["forced", "baseline"])]
    m = t.assign(v=t["is_expected"].astype(float)).groupby(["point", "sample_id", "condition"])["v"].mean().unstack()
    return (m["forced"] - m["baseline"]).rename("effect")


def run_sweep(adapter, samples: Sequence[TaskSample], expertise, *, label: str, ks: Sequence[int],
              factors: Sequence[float], n_baselines: int = 5, mode: str = "both", component: str = "text_decoder",
              op: str = "replace", value: str = "on_p50", positions: str = "all", steps: tuple[int, int] | None = None,
              allow_encoder_stream: bool = False, baseline_seed: int = 0, steer_to: str | None = None,
              batch_size: int = 16, max_new_tokens: int = 32, lid_langs: Sequence[str] | None = None,
              n_boot: int = 1000, n_perm: int = 10_000, alpha: float = 0.05, name: str = "sweep",
              headline: tuple[int, float] | None = None, out: str | Path | None = None, progress: bool = True,
              threads: int | None = None, log: Callable[[str], None] | None = None) -> InterventionResult:
    """Run the sweep (see the module docstring); ``expertise`` is the :class:`Expertise` the sets come from."""
    from babelscope.analysis.stats import sign_flip_test
    from babelscope.evaluate import paired_diff_ci, score_outputs

    if out is not None:
        check_replaceable(out, "intervention")
    if not samples:
        raise ConfigError("sweep: no samples")
    if not ks or not factors:
        raise ConfigError("sweep: give at least one k and one factor")
    if n_baselines < 1:
        raise ConfigError(f"sweep: n_baselines must be >= 1, got {n_baselines}")
    if steer_to is not None:
        adapter.model_lang(steer_to)
    adapter.check_generation_length(max_new_tokens)
    points = [(int(k), float(f)) for k in ks for f in factors]
    forcings: list[tuple[int, Forcing, list[Forcing]]] = []
    for i, (k, f) in enumerate(points):
        ns = select_units(expertise, label, k=k, mode=mode, component=component)
        forced = Forcing(sets=(ns,), value=value, factor=f, positions=positions, steps=steps, name=f"{name}@k{k}x{f:g}",
                         allow_encoder_stream=allow_encoder_stream, op=op)
        bases = []
        for b in range(n_baselines):
            rb = random_baseline(forced, [expertise.table], seed=baseline_seed + b)
            bases.append(Forcing(sets=rb.sets, value="on_p50", factor=f, positions=positions, steps=steps,
                                 name=f"baseline{b}", allow_encoder_stream=allow_encoder_stream, op=rb.op))
        forcings.append((i, forced, bases))
    plans = [(i, resolve(fo, adapter), [resolve(b, adapter) for b in bs]) for i, fo, bs in forcings]  # check all first
    if log is not None:
        log(f"{len(samples)} samples × {len(points)} sweep points × (forced + {n_baselines} random baselines), "
            "plus unforced")
    t0 = time.time()
    frames = []

    def gen(plan, cond, point, seed):
        ctx = None if plan is None else (lambda sub, batch, plan=plan: forcing_hooks(adapter, plan, batch))
        outs = generate_texts(adapter, samples, batch_size=batch_size, max_new_tokens=max_new_tokens, context=ctx,
                              progress=progress, label=f"sweep {point}: {cond}")
        k, f = points[point] if point >= 0 else (0, 0.0)
        frames.append(result_rows(samples, outs, cond, steer_to).assign(point=point, k=k, factor=f, baseline_seed=seed))

    with torch_threads(threads) as n_threads:
        gen(None, "unforced", -1, -1)
        for i, plan, bplans in plans:
            gen(plan, "forced", i, -1)
            for b, bp in enumerate(bplans):
                gen(bp, "baseline", i, baseline_seed + b)
    table = score_outputs(pd.concat(frames, ignore_index=True), langs=lid_langs)
    add_metric_columns(table)
    eff = sweep_effects(table)
    curve = []
    for i, (k, f) in enumerate(points):
        d = eff.loc[i].to_numpy(dtype=float)
        est, lo, hi = paired_diff_ci(d, np.zeros_like(d), n_boot=n_boot, alpha=alpha, seed=i)
        pt = table[table["point"] == i]
        base = pt[pt["condition"] == "baseline"].groupby("baseline_seed")["is_expected"].mean()
        empty = pt["text"].fillna("").str.strip() == ""
        fm = pt["condition"] == "forced"
        curve.append({"point": i, "k": k, "factor": f,
                      "forced_share": float(pt.loc[fm, "is_expected"].mean()),
                      # a forcing that breaks generation: outputs with no text, and the quality that is left
                      "forced_empty_share": float(empty[fm].mean()), "baseline_empty_share": float(empty[~fm].mean()),
                      "forced_chrf": float(pt.loc[fm, "chrf"].mean()) if pt.loc[fm, "chrf"].notna().any() else None,
                      "baseline_shares": [float(v) for v in base.to_numpy()],
                      "effect": est, "ci": [lo, hi], "p_value": sign_flip_test(d, n_perm=n_perm, seed=i),
                      "n": int(d.size)})
    # the headline point (k and factor of the run itself when swept over, else the first point) in the form
    # of a single intervention's summary, so every per-intervention table and figure reads a sweep too
    hk, hf = headline if headline in points else points[0]
    hp = points.index((hk, hf))
    head = table[(table["point"] == -1) | ((table["point"] == hp) & table["baseline_seed"].isin([-1, baseline_seed]))]
    summary: dict[str, Any] = {
        **summarize_conditions(head, n_boot=n_boot), "headline": {"k": hk, "factor": hf, "point": hp},
        "sweep": {"k": [int(k) for k in ks], "factor": [float(f) for f in factors], "n_baselines": n_baselines,
                  "baseline_seeds": [baseline_seed + b for b in range(n_baselines)], "alpha": alpha},
        "forcing": forcings[hp][1].describe(), "steer_to": steer_to, "n_samples": len(samples),
        "unforced_share": float(table.loc[table["condition"] == "unforced", "is_expected"].mean()),
        "curve": curve, "lid_langs": list(lid_langs) if lid_langs else None, "model": adapter.describe(),
        "threads": n_threads, "seconds": round(time.time() - t0, 1)}
    path = None
    if out is not None:
        path = Path(out)
        write_results_dir(path, {RESULTS: table, SUMMARY: summary,
                                 FORCING: {"points": [{"forced": fo.to_json(), "baselines": [b.to_json() for b in bs]}
                                                      for _, fo, bs in forcings]}})
    return InterventionResult(table=table, summary=summary, out=path)
