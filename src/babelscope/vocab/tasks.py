"""The task table: the one place that says what a task is (METHODS §1).

A task is data: the input modality and which two languages the sample pairs — the source language
of the input and the language the model is asked to write. Everything downstream derives from this
table, never from a task's name: the source-language analysis compares the samples of an
X→pivot task (its ``src_lang`` varies), the target-language (control) analysis those of a
pivot→X task (its ``tgt_lang`` varies), the modality analysis the speech and text tasks of one
family, the steering runs use the pivot→X task of their target modality.

How a model is asked for a task (SeamlessM4T v2: the ``tgt_lang`` token; Whisper: a language token
plus transcribe/translate; an encoder-decoder with a forced first token: that token) belongs to the
model family: each adapter declares the tasks it supports and how it asks for each
(:attr:`babelscope.models.base.ModelAdapter.task_requests`).

=============  ============  ==========  ==========  ==============  =======
task           input         source      target      direction       family
=============  ============  ==========  ==========  ==============  =======
``asr``        speech X      X           X           ``same``        —
``s2t``        speech X      X           pivot       ``to_pivot``    x2en
``t2t``        text X        X           pivot       ``to_pivot``    x2en
``en2x_s2t``   speech pivot  pivot       X           ``from_pivot``  en2x
``en2x_t2t``   text pivot    pivot       X           ``from_pivot``  en2x
``x2y_s2t``    speech X      X           Y ≠ X       ``cross``       x2y
``x2y_t2t``    text X        X           Y ≠ X       ``cross``       x2y
=============  ============  ==========  ==========  ==============  =======

The first five are the study's tasks (:data:`PRESETS`). The ``cross`` tasks pair every language of
the corpus, the pivot included, with every other one as the asked-for output: their target-language
analysis has a label for every language (the pivot too), each asked for from the same mix of sources.

A model family that asks for a task the table does not name registers it with
:func:`register_task` (a new name with its modality and direction); rank, intervene and report
then handle it through its direction and modality.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from babelscope.errors import ConfigError
from babelscope.vocab.components import MODALITIES

DIRECTIONS = ("same", "to_pivot", "from_pivot", "cross")
#: task family -> the direction of its tasks
FAMILIES = {"x2en": "to_pivot", "en2x": "from_pivot", "x2y": "cross"}
#: task family -> the samples-table column holding the language that varies across its samples
#: (the label of its language analyses)
FAMILY_LANG = {"x2en": "src_lang", "en2x": "tgt_lang", "x2y": "tgt_lang"}
#: the one-modality language analyses and the task families whose samples they may compare, in
#: order of preference (the first family with a recorded task of the modality is used)
ANALYSIS_FAMILIES = {"source_language": ("x2en",), "target_language": ("en2x", "x2y")}
#: the task families of the modality analysis (both modalities of one family, paired sentences)
MODALITY_FAMILIES = ("x2en", "en2x")


@dataclass(frozen=True)
class Task:
    """One task: input ``modality`` and ``direction`` (which of source and target is the pivot)."""

    name: str
    modality: str
    direction: str
    description: str = ""

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ConfigError(f"task {self.name!r}: modality must be one of {list(MODALITIES)}, not {self.modality!r}")
        if self.direction not in DIRECTIONS:
            raise ConfigError(f"task {self.name!r}: direction must be one of {list(DIRECTIONS)}, "
                              f"not {self.direction!r}")

    @property
    def family(self) -> str | None:
        """``x2en`` (X→pivot), ``en2x`` (pivot→X), ``x2y`` (cross) or None (same-language tasks)."""
        return next((f for f, d in FAMILIES.items() if d == self.direction), None)

    @property
    def varying(self) -> str:
        """The samples-table column of the language that labels this task's samples (the asked-for
        output of pivot→X and cross tasks, else the source)."""
        return "tgt_lang" if self.direction in ("from_pivot", "cross") else "src_lang"

    def pairs(self, langs: list[str], pivot: str) -> list[tuple[str, str]]:
        """``(source, target)`` of this task's samples over the corpus languages ``langs``."""
        others = [l for l in langs if l != pivot]
        if self.direction == "same":
            return [(l, l) for l in others + ([pivot] if pivot in langs else [])]
        if self.direction == "to_pivot":
            return [(l, pivot) for l in others]
        if self.direction == "from_pivot":
            return [(pivot, l) for l in others]
        return [(a, b) for a in langs for b in langs if a != b]


TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    """Add a task to the table (a second registration of the same name must be identical)."""
    old = TASKS.get(task.name)
    if old is not None and old != task:
        raise ConfigError(f"task {task.name!r} is already registered as {old}")
    TASKS[task.name] = task
    return task


for _t in (Task("asr", "speech", "same", "speech recognition: speech X → text X"),
           Task("s2t", "speech", "to_pivot", "speech translation: speech X → text pivot"),
           Task("t2t", "text", "to_pivot", "text translation: text X → text pivot"),
           Task("en2x_s2t", "speech", "from_pivot", "speech translation from the pivot: speech pivot → text X"),
           Task("en2x_t2t", "text", "from_pivot", "text translation from the pivot: text pivot → text X")):
    register_task(_t)
#: the five tasks of the study
PRESETS = tuple(TASKS)
for _t in (Task("x2y_s2t", "speech", "cross", "speech X → text Y, every ordered pair of different languages"),
           Task("x2y_t2t", "text", "cross", "text X → text Y, every ordered pair of different languages")):
    register_task(_t)


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ConfigError(f"tasks: unknown task {name!r}; choose from {', '.join(TASKS)}") from None


def family_tasks(family: str, among: Iterable[str] | None = None) -> dict[str, str]:
    """``{modality: task}`` of a task family, restricted to the tasks ``among`` (e.g. the recorded
    ones). Where several tasks of the family share a modality, the first registered one present wins;
    a modality with no task present is absent."""
    if family not in FAMILIES:
        raise ConfigError(f"family={family!r} is not one of {list(FAMILIES)}")
    have = None if among is None else set(among)
    out: dict[str, str] = {}
    for t in TASKS.values():
        if t.direction == FAMILIES[family] and t.modality not in out and (have is None or t.name in have):
            out[t.modality] = t.name
    return out


def family_task(family: str, modality: str, among: Iterable[str] | None = None) -> str | None:
    """The task of ``family`` with input ``modality`` among ``among`` (None when there is none)."""
    return family_tasks(family, among).get(modality)


def analysis_task(analysis: str, modality: str, among: Iterable[str] | None = None) -> str | None:
    """The task whose samples a one-modality language analysis compares: ``source_language`` → the
    X→pivot task of ``modality``; ``target_language`` → the pivot→X task, else the cross task."""
    for fam in ANALYSIS_FAMILIES[analysis]:
        t = family_task(fam, modality, among)
        if t is not None:
            return t
    return None


def describe_need(analysis: str, modality: str | None = None) -> str:
    """Human wording of the tasks that can serve a language analysis (for 'add the task' messages)."""
    names = [t.name for fam in ANALYSIS_FAMILIES[analysis] for t in TASKS.values()
             if t.direction == FAMILIES[fam] and (modality is None or t.modality == modality)]
    return " or ".join(names)
