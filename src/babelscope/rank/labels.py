"""Label sets: which samples are compared and what each one is labelled (METHODS §3).

An :class:`Analysis` is a comparison set (the rows of the store's samples table that take part) plus
an integer label per row and the label names. AP is always one label against the rest of the set.

========================  ===========================================  ==============================
analysis                  comparison set                               label of a sample
========================  ===========================================  ==============================
``source_language``       the X→pivot task of one modality             ``src_lang``
                          (``s2t`` for speech, ``t2t`` for text)
``target_language``       the pivot→X task of one modality             ``tgt_lang``
                          (``en2x_s2t`` / ``en2x_t2t``), else its
                          cross task (``x2y_s2t`` / ``x2y_t2t``)
``modality``              both modalities of one task family,          ``speech`` / ``text``
                          restricted to sentences present in both
``language_x_modality``   both modalities of one task family           ``<lang>/<modality>``
``multimodal_language``   both modalities of one task family           language (modalities pooled)
========================  ===========================================  ==============================

A task family is ``x2en`` (``s2t`` + ``t2t``; the language is the source) or ``en2x``
(``en2x_s2t`` + ``en2x_t2t``; the language is the target). Which task plays which part comes from
the task table (:mod:`babelscope.vocab.tasks`: modality and direction), among the tasks the samples
table holds, never from the tasks' names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError, LabelError
from babelscope.vocab.components import MODALITIES
from babelscope.vocab.tasks import FAMILY_LANG, MODALITY_FAMILIES, analysis_task, family_tasks

ANALYSES = ("source_language", "target_language", "modality", "language_x_modality",
            "multimodal_language")
_REQUIRED = ("task", "src_lang", "tgt_lang", "modality", "group")


@dataclass(frozen=True)
class Analysis:
    """One comparison set with its labels.

    ``rows`` index the samples table (store order); ``labels[i]`` is the label code of sample
    ``rows[i]`` and ``label_names[code]`` its name. ``task`` and ``modality`` describe the set
    (``"s2t+t2t"``, ``"both"`` for two-modality sets).
    """

    name: str
    rows: np.ndarray
    labels: np.ndarray
    label_names: tuple[str, ...]
    task: str
    modality: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """A short file-name-safe identifier, e.g. ``source_language-speech-s2t``."""
        return f"{self.name}-{self.modality}-{self.task}".replace("/", "_").replace("+", "_")

    @property
    def n_samples(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        per = ", ".join(f"{n}: {c}" for n, c in zip(self.label_names, counts))
        return f"Analysis({self.name!r}, task={self.task!r}, modality={self.modality!r}, samples={len(self.rows)}, " \
               f"labels={{{per}}})"

    def base_rates(self) -> dict[str, float]:
        """Share of positives per label (the AP of a non-selective unit)."""
        counts = np.bincount(self.labels, minlength=len(self.label_names))
        return {n: float(c) / max(len(self.labels), 1) for n, c in zip(self.label_names, counts)}

    def describe(self) -> dict[str, Any]:
        """JSON-able description (stored with every expertise table)."""
        return {"analysis": self.name, "task": self.task, "modality": self.modality,
                "labels": list(self.label_names), "n_samples": self.n_samples,
                "base_rates": self.base_rates(), "settings": dict(self.settings)}


def _check_samples(samples: pd.DataFrame) -> None:
    missing = [c for c in _REQUIRED if c not in samples.columns]
    if missing:
        raise ConfigError(f"samples table lacks column(s) {missing} needed to build labels")


def _check_choice(setting: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{setting}={value!r} is not one of {list(allowed)}")


def _encode(rows: np.ndarray, names: pd.Series, analysis: str, **meta: Any) -> Analysis:
    if len(rows) == 0:
        raise LabelError(f"analysis {analysis!r} ({meta}) selects no sample from the samples table")
    values = names.to_numpy(dtype=str)
    label_names = tuple(sorted(set(values.tolist())))
    lookup = {n: i for i, n in enumerate(label_names)}
    labels = np.fromiter((lookup[v] for v in values), dtype=np.int64, count=len(values))
    if len(label_names) < 2:
        raise LabelError(f"analysis {analysis!r} ({meta}) has a single label {label_names[0]!r}: "
                         "one-vs-rest AP needs at least two")
    settings = dict(meta)
    return Analysis(analysis, rows.astype(np.int64), labels, label_names,
                    task=str(settings.pop("task")), modality=str(settings.pop("modality")),
                    settings=settings)


def _task_rows(samples: pd.DataFrame, tasks: list[str]) -> np.ndarray:
    return np.flatnonzero(samples["task"].isin(tasks).to_numpy())


def _paired_rows(samples: pd.DataFrame, rows: np.ndarray, lang_col: str) -> np.ndarray:
    """Rows whose (group, language) has both a speech and a text sample among ``rows``."""
    sub = samples.iloc[rows]
    key = sub["group"].astype(str) + "\x1f" + sub[lang_col].astype(str)
    both = sub.groupby(key.to_numpy())["modality"].nunique()
    keep = key.map(both).to_numpy() == 2
    return rows[keep]


def _analysis_task(samples: pd.DataFrame, analysis: str, modality: str) -> str:
    """The task a language analysis compares among the samples' tasks; when none is present, the
    table's first candidate (whose absence then gives "selects no sample")."""
    return analysis_task(analysis, modality, samples["task"].unique()) or analysis_task(analysis, modality)


def build_analysis(samples: pd.DataFrame, analysis: str, *, modality: str | None = None,
                   family: str | None = None, task: str | None = None,
                   paired: bool = True) -> Analysis:
    """Build one analysis of METHODS §3 from a samples table.

    Parameters
    ----------
    samples:
        One row per sample (store order) with columns ``task``, ``src_lang``, ``tgt_lang``,
        ``modality``, ``group``.
    analysis:
        One of :data:`ANALYSES`.
    modality:
        ``speech`` or ``text``; required for ``source_language`` / ``target_language``.
    family:
        ``x2en`` or ``en2x`` for the two-modality analyses (default ``x2en``).
    task:
        Override the task of a one-modality analysis (e.g. ``asr`` for source language under
        recognition).
    paired:
        For two-modality analyses, keep only sentences (group and language) present in both
        modalities (METHODS §3: "the same sentences").
    """
    _check_samples(samples)
    _check_choice("analysis", analysis, ANALYSES)
    if analysis in ("source_language", "target_language"):
        if modality is None:
            raise ConfigError(f"analysis {analysis!r} needs modality (one of {list(MODALITIES)})")
        _check_choice("modality", modality, MODALITIES)
        task = task or _analysis_task(samples, analysis, modality)
        rows = _task_rows(samples, [task])
        rows = rows[samples["modality"].to_numpy()[rows] == modality]
        col = "src_lang" if analysis == "source_language" else "tgt_lang"
        return _encode(rows, samples[col].iloc[rows], analysis, task=task, modality=modality)
    if modality is not None:
        raise ConfigError(f"analysis {analysis!r} pools both modalities: do not set modality")
    fam = family or "x2en"
    _check_choice("family", fam, MODALITY_FAMILIES)
    tasks = [task] if task else [family_tasks(fam, samples["task"].unique()).get(m) or family_tasks(fam)[m]
                                 for m in MODALITIES]
    lang_col = FAMILY_LANG[fam]
    rows = _task_rows(samples, tasks)
    if paired:
        rows = _paired_rows(samples, rows, lang_col)
    sub = samples.iloc[rows]
    if analysis == "modality":
        names = sub["modality"].astype(str)
    elif analysis == "language_x_modality":
        names = sub[lang_col].astype(str) + "/" + sub["modality"].astype(str)
    else:
        names = sub[lang_col].astype(str)
    return _encode(rows, names, analysis, task="+".join(tasks), modality="both", family=fam,
                   paired=paired)


def analysis_from_labels(name: str, labels: np.ndarray, label_names: list[str] | tuple[str, ...],
                         rows: np.ndarray | None = None, *, task: str = "custom",
                         modality: str = "custom") -> Analysis:
    """An analysis from explicit integer labels (e.g. for tests or custom comparisons)."""
    labels = np.asarray(labels, dtype=np.int64)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows, dtype=np.int64)
    if len(rows) != len(labels):
        raise LabelError(f"{len(rows)} rows but {len(labels)} labels")
    return Analysis(name, rows, labels, tuple(str(n) for n in label_names), task, modality)
