"""One chunk of a recording: :func:`record_chunk` computes it, :class:`ChunkSink` writes it.

Both backends use these two: the local recorder in its loop, every Ray actor for the chunks it is
given. A chunk is ``batch_size`` consecutive samples; its rows of every view are written, then its
completion record (``chunks/chunk-K.json``: the generated tokens and the thread count used).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from babelscope.atomic import atomic_write_text
from babelscope.corpus.audio import read_audio
from babelscope.corpus.tasks import TaskSample
from babelscope.models.base import ModelAdapter
from babelscope.models.hooks_util import temporary_hooks
from babelscope.record.capture import StepCapture
from babelscope.record.layout import ViewLayout
from babelscope.record.settings import RecordSettings
from babelscope.record.writer import StoreWriter
from babelscope.threads import threads_now
from babelscope.vocab.sites import Site
from babelscope.vocab.views import View

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.intervene.spec import ForcingPlan


@dataclass
class ChunkResult:
    """A computed chunk: per view, ``values`` ``[rows, units of the view]`` (in the store's dtype, NaN
    where invalid) and ``valid`` ``[rows, sites of the view]``; per row the ``generated`` tokens and text;
    the torch ``threads`` it was computed with."""

    values: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    generated: list[dict]
    threads: int


def record_chunk(adapter: ModelAdapter, rows: list[TaskSample], sites: Sequence[Site],
                 settings: RecordSettings, layout: dict[str, ViewLayout],
                 forcing: "ForcingPlan | None" = None) -> ChunkResult:
    """Generate for one chunk of samples (consecutive rows, grouped into homogeneous batches) and pool
    every site's responses into the chunk's rows of each view (NaN and invalid where a sample has no
    response: a step after its end, an encoder it did not use)."""
    n = len(rows)
    # in the store's dtype from the start: a float16 store then never holds a float32 copy of a chunk
    # (at real size a chunk of 8 samples is 170 MB in float32), and the writer has nothing to convert
    dtype = np.dtype(settings.dtype)
    tdtype = getattr(torch, dtype.name)
    values = {v: np.full((n, lay.total), np.nan, dtype=dtype) for v, lay in layout.items()}
    valid = {v: np.zeros((n, len(lay.sites)), dtype=bool) for v, lay in layout.items()}
    generated: list = [None] * n
    offset = 0
    for _, group in groupby(rows, key=adapter.batch_key):
        sub = list(group)
        idx = slice(offset, offset + len(sub))
        offset += len(sub)
        audio = [read_audio(s.audio, adapter.sample_rate) if s.modality == "speech" else None for s in sub]
        batch = adapter.prepare(sub, audio)
        cap = StepCapture(sites=sites, steps=settings.steps, batch=batch, prompt_length=adapter.decoder_prompt_length,
                          eos_token_id=adapter.eos_token_id, encoder_pooling=settings.encoder_pooling,
                          decoder_views=settings.decoder_views)
        if forcing is not None:
            from babelscope.intervene.hooks import forcing_hooks

            forced = forcing_hooks(adapter, forcing, batch)
        else:
            forced = contextlib.nullcontext()
        # forcing hooks first: forward hooks run in registration order, so the capture sees forced values
        with forced, temporary_hooks(cap.hook_specs(adapter.module, adapter.decoder_input_module())):
            seq = adapter.generate(batch, settings.max_new_tokens)
        res = cap.result(seq)
        steps = sorted(set(settings.steps))
        oks = {s: res.step_valid[s].numpy() for s in steps}
        every = {s: bool(ok.all()) for s, ok in oks.items()}
        for site in sites:
            if site.stream == "encoder":
                if site.name in res.encoder:
                    i, off, u = layout["encoder"].span(site.name)
                    values["encoder"][idx, off:off + u] = _host(res.encoder[site.name], tdtype)
                    valid["encoder"][idx, i] = True
                continue
            for s in steps:
                ok = oks[s]
                for v in settings.decoder_views:
                    key = (site.name, s, v)
                    if key not in res.decoder:
                        continue  # generation stopped before step s for the whole batch
                    view = View.step_view(s, v)
                    i, off, u = layout[view].span(site.name)
                    got = _host(res.decoder[key], tdtype)
                    if every[s]:
                        values[view][idx, off:off + u] = got
                    else:
                        block = values[view][idx, off:off + u]
                        block[ok] = got[ok]  # rows past their sequence's end stay NaN
                    valid[view][idx, i] = ok
        for j, toks in zip(range(idx.start, idx.stop), res.generated):
            generated[j] = {"tokens": toks, "text": adapter.decode(toks)}
    return ChunkResult(values, valid, generated, threads_now())


def _host(t: "torch.Tensor", dtype: "torch.dtype") -> np.ndarray:
    """A pooled response as a NumPy array in the store's dtype: cast by torch (vectorised; NumPy's
    float32 -> float16 conversion is about six times slower, a real-size chunk has ~4 x 10^7 values)
    and moved to the CPU in the same call."""
    return t.to("cpu", dtype).numpy()


class ChunkSink:
    """Writes finished chunks on a background thread while the model computes the next one.

    At most one chunk waits (bounded memory); a chunk's completion record is written only after all
    its rows are in the store; a write error surfaces at the next submit or at close.
    """

    def __init__(self, writer: StoreWriter, chunk_dir: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._writer, self._dir = writer, chunk_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="babelscope-store")
        self._pending = None

    def _write(self, k: int, start: int, res: ChunkResult) -> None:
        self._writer.write_rows(start, res.values, res.valid)
        atomic_write_text(self._dir / f"chunk-{k:06d}.json",
                          json.dumps({"chunk": k, "start": start, "threads": res.threads, "generated": res.generated},
                                     ensure_ascii=False))

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def submit(self, k: int, start: int, res: ChunkResult) -> None:
        """Write chunk ``k`` (rows from ``start``); its completion record states ``res.threads`` (the
        store is finalized only if every chunk used ``settings.threads``)."""
        self._wait()
        self._pending = self._pool.submit(self._write, k, start, res)

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)
