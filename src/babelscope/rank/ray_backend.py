"""``rank_store(..., executor=Executor("ray"))``: blocks of units ranked as Ray tasks.

The driver plans the sites and checks the labels exactly as the local backend does, then submits
one task per block of ``block_units`` units (each task reads its block from the store and ranks it)
and collects the results in submission order, so the Parquet row groups, and hence the expertise
table, are the local backend's. At most ``2 × workers`` blocks are in flight: the driver's memory
stays bounded whatever the number of units, and each worker holds one block at a time, as the
local backend does.

An activation store (:class:`~babelscope.record.store.Activations`) is passed to the tasks by
folder: each worker process opens it once, so the folder must be reachable at the same path from
every node (one machine, or shared storage). Other sources (the in-memory stores of
:mod:`babelscope.rank.memstore`) travel through Ray's object store.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Iterator, Sequence

from babelscope.errors import ConfigError
from babelscope.rank.blocks import plan_labels, rank_one_block
from babelscope.rank.labels import Analysis
from babelscope.rank.source import ActivationSource, SitePlan

#: stores opened by this worker process: folder -> (manifest mtime, store)
_OPENED: dict[str, tuple[int, Any]] = {}


def _open(source: Any) -> ActivationSource:
    if not isinstance(source, str):
        return source
    from babelscope.record.store import MANIFEST, Activations

    stamp = os.stat(os.path.join(source, MANIFEST)).st_mtime_ns
    hit = _OPENED.get(source)
    if hit is None or hit[0] != stamp:
        hit = _OPENED[source] = (stamp, Activations(source))
    return hit[1]


def _rank_task(source: Any, plan: SitePlan, labels: Any, start: int, stop: int, threads: int) -> Any:
    return rank_one_block(_open(source), plan, labels, start, stop, threads)


def ranked_blocks_ray(store: ActivationSource, plans: Sequence[SitePlan], analysis: Analysis, block_units: int,
                      *, threads: int | None = None, ray_address: str | None = None,
                      num_workers: int | None = None) -> Iterator[tuple[SitePlan, int, Any]]:
    """Yield ``(plan, first unit, BlockResult)`` for every block, in the local backend's order."""
    from babelscope.ray_util import cluster_cpus, ray_session
    from babelscope.record.store import Activations

    if num_workers is not None and num_workers < 1:
        raise ConfigError(f"workers must be >= 1, got {num_workers}")
    labels = [plan_labels(p, analysis) for p in plans]  # a bad label set fails before any task runs
    jobs = [(i, start, min(start + block_units, p.n_units))
            for i, p in enumerate(plans) for start in range(0, p.n_units, block_units)]
    with ray_session(ray_address) as ray:
        cpus = cluster_cpus(ray)
        workers = num_workers or cpus
        per_task = min(cpus, threads or max(1, cpus // workers))
        task = ray.remote(_rank_task).options(num_cpus=per_task)
        source = str(store.folder.resolve()) if isinstance(store, Activations) else ray.put(store)
        plan_refs = [ray.put(p) for p in plans]
        label_refs = [ray.put(lab) for lab in labels]
        window: deque = deque()
        try:
            for i, start, stop in jobs:
                if len(window) >= 2 * workers:
                    j, first, ref = window.popleft()
                    yield plans[j], first, ray.get(ref)
                window.append((i, start, task.remote(source, plan_refs[i], label_refs[i], start, stop, per_task)))
            while window:
                j, first, ref = window.popleft()
                yield plans[j], first, ray.get(ref)
        finally:
            for _, _, ref in window:
                ray.cancel(ref)
