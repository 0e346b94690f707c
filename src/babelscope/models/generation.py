"""Batched greedy generation over task samples, without recording (evaluation, interventions).

``generate_texts`` batches samples exactly as the recorder does (consecutive samples that share the
adapter's ``batch_key``), so a forced run and a recorded run see the same batches. ``context`` lets
a caller wrap each generate call, e.g. with forcing hooks (``babelscope.intervene``).
"""

from __future__ import annotations

import contextlib
from itertools import groupby
from typing import Callable, ContextManager, Sequence

import torch

from babelscope.corpus.audio import read_audio
from babelscope.corpus.tasks import TaskSample
from babelscope.errors import ConfigError
from babelscope.models.base import ModelAdapter, PreparedBatch

BatchContext = Callable[[Sequence[TaskSample], PreparedBatch], ContextManager]


def iter_batches(adapter: ModelAdapter, samples: Sequence[TaskSample], batch_size: int):
    """Yield ``(start, sub_samples)``: chunks of ``batch_size`` split further by ``batch_key``."""
    if batch_size < 1:
        raise ConfigError("batch_size must be >= 1")
    for start in range(0, len(samples), batch_size):
        rows = list(samples[start:start + batch_size])
        offset = start
        for _, group in groupby(rows, key=adapter.batch_key):
            sub = list(group)
            yield offset, sub
            offset += len(sub)


def generated_tokens(adapter: ModelAdapter, seq: torch.Tensor) -> list[list[int]]:
    """Content tokens of each generated row: after the start prompt, up to (not including) EOS."""
    out = []
    for row in seq[:, adapter.decoder_prompt_length:].tolist():
        toks = []
        for t in row:
            if t == adapter.eos_token_id:
                break
            toks.append(int(t))
        out.append(toks)
    return out


def generate_texts(adapter: ModelAdapter, samples: Sequence[TaskSample], *, batch_size: int = 16,
                   max_new_tokens: int = 32, context: BatchContext | None = None,
                   progress: bool = False, label: str = "generate") -> list[dict]:
    """Greedy outputs ``{"tokens": [...], "text": str}`` for every sample, in order."""
    from babelscope.progress import progress_bar

    results: list[dict] = [None] * len(samples)  # type: ignore[list-item]
    with progress_bar(progress, label, total=len(samples)) as advance:
        for start, sub in iter_batches(adapter, samples, batch_size):
            audio = [read_audio(s.audio, adapter.sample_rate) if s.modality == "speech" else None for s in sub]
            batch = adapter.prepare(sub, audio)
            ctx = context(sub, batch) if context is not None else contextlib.nullcontext()
            with ctx:
                seq = adapter.generate(batch, max_new_tokens)
            for j, toks in enumerate(generated_tokens(adapter, seq)):
                results[start + j] = {"tokens": toks, "text": adapter.decode(toks)}
            advance(len(sub))
    return results
