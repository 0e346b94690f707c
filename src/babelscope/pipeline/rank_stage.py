"""The rank stage of a run: every configured analysis × modality × view into ``RUN/expertise``.

Jobs (one expertise table each):

* ``source_language`` — for each modality with an X→pivot task recorded (s2t, t2t): the decoder at
  every recorded step (``step=S/mean``), and the encoders at the ``encoder`` view (depth profile,
  claim 3);
* ``target_language`` — for each modality with a pivot→X task recorded (en2x_s2t, en2x_t2t), else a
  cross task (x2y_s2t, x2y_t2t): the decoder at every step;
* ``modality`` — for each task family with both modalities recorded, x2en (s2t + t2t) and en2x
  (en2x_s2t + en2x_t2t), on paired sentences: the decoder at every step (the cross-attention
  key/value projections answer at their ``encoder`` view).

Which task serves which job comes from the task table (:mod:`babelscope.vocab.tasks`), so a model
family's own tasks are ranked without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from babelscope.executor import Executor
from babelscope.rank import build_analysis, rank_store, read_expertise
from babelscope.defaults import MIN_NEGATIVES, MIN_POSITIVES
from babelscope.rank.expertise import Expertise
from babelscope.vocab.components import MODALITIES
from babelscope.vocab.views import ENCODER_VIEW, View
from babelscope.vocab.tasks import MODALITY_FAMILIES, analysis_task, family_tasks


@dataclass(frozen=True)
class RankJob:
    analysis: str
    modality: str          # speech | text | both
    view: View             # encoder | step=S/mean
    components: tuple[str, ...]
    family: str | None = None   # the task family of a modality job: x2en | en2x

    @property
    def step(self) -> int | str:
        v = View(self.view)
        return "encoder" if v.is_encoder else int(v.step)  # type: ignore[arg-type]

    def tasks(self, among: Sequence[str] | None = None) -> tuple[str, ...]:
        """The tasks whose samples the job ranks, among the recorded ``among``."""
        if self.analysis == "modality":
            return tuple(family_tasks(self.family or "x2en", among).values())
        t = analysis_task(self.analysis, self.modality, among)
        return (t,) if t else ()

    @property
    def file(self) -> str:
        return expertise_file_name(self.analysis, self.modality, self.view, self.family)


def expertise_file_name(analysis: str, modality: str, view: str, family: str | None = None,
                        task: str | None = None) -> str:
    """``<analysis>[-<family>]-<modality>[-<task>]-<view>.parquet``, as ``babelscope run`` and ``babelscope
    rank`` name expertise tables (the family only when it is not x2en, the task only when overridden)."""
    fam = f"-{family}" if family and family != "x2en" else ""
    tsk = f"-{task}" if task else ""
    return f"{analysis}{fam}-{modality}{tsk}-{view.replace('=', '').replace('/', '-')}.parquet"


def rank_jobs(analyses: Sequence[str], steps: Sequence[int], tasks: Sequence[str],
              site_components: set[str]) -> list[RankJob]:
    jobs: list[RankJob] = []
    dec = ("text_decoder",)
    for an in analyses:
        if an == "modality":
            for fam in MODALITY_FAMILIES:
                if len(family_tasks(fam, tasks)) == len(MODALITIES):
                    jobs += [RankJob(an, "both", View.step_view(s), dec, fam) for s in steps]
            continue
        for mod in MODALITIES:
            if analysis_task(an, mod, tasks) is None:
                continue
            jobs += [RankJob(an, mod, View.step_view(s), dec) for s in steps]
            enc = "speech_encoder" if mod == "speech" else "text_encoder"
            if an == "source_language" and enc in site_components:
                jobs.append(RankJob(an, mod, ENCODER_VIEW, (enc,)))
    return jobs


def run_rank_job(store, job: RankJob, out_dir: Path, *, block_units: int, progress: bool,
                 executor: Executor | None = None, min_positives: int = MIN_POSITIVES,
                 min_negatives: int = MIN_NEGATIVES, strict: bool = False) -> Expertise:
    path = out_dir / job.file
    if path.is_file():
        return read_expertise(path)
    if job.analysis == "modality":
        an = build_analysis(store.samples, "modality", family=job.family or "x2en")
    else:
        an = build_analysis(store.samples, job.analysis, modality=job.modality)
    rank_store(store, an, view=job.view, components=list(job.components), block_units=block_units, out=path,
               progress=progress, executor=executor, min_positives=min_positives, min_negatives=min_negatives,
               strict=strict)
    return read_expertise(path)
