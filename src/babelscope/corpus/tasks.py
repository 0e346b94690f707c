"""Task samples (METHODS §1) built from the parallel groups of a corpus.

What each task is (input modality, which of source and target is the pivot) is the task table of
:mod:`babelscope.vocab.tasks`; this module turns a corpus into the samples of the chosen tasks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable, Sequence

from babelscope.corpus.manifest import Corpus
from babelscope.errors import ConfigError
from babelscope.vocab.tasks import get_task


@dataclass(frozen=True)
class TaskSample:
    """One input under one task: the unit of recording (one row of the activation store)."""

    sample_id: str
    corpus_id: str
    group: str
    task: str
    src_lang: str
    tgt_lang: str
    modality: str
    text: str
    audio: str | None
    reference: str | None  # the group's text in the target language, if the corpus has it

    def to_row(self) -> dict:
        return asdict(self)


def varying_language(task: str, src_lang: str, tgt_lang: str) -> str:
    """The language that varies across a task's samples: the source of X→pivot and same-language
    tasks, the target of pivot→X tasks."""
    return tgt_lang if get_task(task).varying == "tgt_lang" else src_lang


def parse_tasks(spec: str | Iterable[str]) -> list[str]:
    names = [t.strip() for t in (spec.split(",") if isinstance(spec, str) else spec) if t.strip()]
    if not names:
        raise ConfigError("tasks: give at least one task")
    for t in names:
        get_task(t)
    return list(dict.fromkeys(names))


def build_task_samples(corpus: Corpus, tasks: Sequence[str], *, pivot: str = "eng",
                       langs: Sequence[str] | None = None, split: str | None = None,
                       max_groups: int | None = None) -> list[TaskSample]:
    """Every (task, group, language) sample the corpus supports, in a stable order.

    ``langs`` restricts the non-pivot languages; ``split`` keeps one split; ``max_groups`` keeps the
    first groups (sorted by id) — handy for quick runs.
    """
    tasks = parse_tasks(tasks)
    recs = [r for r in corpus.records if split is None or r.split == split]
    if not recs:
        raise ConfigError(f"split: no record of the corpus has split {split!r}")
    groups = sorted({r.group for r in recs})
    if max_groups is not None:
        groups = groups[:max_groups]
    keep = set(groups)
    index = {(r.group, r.lang, r.modality): r for r in recs if r.group in keep}
    all_langs = sorted({r.lang for r in recs})
    if langs:
        unknown = [l for l in langs if l not in all_langs]
        if unknown:
            raise ConfigError(f"langs: {unknown} not in the corpus (it has {all_langs})")
        others = [l for l in all_langs if l in set(langs) and l != pivot]
    else:
        others = [l for l in all_langs if l != pivot]
    needs_pivot = [t for t in tasks if get_task(t).direction in ("to_pivot", "from_pivot")]
    if needs_pivot and pivot not in all_langs:
        raise ConfigError(f"pivot language {pivot!r}: the corpus has no record in it (it has {', '.join(all_langs)}), "
                          f"but tasks {', '.join(needs_pivot)} translate into or out of the pivot: their outputs would "
                          f"have no reference (or no input). Choose a pivot the corpus has (record --tgt-lang, "
                          f"[corpus] pivot in a run config), or add {pivot!r} records to the corpus")
    out: list[TaskSample] = []
    for task in tasks:
        spec = get_task(task)
        modality = spec.modality
        langs_here = others + ([pivot] if pivot in all_langs else [])
        for src, tgt in spec.pairs(langs_here, pivot):
            for g in groups:
                rec = index.get((g, src, modality))
                if rec is None:
                    continue
                ref = index.get((g, tgt, "text"))
                out.append(TaskSample(
                    sample_id=f"{task}:{src}>{tgt}:{g}", corpus_id=rec.id, group=g, task=task,
                    src_lang=src, tgt_lang=tgt, modality=modality, text=rec.text,
                    audio=str(rec.audio) if rec.audio else None,
                    reference=ref.text if ref is not None else None))
    if not out:
        raise ConfigError(f"tasks {tasks}: the corpus has no record for them (pivot {pivot!r}, "
                          f"languages {all_langs})")
    return out


def audio_path(sample: TaskSample) -> Path | None:
    return Path(sample.audio) if sample.audio else None
