"""Every check a run config allows before anything runs (``run --dry-run`` and the start of ``run``).

A run that would fail in its rank, analysis or intervention stage for a reason the config alone
shows — one language left for an analysis, a step the generation never reaches, ``k`` larger than
the component, an intervention without the task it needs — fails here, before hours of recording.
The checks use the same code the stages use (task samples from the corpus, the analyses' label
sets, the selected sites), on the corpus's records without reading audio and on a weightless copy
of the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from babelscope.config import RunConfig
from babelscope.errors import BabelscopeError, ConfigError
from babelscope.vocab.components import ENCODER_STREAM_COMPONENTS, MODALITIES
from babelscope.vocab.tasks import analysis_task, describe_need, family_task

_ENCODERS = {"speech": "speech_encoder", "text": "text_encoder"}


def planned_corpus(cfg: RunConfig):
    """The corpus a run will read, without audio: the demo's records are listed, not synthesized.
    None when the corpus is not on this machine."""
    from babelscope.corpus import read_manifest
    from babelscope.corpus.manifest import Corpus, CorpusRecord

    c = cfg.corpus
    if c.source != "demo":
        if not (Path(c.source) / "manifest.jsonl").is_file():
            return None
        return read_manifest(c.source, check_audio=False)
    from babelscope.corpus.demo_corpus import DEMO_LANGS, select_rows

    records = [CorpusRecord(id=f"{row['group']}-{lang}-{mod}", group=row["group"], lang=lang, modality=mod,
                            text=row[lang], split=row["split"])
               for row in select_rows(split=c.split, max_groups=c.max_groups)
               for lang in (c.langs or DEMO_LANGS) for mod in ("text", "speech")]
    return Corpus(root=Path("."), records=records)


def planned_samples(cfg: RunConfig, corpus) -> pd.DataFrame:
    """The samples table the record stage will write (the same rows, in the same order)."""
    from babelscope.corpus import build_task_samples

    c = cfg.corpus
    demo = c.source == "demo"
    samples = build_task_samples(corpus, cfg.record.tasks, pivot=c.pivot, langs=c.langs,
                                 split=None if demo else c.split, max_groups=None if demo else c.max_groups)
    return pd.DataFrame([s.to_row() for s in samples])


def _units(sites, component: str) -> int:
    from babelscope.rank.select import component_mask
    if not sites:
        return 0
    mask = component_mask(component, [s.component for s in sites], [s.group for s in sites], [s.name for s in sites])
    return sum(s.n_units for s, m in zip(sites, mask) if m)


def _k_problem(what: str, k: int, component: str, sites) -> str | None:
    n = _units(sites, component)
    if n == 0:
        return f"{what}: component {component!r} has no unit among the selected sites ([record] sites)"
    if k > n:
        return f"{what}: k={k} is larger than component {component!r} ({n} units at the selected sites); use k <= {n}"
    return None


def _analysis_problems(cfg: RunConfig, table: pd.DataFrame, jobs) -> tuple[list[str], dict]:
    from babelscope.rank import build_analysis

    problems, labels, seen = [], {}, set()
    for job in jobs:
        key = (job.analysis, job.modality, job.family)
        if key in seen:
            continue
        seen.add(key)
        try:
            if job.analysis == "modality":
                an = build_analysis(table, "modality", family=job.family or "x2en")
            else:
                an = build_analysis(table, job.analysis, modality=job.modality)
        except BabelscopeError as exc:
            problems.append(f"rank.analyses: {job.analysis!r} ({job.modality}) cannot be built from this corpus "
                            f"and these tasks: {exc}")
            continue
        labels[key] = an
        problems += _thin_problems(cfg, job, an)
    return problems, labels


def _thin_problems(cfg: RunConfig, job, an) -> list[str]:
    """Labels with fewer samples in the whole corpus than the ranking's minimum positives or negatives
    (every step can only have fewer): they would be skipped — a problem when ``[rank] strict`` is set or
    when no label would be left (the rank stage then fails after recording)."""
    import numpy as np

    rc = cfg.rank
    counts = np.bincount(an.labels, minlength=len(an.label_names))
    thin = [f"{name} ({c} samples, {len(an.labels) - c} others)" for name, c in zip(an.label_names, counts)
            if c < rc.min_positives or len(an.labels) - c < rc.min_negatives]
    if not thin or not (rc.strict or len(thin) == len(an.label_names)):
        return []
    why = "no label would be left to rank" if len(thin) == len(an.label_names) else "[rank] strict refuses the ranking"
    return [f"rank: analysis {job.analysis!r} ({job.modality}): {len(thin)} label(s) below the minimum of "
            f"{rc.min_positives} positives and {rc.min_negatives} negatives ([rank] min_positives, min_negatives) "
            f"even before any sample lacks a step: {', '.join(thin)}; {why}. Use more sentence groups "
            "(corpus max_groups) or lower the minimums knowingly"]


def _label_problems_from_config(cfg: RunConfig, jobs) -> list[str]:
    """Without the corpus on this machine: a language analysis whose label set the config already fixes to
    one language (``[corpus] langs`` minus the pivot)."""
    langs = cfg.corpus.langs
    if not langs:
        return []
    others = sorted(set(langs) - {cfg.corpus.pivot})
    from babelscope.vocab.tasks import get_task

    pivot_only = {j.analysis for j in jobs if j.analysis != "modality" and j.tasks(cfg.record.tasks)
                  and all(get_task(t).direction in ("to_pivot", "from_pivot") for t in j.tasks(cfg.record.tasks))}
    return [f"rank.analyses: {an!r} compares the languages other than the pivot {cfg.corpus.pivot!r}, and [corpus] "
            f"langs leaves {len(others)} ({', '.join(others) or 'none'}): it needs at least two"
            for an in sorted(pivot_only) if len(others) < 2]


def _intervention_problems(cfg: RunConfig, sites, table: pd.DataFrame | None, analyses: dict,
                           prompt: int) -> list[str]:
    from babelscope.intervene.ops import INTERVENTIONS
    from babelscope.intervene.samples import samples_from_table, select_samples
    from babelscope.pipeline.intervene_stage import KIND_ANALYSIS

    problems = []
    tasks = set(cfg.record.tasks)
    for run in cfg.intervene.runs:
        what = f"intervene.runs[{run.name!r}]"
        steering = run.kind == "steering"
        analysis = KIND_ANALYSIS[run.kind]
        src_task = analysis_task(analysis, run.source_modality, tasks)
        tgt_task = analysis_task(analysis, run.target_modality, tasks)
        missing = [describe_need(analysis, m) for m, t in dict.fromkeys(((run.source_modality, src_task),
                                                                    (run.target_modality, tgt_task))) if t is None]
        if run.op not in INTERVENTIONS or not INTERVENTIONS[run.op].from_set:
            problems.append(f"{what}: op {run.op!r} is not an intervention a neuron set can drive; expected one of "
                            f"{sorted(n for n, op in INTERVENTIONS.items() if op.from_set)}")
        if analysis not in cfg.rank.analyses:
            problems.append(f"{what}: a {run.kind} run needs the {analysis!r} analysis in [rank] analyses")
        if missing:
            problems.append(f"{what}: a {run.kind} run from {run.source_modality} to {run.target_modality} needs "
                            f"task(s) {missing} in [record] tasks (they are {cfg.record.tasks})")
        for k in (run.sweep_k or [run.k]):
            p = _k_problem(what, k, run.component, sites)
            if p:
                problems.append(p)
        if run.steps and run.component in ENCODER_STREAM_COMPONENTS and not run.allow_encoder_stream:
            problems.append(f"{what}: component {run.component!r} holds encoder-stream units (one value per input, "
                            f"forced on every step), so steps {run.steps} would not hold for them; use component "
                            "'text_decoder', drop steps, or set allow_encoder_stream = true")
        deepest = prompt + cfg.intervene.max_new_tokens - 1  # as run_intervention counts
        if run.steps and run.steps[0] > deepest:
            problems.append(f"{what}: steps {run.steps} start beyond the longest decoded prefix ({deepest} = {prompt} "
                            f"start tokens + intervene.max_new_tokens {cfg.intervene.max_new_tokens} - 1): the "
                            "forcing would never apply")
        if table is not None:
            langs = sorted(set(table["src_lang"]) | set(table["tgt_lang"]))
            if run.label not in langs:
                problems.append(f"{what}: label {run.label!r} is not a language of this run's samples ({langs})")
                continue
        an = analyses.get((analysis, run.source_modality, None))
        if an is not None and run.label not in an.label_names:
            problems.append(f"{what}: label {run.label!r} is not a label of the {analysis!r} analysis "
                            f"({list(an.label_names)})")
            continue
        if table is None or missing:
            continue
        langs = set(table["src_lang"]) | set(table["tgt_lang"])
        if run.ask is not None and run.ask not in langs:
            problems.append(f"{what}: ask={run.ask!r} is not a language of the corpus ({sorted(langs)})")
            continue
        samples = samples_from_table(table)
        try:
            if steering:
                select_samples(samples, tasks=[tgt_task], ask=run.ask, exclude_tgt=run.label)
            else:
                select_samples(samples, tasks=[tgt_task], exclude_src=run.label)
        except ConfigError:
            problems.append(f"{what}: no {tgt_task} sample is left to intervene on: every sample of this corpus "
                            f"{'asks for' if steering else 'comes from'} {run.label!r}; add languages")
    return problems


def config_problems(cfg: RunConfig, sites: Sequence, adapter) -> list[str]:
    """Every problem the config, the corpus's records and the model's sites show; [] when none."""
    from babelscope.pipeline.rank_stage import rank_jobs

    from babelscope.record import RecordSettings

    problems: list[str] = []
    settings = RecordSettings.from_config(cfg.record)
    try:  # the record stage's own check (steps within the generation, the decoder's positions)
        settings.validate(adapter)
    except ConfigError as exc:
        problems.append(f"record.{exc}")
    try:
        adapter.check_generation_length(cfg.intervene.max_new_tokens, "intervene.max_new_tokens")
    except ConfigError as exc:
        problems.append(str(exc))
    r = cfg.record
    comps = {s.component for s in sites}
    jobs = rank_jobs(cfg.rank.analyses, r.steps, r.tasks, comps)
    if any(j.view != "encoder" for j in jobs) and "text_decoder" not in comps:
        problems.append("record.sites: the analyses rank decoder units per step, but no text_decoder site is "
                        "selected")
    asked = "analyses" in cfg.rank.model_fields_set  # the default list skips what the tasks cannot give
    for an in cfg.rank.analyses if asked else ():
        if not any(j.analysis == an for j in jobs):
            need = (" and ".join(family_task("x2en", m) for m in MODALITIES) if an == "modality"
                    else describe_need(an))
            problems.append(f"rank.analyses: {an!r} needs task(s) {need} in [record] tasks "
                            f"(they are {r.tasks}); remove it or add the tasks")
    # the analysis stage selects k units in [select] component, and in each ranked encoder
    if any(j.view != "encoder" for j in jobs):
        p = _k_problem("select", cfg.select.k, cfg.select.component, sites)
        if p:
            problems.append(p)
    for enc in sorted({j.components[0] for j in jobs if j.view == "encoder"}):
        p = _k_problem(f"select (the {enc} ranking)", cfg.select.k, enc, sites)
        if p:
            problems.append(p)
    corpus = planned_corpus(cfg)
    table, analyses = None, {}
    if corpus is None:
        problems += _label_problems_from_config(cfg, jobs)
    else:
        try:
            table = planned_samples(cfg, corpus)
        except ConfigError as exc:
            problems.append(f"corpus: {exc}")
        if table is not None:
            more, analyses = _analysis_problems(cfg, table, jobs)
            problems += more
    problems += _intervention_problems(cfg, sites, table, analyses, adapter.decoder_prompt_length)
    return problems


def check_config(cfg: RunConfig, sites: Sequence, adapter) -> None:
    """:class:`ConfigError` listing every problem :func:`config_problems` finds."""
    problems = config_problems(cfg, sites, adapter)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        where = cfg._source or f"run config {cfg.name!r}"
        raise ConfigError(f"{where}: {len(problems)} problem(s) found before running:\n{lines}")
