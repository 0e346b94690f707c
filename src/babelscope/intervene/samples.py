"""Inputs of an intervention: the task samples of an activation store, optionally re-targeted."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import pandas as pd

from babelscope.corpus.tasks import TaskSample, parse_tasks
from babelscope.errors import ConfigError

_FIELDS = ("sample_id", "corpus_id", "group", "task", "src_lang", "tgt_lang", "modality", "text", "audio",
           "reference")


def samples_from_table(table: pd.DataFrame) -> list[TaskSample]:
    """TaskSamples from a store's samples table (the recorder writes every field)."""
    missing = [f for f in _FIELDS if f not in table.columns]
    if missing:
        raise ConfigError(f"samples table lacks column(s) {missing}; was it written by babelscope record?")
    out = []
    for row in table[list(_FIELDS)].itertuples(index=False):
        d = row._asdict()
        d = {k: (None if (v is None or (isinstance(v, float) and v != v)) else v) for k, v in d.items()}
        out.append(TaskSample(**d))
    return out


def select_samples(samples: Sequence[TaskSample], *, tasks: Sequence[str] | str | None = None,
                   ask: str | None = None, exclude_tgt: str | None = None, exclude_src: str | None = None,
                   src_langs: Sequence[str] | None = None, max_per_lang: int | None = None) -> list[TaskSample]:
    """Filter and re-target samples for an intervention.

    ``ask=L`` asks every sample for target language ``L`` (samples that share an input collapse
    into one; the reference is kept only where the original target was ``L``); ``exclude_tgt`` drops
    samples already asking for that language (for steering towards it), ``exclude_src`` samples whose
    source is that language; ``max_per_lang`` keeps the first N samples per task and language pair
    (per source language of X→English tasks, per target of English→X tasks, per pair of cross tasks).
    """
    rows = list(samples)
    if tasks is not None:
        keep = set(parse_tasks(tasks))
        rows = [s for s in rows if s.task in keep]
    if src_langs:
        rows = [s for s in rows if s.src_lang in set(src_langs)]
    if ask is not None:
        seen: dict[tuple, TaskSample] = {}
        for s in rows:
            key = (s.task, s.src_lang, s.modality, s.group)
            new = replace(s, tgt_lang=ask, reference=s.reference if s.tgt_lang == ask else None,
                          sample_id=f"{s.task}:{s.src_lang}>{ask}:{s.group}")
            if key not in seen or s.tgt_lang == ask:
                seen[key] = new
        rows = list(seen.values())
    if exclude_tgt is not None:
        rows = [s for s in rows if s.tgt_lang != exclude_tgt]
    if exclude_src is not None:
        rows = [s for s in rows if s.src_lang != exclude_src]
    if max_per_lang is not None:
        count: dict[tuple, int] = {}
        kept = []
        for s in rows:
            k = (s.task, s.src_lang, s.tgt_lang)  # one language varies per task, except in cross tasks
            if count.get(k, 0) < max_per_lang:
                kept.append(s)
                count[k] = count.get(k, 0) + 1
        rows = kept
    if not rows:
        raise ConfigError("no samples left for the intervention after filtering (tasks, languages, target)")
    return rows
