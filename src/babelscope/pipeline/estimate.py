"""``babelscope run CONFIG --dry-run --calibrate``: expected time of a run, from a measured calibration.

Recording: the config's model is loaded (device, dtype and seed of the config) and a few samples of
the config's tasks are recorded at the config's sites and steps into a temporary store. The time of
one generate call is modelled per input modality as ``a + c × rows`` (a fixed cost per call, a cost
per sample); ``a`` and ``c`` come from timing, after an untimed warm-up, one call with one sample
and one with the rest of that modality's calibration samples. The run's calls are then laid out
exactly as the recorder will make them (chunks of ``batch_size`` consecutive samples of the config's
sample list, split where the model's batch key changes) and their predicted times summed. Store
writes are not timed: the recorder overlaps them with the next chunk's computation.
Calibration samples are taken evenly from the config's corpus (every task in its share); for the demo
corpus, or a corpus not on this machine, a few demo groups are synthesized into a temporary folder
(espeak-ng).

Ranking: one block of random responses as wide as ``[rank] block_units`` (at most 1024 units) at
the largest comparison set of the run is ranked with every statistic; the time per unit, scaled by
``n log n`` to each rank job's sample count, times the job's units, summed over the rank jobs.

Both are estimates for one process on this machine; the Ray backends divide the recording time by
about the number of workers (GPUs), and the ranking time by about the number of CPUs.
"""

from __future__ import annotations

import math
import tempfile
import time
from dataclasses import replace
from itertools import groupby
from pathlib import Path
from typing import Any

import numpy as np

from babelscope.config import RunConfig
from babelscope.errors import BabelscopeError, ConfigError
from babelscope.vocab.views import View


def _run_samples(cfg: RunConfig) -> list | None:
    """The run's task samples in the recorder's order (None: the corpus is not on this machine).

    For the demo corpus they are made from the demo sentences without synthesizing any audio.
    """
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.corpus.manifest import Corpus, CorpusRecord

    c = cfg.corpus
    if c.source == "demo":
        from babelscope.corpus.demo_corpus import DEMO_LANGS, select_rows

        langs = list(c.langs or DEMO_LANGS)
        recs = [CorpusRecord(id=f"{row['group']}-{lang}-{mod}", group=row["group"], lang=lang, modality=mod,
                             text=row[lang], audio=Path(f"{lang}/{row['group']}.wav") if mod == "speech" else None,
                             split=row["split"])
                for row in select_rows(split=c.split, max_groups=c.max_groups) for lang in langs
                for mod in ("text", "speech")]
        return build_task_samples(Corpus(Path("."), recs), cfg.record.tasks, pivot=c.pivot, langs=c.langs)
    if not (Path(c.source) / "manifest.jsonl").is_file():
        return None
    return build_task_samples(read_manifest(c.source, check_audio=False), cfg.record.tasks, pivot=c.pivot,
                              langs=c.langs, split=c.split, max_groups=c.max_groups)


def _calibration_samples(cfg: RunConfig, k: int, tmp: Path) -> tuple[list, str]:
    """About ``k`` samples evenly spread over the config's sample list, and where they come from."""
    from babelscope.corpus import build_task_samples, read_manifest

    c = cfg.corpus
    if c.source != "demo" and (Path(c.source) / "manifest.jsonl").is_file():
        samples = build_task_samples(read_manifest(c.source), cfg.record.tasks, pivot=c.pivot, langs=c.langs,
                                     split=c.split, max_groups=c.max_groups)
        how = f"{c.source}"
    else:
        from babelscope.corpus.demo_corpus import DEMO_LANGS, build_demo_corpus

        langs = [lang for lang in (c.langs or DEMO_LANGS) if lang in DEMO_LANGS] or list(DEMO_LANGS)
        if c.pivot not in langs:
            langs.append(c.pivot)
        groups = max(2, math.ceil(2 * k / max(1, len(cfg.record.tasks) * (len(langs) - 1))))
        corpus = build_demo_corpus(tmp / "corpus", langs=langs, split=c.split if c.source == "demo" else None,
                                   max_groups=groups, progress=False)
        samples = build_task_samples(corpus, cfg.record.tasks, pivot=c.pivot)
        how = f"{groups} synthesized demo groups" + (
            "" if c.source == "demo" else f" (stand-in: {c.source} is not on this machine)")
    if len(samples) <= k:
        return list(samples), how
    idx = sorted({int(round(i)) for i in np.linspace(0, len(samples) - 1, k)})
    return [samples[i] for i in idx], how


def _calls(adapter, samples: list, batch_size: int) -> list[tuple[str, int]]:
    """(modality, rows) of every generate call the recorder makes for ``samples``."""
    out = []
    for start in range(0, len(samples), batch_size):
        for _, g in groupby(samples[start:start + batch_size], key=adapter.batch_key):
            g = list(g)
            out.append((g[0].modality, len(g)))
    return out


#: timings are the best of this many runs (robust to a busy machine)
REPEAT = 2


def best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _calibrate_record(cfg: RunConfig, adapter, samples: list, tmp: Path,
                      reached: dict[int, list[int]] | None = None) -> dict[str, dict[str, float]]:
    """Per modality: ``a`` (seconds per generate call) and ``c`` (seconds per sample). ``reached`` (when
    given) gets, per recorded step, ``[samples with a response there, samples]``."""
    from babelscope.record import RecordSettings, record_chunk
    from babelscope.record.plan import prepare_store
    from babelscope.threads import torch_threads

    settings = replace(RecordSettings.from_config(cfg.record), batch_size=max(1, len(samples)))
    plan = prepare_store(adapter, samples, tmp / "store", settings)  # validates sites, steps, inputs
    fit: dict[str, dict[str, float]] = {}
    try:
        with torch_threads(plan.settings.threads):  # the timings of the thread count the run will use
            for mod in sorted({s.modality for s in samples}):
                rows = [s for s in samples if s.modality == mod]
                record_chunk(adapter, rows[:1], plan.sites, settings, plan.layout)  # warm-up, untimed
                t1 = best_time(lambda: record_chunk(adapter, rows[:1], plan.sites, settings, plan.layout), REPEAT)
                rest = rows[1:] or rows
                calls = len(_calls(adapter, rest, len(rest)))
                last: dict = {}
                t2 = best_time(lambda: last.__setitem__("r", record_chunk(adapter, rest, plan.sites, settings,
                                                                          plan.layout)), REPEAT)
                if reached is not None:
                    for step in settings.steps:
                        ok = last["r"].valid.get(View.step_view(step))
                        if ok is not None:
                            have = reached.setdefault(step, [0, 0])
                            have[0] += int(ok.any(axis=1).sum())
                            have[1] += ok.shape[0]
                if len(rest) > calls:  # t1 = a + c, t2 = calls * a + rows * c
                    c = max(0.0, (t2 - calls * t1) / (len(rest) - calls))
                    a = max(0.0, t1 - c)
                else:
                    a, c = 0.0, t2 / len(rest)
                fit[mod] = {"a": a, "c": c, "rows": len(rows), "one_sample_s": t1, "rest_s": t2}
    finally:
        plan.release()  # the temporary store's writer lock
    return fit


def _rank_jobs_work(cfg: RunConfig, sites, counts: dict[str, int]) -> list[tuple[str, int, int]]:
    """(job file, samples, units) of every rank job."""
    from babelscope.pipeline.rank_stage import rank_jobs

    comps = {s.component for s in sites}
    units = {c: sum(s.n_units for s in sites if s.component == c) for c in comps}
    out = []
    for job in rank_jobs(cfg.rank.analyses, cfg.record.steps, cfg.record.tasks, comps):
        n = sum(counts.get(t, 0) for t in job.tasks(cfg.record.tasks))
        out.append((job.file, n, sum(units.get(c, 0) for c in job.components)))
    return out


def _rank_seconds(cfg: RunConfig, work: list[tuple[str, int, int]], n_labels: int) -> dict[str, Any]:
    from babelscope.rank.ap import check_labels, rank_block

    m_max = max((n for _, n, u in work if u), default=0)
    if m_max < 2:
        return {"seconds": 0.0, "jobs": len(work)}
    m = min(m_max, 20000)
    u = max(1, min(cfg.rank.block_units, 1024))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((m, u), dtype=np.float32)
    lab = check_labels(np.arange(m) % n_labels, n_labels, [str(i) for i in range(n_labels)])
    rank_block(x[:, : min(u, 64)], lab, stats=True)  # warm-up
    per_unit = best_time(lambda: rank_block(x, lab, stats=True), REPEAT) / u
    ref = m * math.log(max(m, 2))
    total = sum(units * per_unit * (n * math.log(max(n, 2)) / ref) for _, n, units in work if n >= 2)
    return {"seconds": total, "jobs": len(work), "units": sum(w[2] for w in work),
            "calibration": {"samples": m, "units": u, "labels": n_labels, "seconds_per_unit": per_unit}}


def estimate_time(cfg: RunConfig, calibration_samples: int = 8) -> dict[str, Any]:
    """Expected seconds of the record and rank stages of ``cfg``, from a short measured calibration.

    Returns a dict with ``n_samples`` (-1: unknown), ``record`` (``seconds``, ``seconds_per_sample``
    and the calibration), ``rank`` (``seconds``) and ``total_seconds``; or ``{"skipped": reason}``
    when the model cannot be loaded or no calibration input can be made.
    """
    from babelscope.models import load_model
    from babelscope.vocab.sites import select_sites

    if calibration_samples < 2:
        raise ConfigError(f"calibration samples: give at least 2, got {calibration_samples}")
    m = cfg.model
    try:
        adapter = load_model(m.name, device=m.device, dtype=m.dtype, seed=cfg.seed)
    except (BabelscopeError, OSError) as exc:
        return {"skipped": f"the model {m.name!r} cannot be loaded here ({exc})"}
    sites = select_sites(adapter.sites(), list(cfg.record.sites))
    run = _run_samples(cfg)
    with tempfile.TemporaryDirectory(prefix="babelscope-calibrate-") as tmp:
        try:
            samples, how = _calibration_samples(cfg, calibration_samples, Path(tmp))
        except BabelscopeError as exc:
            return {"skipped": f"no calibration input ({exc})"}
        reached: dict[int, list[int]] = {}
        fit = _calibrate_record(cfg, adapter, samples, Path(tmp), reached)
    rec: dict[str, Any] = {"samples": len(samples), "inputs": how, "fit": fit, "seconds": None,
                           "seconds_per_sample": None, "calls": None}
    if run is not None:
        calls = _calls(adapter, run, cfg.record.batch_size)
        known = [(mod, b) for mod, b in calls if mod in fit]
        secs = sum(fit[mod]["a"] + fit[mod]["c"] * b for mod, b in known)
        rows = sum(b for _, b in known)
        rec.update(seconds=secs * len(run) / max(rows, 1), seconds_per_sample=secs / max(rows, 1),
                   calls=len(calls))
    else:  # no sample list: per-sample cost at the config's batch size, averaged over modalities
        b = cfg.record.batch_size
        rec["seconds_per_sample"] = float(np.mean([f["a"] / b + f["c"] for f in fit.values()]))
    counts: dict[str, int] = {}
    for s in run or []:
        counts[s.task] = counts.get(s.task, 0) + 1
    langs = {s.src_lang for s in run or []}
    rank = _rank_seconds(cfg, _rank_jobs_work(cfg, sites, counts), max(2, len(langs) or 6)) if run else {
        "seconds": None}
    total = None if rec["seconds"] is None or rank["seconds"] is None else rec["seconds"] + rank["seconds"]
    return {"model": m.name, "device": m.device, "n_samples": len(run) if run is not None else -1,
            "record": rec, "rank": rank, "total_seconds": total, "backend": cfg.record.backend,
            "steps_reached": {s: tuple(v) for s, v in sorted(reached.items())}, "representative": "stand-in" not in how}


#: a step fewer than this share of the calibration samples reach is refused by ``run --dry-run --calibrate``
MIN_STEP_REACH = 0.5


def step_reach_problem(est: dict[str, Any]) -> str | None:
    """Why the config's steps are past what most outputs reach (from the calibration), or None."""
    short = {s: (n, m) for s, (n, m) in (est.get("steps_reached") or {}).items() if m and n / m < MIN_STEP_REACH}
    if not short:
        return None
    ok = [s for s, (n, m) in est["steps_reached"].items() if m and n / m >= MIN_STEP_REACH]
    listing = ", ".join(f"step {s}: {n} of {m}" for s, (n, m) in short.items())
    return (f"record.steps: fewer than {MIN_STEP_REACH:.0%} of the calibration samples reach {listing} (their outputs "
            f"end earlier): the rankings at those steps would rest on a few samples, or none. Use steps most outputs "
            f"reach{f' (here: {ok})' if ok else ''}, or a corpus with longer sentences")


def format_seconds(secs: float | None) -> str:
    if secs is None:
        return "unknown"
    if secs < 10:
        return f"{secs:.1f} s"
    if secs < 120:
        return f"{secs:.0f} s"
    if secs < 7200:
        return f"{secs / 60:.0f} min"
    return f"{secs / 3600:.1f} h"
