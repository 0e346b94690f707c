"""The intervention stage of a run: every configured intervention into ``RUN/interventions/<name>``.

* ``steering``: the control set (``target_language`` analysis) of language ``label``, found from
  ``source_modality`` input at ``select_step``, is forced while pivot→X samples of
  ``target_modality`` ask for other languages (or for ``ask``); success = output identified as
  ``label``. source ≠ target modality is cross-modal steering.
* ``median_replacement``: the representation set (``source_language`` analysis) of ``label`` is
  forced to its medians while X→pivot samples of ``target_modality`` from other source languages
  are translated; the effect is on output language and quality (chrF++).

The samples' task is the task table's (:mod:`babelscope.vocab.tasks`) pivot→X or X→pivot task of the
target modality among the recorded ones, whatever its name.
"""

from __future__ import annotations

import json
from pathlib import Path

from babelscope.atomic import atomic_write_text
from babelscope.config.schema import InterventionCfg, InterveneCfg
from babelscope.errors import ConfigError
from babelscope.intervene import Forcing, run_intervention
from babelscope.intervene.samples import samples_from_table, select_samples
from babelscope.pipeline.rank_stage import RankJob
from babelscope.rank import select_units
from babelscope.rank.expertise import Expertise
from babelscope.rank.select import candidates
from babelscope.vocab.tasks import analysis_task, describe_need, get_task
from babelscope.vocab.views import View

#: the language analysis each intervention kind selects its set from
KIND_ANALYSIS = {"steering": "target_language", "median_replacement": "source_language"}


def intervention_task(kind: str, modality: str, among) -> str | None:
    """The recorded task whose samples an intervention of ``kind`` runs on (input ``modality``)."""
    return analysis_task(KIND_ANALYSIS[kind], modality, among)


def _source_job(run: InterventionCfg) -> RankJob:
    return RankJob(KIND_ANALYSIS[run.kind], run.source_modality, View.step_view(run.select_step), ("text_decoder",))


def run_one(adapter, store, jobs: dict[RankJob, Expertise], run: InterventionCfg, cfg: InterveneCfg, out: Path,
            *, progress: bool, threads: int | None = None, log=None, stats=None) -> dict:
    job = _source_job(run)
    exp = jobs.get(job)
    if exp is None:
        raise ConfigError(f"intervention {run.name!r}: no expertise table for {job.analysis} / {job.modality} at "
                          f"{job.view}; add the analysis to [rank] analyses and the task to [record] tasks")
    if run.label in exp.skipped_labels:
        raise ConfigError(f"intervention {run.name!r}: label {run.label!r} was not ranked in {job.file} for thin "
                          f"evidence ({exp.skipped_labels[run.label]}): there is no set to force; select at another "
                          "step (select_step) or record more samples")
    if run.label not in exp.labels:
        raise ConfigError(f"intervention {run.name!r}: label {run.label!r} is not in {job.file} ({exp.labels})")
    n = len(candidates(exp.table, run.component, run.label))
    for k in (run.sweep_k or [run.k]):
        if k > n:
            raise ConfigError(f"intervention {run.name!r}: k={k} is larger than component {run.component!r} "
                              f"({n} units)")
    all_samples = samples_from_table(store.samples)
    task = intervention_task(run.kind, run.target_modality, set(store.samples["task"]))
    if task is None:
        raise ConfigError(f"intervention {run.name!r}: a {run.kind} run on {run.target_modality} input needs a "
                          f"{describe_need(KIND_ANALYSIS[run.kind], run.target_modality)} "
                          "task in the store")
    if run.kind == "steering":
        # a cross task also has samples whose input is in the steered-to language: not steering
        samples = select_samples(all_samples, tasks=[task], ask=run.ask, exclude_tgt=run.label,
                                 exclude_src=run.label if get_task(task).direction == "cross" else None,
                                 max_per_lang=run.max_per_lang)
        steer_to = run.label
    else:
        samples = select_samples(all_samples, tasks=[task], exclude_src=run.label, max_per_lang=run.max_per_lang)
        steer_to = None
    entry = {"name": run.name, "kind": run.kind, "source_modality": run.source_modality,
             "target_modality": run.target_modality, "steer_to": steer_to, "ask": run.ask, "steps": run.steps,
             "set_label": run.label, "k": run.k, "component": run.component, "mode": run.mode,
             "op": run.op, "value": run.value, "factor": run.factor}
    if run.is_sweep:
        from babelscope.intervene.sweep import run_sweep
        res = run_sweep(adapter, samples, exp, label=run.label, ks=run.sweep_k or [run.k],
                        factors=run.sweep_factor or [run.factor], n_baselines=run.n_baselines, mode=run.mode,
                        component=run.component, op=run.op, value=run.value, positions=run.positions,
                        steps=tuple(run.steps) if run.steps else None, allow_encoder_stream=run.allow_encoder_stream,
                        baseline_seed=run.baseline_seed, steer_to=steer_to, batch_size=cfg.batch_size,
                        max_new_tokens=cfg.max_new_tokens, lid_langs=cfg.lid_langs, n_boot=cfg.n_boot,
                        n_perm=stats.n_perm if stats else 10_000, alpha=stats.alpha if stats else 0.05,
                        name=run.name, headline=(run.k, run.factor), out=out / run.name, progress=progress,
                        threads=threads, log=log)
        return {**entry, "sweep": res.summary["sweep"], "n_samples": res.summary["n_samples"]}
    ns = select_units(exp, run.label, k=run.k, mode=run.mode, component=run.component)
    forcing = Forcing(sets=(ns,), value=run.value, factor=run.factor, positions=run.positions,
                      steps=tuple(run.steps) if run.steps else None, name=run.name,
                      allow_encoder_stream=run.allow_encoder_stream, op=run.op)
    res = run_intervention(adapter, samples, forcing, baseline_tables=[exp.table], baseline_seed=run.baseline_seed,
                           steer_to=steer_to, batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens,
                           lid_langs=cfg.lid_langs, n_boot=cfg.n_boot, out=out / run.name, progress=progress,
                           extra_files={"set.json": ns.to_json()}, threads=threads, log=log)  # in the results folder's atomic move
    return {**entry, "n_samples": res.summary["n_samples"]}


def write_index(out: Path, entries: list[dict]) -> None:
    atomic_write_text(out / "index.json", json.dumps(entries, indent=1))
