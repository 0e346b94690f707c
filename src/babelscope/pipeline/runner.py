"""``babelscope run``: every stage of a run config in order, resumable.

Stages: corpus → record → rank → analysis → intervene → report. Each stage that finishes writes
``RUN/stages/<stage>.json`` with the digest of the config tables it depends on; a later run skips a
stage whose record exists with the same digest and reruns it (and everything after it) otherwise.
Inside a stage, work already on disk is reused (recorded chunks, finished expertise tables), so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import platform
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from babelscope.version import __version__
from babelscope.atomic import atomic_write_text
from babelscope.config import RunConfig, config_digest
from babelscope.executor import Executor
from babelscope.outputs import check_replaceable

STAGES = ("corpus", "record", "rank", "analysis", "intervene", "report")
#: config tables each stage depends on (a change reruns the stage and every later one)
DEPENDS = {"corpus": ("corpus",), "record": ("corpus", "model", "record"),
           "rank": ("corpus", "model", "record", "rank"),
           "analysis": ("corpus", "model", "record", "rank", "select", "stats"),
           "intervene": ("corpus", "model", "record", "rank", "select", "stats", "intervene"),
           "report": ("corpus", "model", "record", "rank", "select", "stats", "intervene", "report")}
OUTPUTS = {"corpus": "corpus", "record": "activations", "rank": "expertise", "analysis": "analysis",
           "intervene": "interventions", "report": "report"}


class Run:
    def __init__(self, cfg: RunConfig, out: str | Path, *, progress: bool = True, log: Callable[[str], None] = print):
        self.cfg, self.out, self.progress, self.log = cfg, Path(out), progress, log
        self.executor = Executor.from_config(cfg)  # where every stage computes (local or Ray, threads)
        self._adapter = None
        self._store = None
        self._jobs = None

    # -- shared state -----------------------------------------------------------------------------
    @property
    def adapter(self):
        if self._adapter is None:
            from babelscope.models import load_model

            m = self.cfg.model
            self._adapter = load_model(m.name, device=m.device, dtype=m.dtype, seed=self.cfg.seed)
        return self._adapter

    @property
    def store(self):
        if self._store is None:
            from babelscope.record import open_activations

            self._store = open_activations(self.out / "activations")
        return self._store

    def _stage_file(self, stage: str) -> Path:
        return self.out / "stages" / f"{stage}.json"

    def is_done(self, stage: str) -> bool:
        f = self._stage_file(stage)
        return f.is_file() and json.loads(f.read_text()).get("digest") == config_digest(self.cfg, *DEPENDS[stage])

    # -- stages ------------------------------------------------------------------------------------
    def corpus(self) -> None:
        from babelscope.corpus import read_manifest
        from babelscope.corpus.demo_corpus import DEMO_LANGS, build_demo_corpus

        c = self.cfg.corpus
        if c.source == "demo":
            build_demo_corpus(self.out / "corpus", langs=c.langs or DEMO_LANGS, split=c.split,
                              max_groups=c.max_groups, progress=self.progress)
        else:
            read_manifest(c.source)

    def corpus_dir(self) -> Path:
        return self.out / "corpus" if self.cfg.corpus.source == "demo" else Path(self.cfg.corpus.source)

    def samples(self):
        from babelscope.corpus import build_task_samples, read_manifest

        c = self.cfg.corpus
        return build_task_samples(read_manifest(self.corpus_dir()), self.cfg.record.tasks, pivot=c.pivot,
                                  langs=c.langs, split=None if c.source == "demo" else c.split,
                                  max_groups=None if c.source == "demo" else c.max_groups)

    def record(self) -> None:
        from babelscope.models import load_model
        from babelscope.record import RecordSettings, record

        m, ex = self.cfg.model, self.executor
        adapter = self._adapter
        if adapter is None:  # with Ray the driver's copy only validates inputs and names the model (CPU)
            adapter = self.adapter if not ex.is_ray else load_model(m.name, device=ex.driver_device(m.device),
                                                                    dtype=m.dtype, seed=self.cfg.seed)
        self._store = record(adapter, self.samples(), self.out / "activations",
                             RecordSettings.from_config(self.cfg.record), executor=ex, progress=self.progress,
                             seed=self.cfg.seed)
        man = self._store.manifest
        missing = sorted((man.get("steps_missing") or {}).items(), key=lambda kv: int(kv[0]))
        if missing:  # a step most outputs never reach leaves its rankings with thin evidence: say so now
            n = man.get("n_samples") or len(self._store.samples)
            self.log("[record] samples whose output ended before a step (no response there): "
                     + ", ".join(f"step {k}: {v} of {n}" for k, v in missing))

    def jobs(self):
        if self._jobs is None:
            from babelscope.pipeline.rank_stage import rank_jobs, run_rank_job

            comps = {self.store.site(s).component for s in self.store.sites}
            jobs = rank_jobs(self.cfg.rank.analyses, self.cfg.record.steps, self.cfg.record.tasks, comps)
            (self.out / "expertise").mkdir(parents=True, exist_ok=True)
            rc = self.cfg.rank
            self._jobs = {j: run_rank_job(self.store, j, self.out / "expertise", block_units=rc.block_units,
                                          progress=self.progress, executor=self.executor, min_positives=rc.min_positives,
                                          min_negatives=rc.min_negatives, strict=rc.strict) for j in jobs}
        return self._jobs

    def rank(self) -> None:
        self.jobs()

    def analysis(self) -> None:
        from babelscope.pipeline.analysis_stage import save_sets, write_analysis

        s = self.cfg.select
        jobs = self.jobs()
        write_analysis(jobs, self.store, self.out / "analysis", k=s.k, mode=s.mode, component=s.component,
                       steps=self.cfg.record.steps, progress=self.progress, stats=self.cfg.stats)
        save_sets(jobs, self.out / "sets", k=s.k, mode=s.mode, component=s.component)

    def intervene(self) -> None:
        from babelscope.pipeline.intervene_stage import run_one, write_index

        out = self.out / "interventions"
        out.mkdir(parents=True, exist_ok=True)
        entries = []
        for run in self.cfg.intervene.runs:
            self.log(f"intervention {run.name}")
            entries.append(run_one(self.adapter, self.store, self.jobs(), run, self.cfg.intervene, out,
                                   progress=self.progress, threads=self.executor.threads, log=self.log,
                                   stats=self.cfg.stats))
        write_index(out, entries)

    def report(self) -> Path | None:
        if not self.cfg.report.enabled:
            return None
        from babelscope.report import build_report

        return build_report(self.out)

    # -- driver ------------------------------------------------------------------------------------
    def _provenance(self, timings: dict) -> None:
        import torch
        import transformers

        path = self.out / "run.json"
        old = json.loads(path.read_text()) if path.is_file() else {}
        stages = {**old.get("stages", {}), **timings}
        corpus = {"path": str(self.corpus_dir())}
        try:
            from babelscope.corpus import read_manifest

            recs = read_manifest(self.corpus_dir(), check_audio=False).records
            corpus.update(n_groups=len({r.group for r in recs}), languages=sorted({r.lang for r in recs}),
                          n_records=len(recs))
        except Exception:  # the corpus stage has not run yet
            pass
        model = old.get("model", {})
        if self._adapter:  # what the model takes and how it is asked for each task (the report reads inputs)
            a = self._adapter
            model = {**a.describe(), "inputs": list(a.input_modalities), "tasks": dict(a.task_requests)}
        info = {"name": self.cfg.name, "model": model,
                "corpus": corpus, "settings": self.cfg.model_dump(mode="json"),
                "versions": {"babelscope": __version__, "torch": torch.__version__,
                             "transformers": transformers.__version__, "python": platform.python_version()},
                "stages": stages, "started": old.get("started") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        atomic_write_text(path, json.dumps(info, indent=2))

    def check(self) -> None:
        """Every check the config allows (babelscope.pipeline.checks), on a weightless copy of the model."""
        from babelscope.vocab.sites import select_sites
        from babelscope.pipeline.checks import check_config
        from babelscope.pipeline.dryrun import meta_adapter

        adapter = self._adapter or meta_adapter(self.cfg.model.name)
        check_config(self.cfg, select_sites(adapter.sites(), list(self.cfg.record.sites)), adapter)

    def execute(self, stages=STAGES) -> Path:
        # a run writes (and on reruns replaces) its stages' folders: only into a run folder of its own
        check_replaceable(self.out, "run", hint="choose an empty or new run folder")
        if any(s in stages and not self.is_done(s) for s in STAGES):
            self.check()  # before the first stage runs: a config that must fail later fails now
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "stages").mkdir(exist_ok=True)
        atomic_write_text(self.out / "config.json", json.dumps(self.cfg.model_dump(mode="json"), indent=2))
        result = self.out
        stale = False  # an earlier stage ran in this execution: every later stage reruns from scratch
        for stage in STAGES:
            if stage not in stages:
                continue
            if not stale and self.is_done(stage):
                self.log(f"[{stage}] up to date, skipped")
                continue
            started = self.out / "stages" / f"{stage}.started"
            changed = self._stage_file(stage).is_file() and not self.is_done(stage)
            if changed or (stale and started.is_file()):
                # settings changed, or its inputs were just rebuilt: drop what this runner left there
                # (also the partial outputs of an interrupted run) and rerun; outputs the runner did not
                # make (e.g. a store recorded by hand) are left alone, and the stage refuses them
                target = self.out / OUTPUTS[stage]
                if target.exists() and (stage != "corpus" or self.cfg.corpus.source == "demo"):
                    shutil.rmtree(target)
                if stage == "analysis":
                    shutil.rmtree(self.out / "sets", ignore_errors=True)
                self._stage_file(stage).unlink(missing_ok=True)
            stale = True  # every later stage reruns
            started.touch()
            self.log(f"[{stage}] running")
            t0 = time.time()
            out = getattr(self, stage)()
            secs = round(time.time() - t0, 1)
            atomic_write_text(self._stage_file(stage),
                              json.dumps({"digest": config_digest(self.cfg, *DEPENDS[stage]), "seconds": secs}))
            self._provenance({stage: {"seconds": secs}})
            self.log(f"[{stage}] done in {secs:.1f} s")
            if stage == "report" and out is not None:
                result = out
        page = self.out / OUTPUTS["report"] / "report.html"
        if result == self.out and "report" in stages and self.cfg.report.enabled and page.is_file():
            result = page  # up to date: still the report's path, as after the run that wrote it
        return result


def run_pipeline(cfg: RunConfig, out: str | Path, *, progress: bool = True, log: Callable[[str], None] = print) -> Path:
    """Run every stage of ``cfg`` into ``out``; returns the report path (or the run folder)."""
    return Run(cfg, out, progress=progress, log=log).execute()
