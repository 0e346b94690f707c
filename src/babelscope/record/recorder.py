"""``record``: run the model over task samples and write pooled responses into a store.

One KV-cached, greedy generation per homogeneous batch records everything (see ``capture.py``).
Samples are written in chunks of ``batch_size`` rows; each finished chunk leaves a completion
record, so an interrupted run resumes at the first unfinished chunk and ends with the same store as
an uninterrupted one. The executor chooses the backend: this process (below), or Ray actors
(:mod:`babelscope.record.ray_backend`); both write the same store.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from babelscope.corpus.tasks import TaskSample
from babelscope.executor import Executor
from babelscope.models.base import ModelAdapter
from babelscope.progress import progress_bar
from babelscope.record.chunk import ChunkSink, record_chunk
from babelscope.record.plan import finish_store, prepare_store
from babelscope.record.ray_backend import record_ray
from babelscope.record.settings import RecordSettings
from babelscope.record.store import CHUNKS, Activations
from babelscope.threads import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.intervene.spec import ForcingPlan


def record(adapter: ModelAdapter, samples: Sequence[TaskSample], out: str | Path,
           settings: RecordSettings | None = None, *, executor: Executor | None = None, overwrite: bool = False,
           progress: bool = True, on_chunk: Callable[[int], None] | None = None,
           forcing: "ForcingPlan | None" = None, seed: int = 0) -> Activations:
    """Record responses of ``adapter`` for ``samples`` into the store folder ``out`` and open it.

    ``executor`` (default: local) chooses where the chunks are computed; its ``threads``, when given,
    are the torch threads of every recording process and replace ``settings.threads``. With Ray each
    actor loads its own replica of the model (built-in models with ``seed``; see
    :func:`babelscope.record.ray_backend.record_ray`). Both backends write the same store.

    ``forcing`` (a :class:`babelscope.intervene.ForcingPlan`) forces units during recording: the
    store then holds the responses of the forced model (its hooks run before the recording hooks).
    """
    executor = executor or Executor()
    settings = settings or RecordSettings()
    if executor.threads is not None:
        settings = replace(settings, threads=executor.threads)
    if executor.is_ray:
        return record_ray(adapter, samples, out, settings, overwrite=overwrite, progress=progress,
                          on_chunk=on_chunk, forcing=forcing, ray_address=executor.ray_address,
                          num_workers=executor.workers, seed=seed, device=executor.device)
    plan = prepare_store(adapter, samples, out, settings, overwrite=overwrite, forcing=forcing)
    if isinstance(plan, Activations):
        return plan
    settings = plan.settings
    sink = ChunkSink(plan.writer, plan.out / CHUNKS)
    try:
        try:
            with torch_threads(settings.threads), \
                    progress_bar(progress, "record", total=len(samples), done=plan.n_done) as advance:
                for k in plan.todo:
                    rows = plan.rows(k)
                    sink.submit(k, k * settings.batch_size,
                                record_chunk(adapter, rows, plan.sites, settings, plan.layout, forcing))
                    advance(len(rows))
                    if on_chunk is not None:
                        on_chunk(k)
        finally:
            sink.close()  # the last chunk's write, before the lock goes
    except BaseException:
        plan.release()
        raise
    return finish_store(adapter, plan)
