"""``record`` on a Ray cluster: chunks of samples computed by actors, one model replica each.

The driver sets the store up exactly as the local recorder does (settings record, every array
created, the chunks still to do), then hands chunk indices to a pool of actors. Each actor loads the
model by name (one GPU each where the cluster has GPUs, else CPU actors), computes a chunk with the
shared :func:`~babelscope.record.chunk.record_chunk` and writes its rows into the same Zarr store followed by the
chunk's completion record. Chunks are disjoint rows and the store's Zarr chunks are aligned to them,
so actors never write the same file. The driver then assembles the samples table and the manifest
with :func:`~babelscope.record.plan.finish_store`: both backends produce the same store, and an interrupted
Ray run resumes like a local one (chunks with a completion record are skipped), with either backend.

Actors need the store's folder and the corpus's audio files at the same paths as the driver (one
machine, or shared storage across machines; see docs/scale.md).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from babelscope.corpus.tasks import TaskSample
from babelscope.errors import ConfigError, ModelLoadError
from babelscope.models.base import ModelAdapter
from babelscope.record.chunk import ChunkSink, record_chunk
from babelscope.record.plan import finish_store, prepare_store
from babelscope.record.settings import RecordSettings
from babelscope.record.store import CHUNKS, Activations
from babelscope.record.writer import StoreWriter
from babelscope.threads import torch_threads

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.intervene.spec import ForcingPlan

#: chunks queued per actor beyond the one it computes, so it never waits for the driver
_QUEUE_PER_ACTOR = 1


class ChunkRecorder:
    """A Ray actor (via ``ray.remote``): one model replica recording chunks into one store."""

    def __init__(self, model: dict[str, Any], expect: dict[str, Any], out: str, settings: RecordSettings,
                 site_names: list[str], layout: dict, forcing: "ForcingPlan | None" = None) -> None:
        from babelscope.models import load_model
        from babelscope.vocab.sites import select_sites

        self.adapter = load_model(model["name"], device=model["device"], dtype=model["dtype"], seed=model["seed"])
        got = self.adapter.describe()
        if got != expect:
            diff = sorted(k for k in set(got) | set(expect) if got.get(k) != expect.get(k))
            raise ModelLoadError(f"Ray worker: model {model['name']!r} loaded with other {', '.join(diff)} than "
                                 f"the driver's ({ {k: got.get(k) for k in diff} } vs "
                                 f"{ {k: expect.get(k) for k in diff} }); every node needs the same model files "
                                 "(and a built-in model the same seed)")
        self.sites = select_sites(self.adapter.sites(), list(settings.sites))
        if [s.name for s in self.sites] != site_names:
            raise ModelLoadError("Ray worker: the model's sites differ from the driver's")
        self.settings, self.layout, self.forcing = settings, layout, forcing
        writer = StoreWriter.open(Path(out), layout, settings.dtype)
        self.sink = ChunkSink(writer, Path(out) / CHUNKS)

    def record(self, k: int, start: int, rows: list[TaskSample]) -> tuple[int, int]:
        # the store's thread policy (resolved by the driver), not Ray's OMP_NUM_THREADS = num_cpus: the
        # same count as a local recording gives the same arithmetic (babelscope.threads)
        with torch_threads(self.settings.threads):
            res = record_chunk(self.adapter, rows, self.sites, self.settings, self.layout, self.forcing)
        self.sink.submit(k, start, res)  # written while the next chunk is computed
        return k, len(rows)

    def where(self) -> tuple[str, int]:
        """(host name, process id) of this actor."""
        import os
        import socket

        return socket.gethostname(), os.getpid()

    def close(self) -> bool:
        self.sink.close()
        return True


def _stop_actors(ray: Any, actors: list, places: list[tuple[str, int]], timeout: float = 60.0) -> None:
    """Stop the actors of an interrupted recording so that none writes into the store afterwards.

    Every actor is killed; then, per actor, ``close`` is asked until Ray reports the actor dead (a
    ``close`` that still runs reached the actor before the kill and waits for its pending chunk
    write), and an actor on this machine is waited for until its process has exited — Ray marks an
    actor dead slightly before its process, and the background writer thread, are gone. So no
    completion record appears after ``record`` returns and a resumed run sees the chunks as they are.
    The errors met here are the expected outcome of the kill, not new ones: the interruption's own
    exception is what the caller raises. An actor on another node is waited for until Ray reports it
    dead (its process cannot be watched from here).
    """
    import socket
    import time

    from ray.exceptions import ActorUnavailableError, RayActorError

    from babelscope.atomic import pid_alive

    here = socket.gethostname()
    for a in actors:
        ray.kill(a, no_restart=True)
    for a, (host, pid) in zip(actors, places):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                ray.get(a.close.remote(), timeout=max(1.0, deadline - time.monotonic()))
            except RayActorError as exc:
                if not isinstance(exc, ActorUnavailableError):  # dead (ActorUnavailable: not known yet)
                    break
            except Exception:  # noqa: BLE001 - a timeout or a failed last write: ask again until it is gone
                pass
        while host == here and pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)


def _model_spec(adapter: ModelAdapter, seed: int, device: str | None, gpus: bool) -> dict[str, Any]:
    desc = adapter.describe()
    if device is None or (gpus and device.startswith("cuda")):
        device = "cuda" if gpus else "cpu"  # Ray shows each GPU actor its own GPU only, as cuda:0
    return {"name": adapter.name, "dtype": desc["dtype"], "device": device, "seed": seed}


def record_ray(adapter: ModelAdapter, samples: Sequence[TaskSample], out: str | Path,
               settings: RecordSettings | None = None, *, overwrite: bool = False, progress: bool = True,
               on_chunk: Callable[[int], None] | None = None, forcing: "ForcingPlan | None" = None, ray_address: str | None = None,
               num_workers: int | None = None, seed: int = 0, device: str | None = None) -> Activations:
    """Record like :func:`babelscope.record.record`, with the chunks computed by Ray actors.

    ``adapter`` (loaded in the driver, e.g. on CPU) validates the inputs and names the model; each
    actor loads its own replica with ``load_model(adapter.name, dtype=..., seed=seed)`` and must get
    the same model identity (``describe()``), else the run stops before writing anything.

    Every actor computes with ``settings.threads`` torch threads (resolved on the driver: the
    driver's default when unset), whatever CPUs it reserves from Ray, so a Ray store is bitwise the
    local store of the same settings; on a CPU cluster, ``threads = CPUs / num_workers`` avoids
    oversubscribing the cores.

    ``num_workers``: actors (default: one per GPU of the cluster, or one per CPU without GPUs, at
    most one per chunk to do). ``device``: of the actors' replicas (default ``cuda`` with one GPU per
    actor when the cluster has GPUs, else ``cpu``). ``ray_address``: see
    :func:`babelscope.ray_util.ray_session`.
    """
    from babelscope.progress import progress_bar
    from babelscope.ray_util import cluster_cpus, cluster_gpus, import_ray, ray_session

    import_ray()  # fail before touching the store when Ray is missing
    if num_workers is not None and num_workers < 1:
        raise ConfigError(f"workers must be >= 1, got {num_workers}")
    plan = prepare_store(adapter, samples, out, settings, overwrite=overwrite, forcing=forcing)
    if isinstance(plan, Activations):
        return plan
    settings = plan.settings
    out_abs = str(plan.out.resolve())
    try:
        if plan.todo:
            with ray_session(ray_address) as ray:
                gpus = cluster_gpus(ray) if device is None or device.startswith("cuda") else 0
                cpus = cluster_cpus(ray)
                n = num_workers or (gpus if gpus else cpus)
                n = max(1, min(n, len(plan.todo)))
                # scheduling only: each actor's torch threads are settings.threads whatever it reserves
                opts: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1} if gpus else {"num_cpus": max(1, cpus // n)}
                actor_cls = ray.remote(max_restarts=0, **opts)(ChunkRecorder)
                expect = adapter.describe()  # name, files' fingerprint, dtype: not the device
                model = _model_spec(adapter, seed, device, bool(gpus))
                actors = [actor_cls.remote(model, expect, out_abs, settings, [s.name for s in plan.sites], plan.layout,
                                           forcing) for _ in range(n)]
                places = [("", 0)] * len(actors)  # (host, pid) of each actor, once it has started
                queue = deque(plan.todo)
                running: dict[Any, Any] = {}

                def give(actor) -> None:
                    k = queue.popleft()
                    ref = actor.record.remote(k, k * settings.batch_size, plan.rows(k))
                    running[ref] = actor

                closed = False
                try:
                    places = ray.get([a.where.remote() for a in actors])  # surfaces a failed model load too
                    with progress_bar(progress, f"record ({n} Ray workers)", total=len(samples),
                                      done=plan.n_done) as advance:
                        for _ in range(1 + _QUEUE_PER_ACTOR):
                            for a in actors:
                                if queue:
                                    give(a)
                        while running:
                            ready, _ = ray.wait(list(running), num_returns=1)
                            actor = running.pop(ready[0])
                            k, rows = ray.get(ready[0])
                            advance(rows)
                            if on_chunk is not None:
                                on_chunk(k)
                            if queue:
                                give(actor)
                        ray.get([a.close.remote() for a in actors])  # the last chunks' writes
                        closed = True
                finally:
                    if closed:
                        for a in actors:
                            ray.kill(a, no_restart=True)
                    else:
                        _stop_actors(ray, actors, places)
    except BaseException:
        plan.release()  # the store's writer lock (finish_store releases it otherwise)
        raise
    return finish_store(adapter, plan)
