"""``record``: run the model over task samples and write pooled responses into a store.

One KV-cached, greedy generation per homogeneous batch records everything (see ``capture.py``).
Samples are written in chunks of ``batch_size`` rows; each finished chunk leaves a completion
record, so an interrupted run resumes at the first unfinished chunk and ends with the same store as
an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, replace
from itertools import groupby
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from babelscope import __version__
from babelscope.atomic import FolderLock
from babelscope.corpus.audio import check_audio, read_audio
from babelscope.corpus.tasks import TaskSample
from babelscope.errors import AudioError, ConfigError, StoreError
from babelscope.models.base import ModelAdapter, Site
from babelscope.models.hooks_util import temporary_hooks
from babelscope.models.sites import select_sites
from babelscope.outputs import check_replaceable
from babelscope.record.capture import DECODER_VIEWS, ENCODER_POOLINGS, StepCapture, step_view
from babelscope.record.layout import ViewLayout, make_layout, site_views
from babelscope.record.store import CHUNKS, MANIFEST, SAMPLES, SETTINGS, Activations, StoreWriter, atomic_write_text
from babelscope.threads import check_threads, resolve_threads, threads_now, torch_threads


@dataclass
class RecordSettings:
    """What to record. ``sites`` are globs/regexes/component names (see ``select_sites``).

    ``threads``: torch intra-op threads of every process that computes chunks (the local recorder,
    each Ray actor); ``None`` is torch's default in the calling process, resolved to a number in the
    store's ``record.json`` (see :mod:`babelscope.threads`).
    """

    steps: tuple[int, ...] = (2, 7, 12)
    sites: tuple[str, ...] = ("text_decoder",)
    encoder_pooling: str = "mean"
    decoder_views: tuple[str, ...] = DECODER_VIEWS
    batch_size: int = 16
    dtype: str = "float32"
    max_new_tokens: int = 32
    threads: int | None = None

    def validate(self, adapter: ModelAdapter) -> None:
        if not self.steps:
            raise ConfigError("steps: give at least one decoding step")
        if any((not isinstance(s, int)) or s < 1 for s in self.steps):
            raise ConfigError(f"steps: every step must be an integer >= 1, got {list(self.steps)}")
        adapter.check_generation_length(self.max_new_tokens)
        limit = adapter.decoder_prompt_length + self.max_new_tokens - 1
        if max(self.steps) > limit:
            raise ConfigError(f"steps: step {max(self.steps)} is beyond the longest decoded prefix ({limit} = "
                              f"{adapter.decoder_prompt_length} start tokens + max_new_tokens {self.max_new_tokens} - 1); "
                              "raise max_new_tokens or lower the step")
        if self.encoder_pooling not in ENCODER_POOLINGS:
            raise ConfigError(f"encoder_pooling: choose from {ENCODER_POOLINGS}, not {self.encoder_pooling!r}")
        bad = set(self.decoder_views) - set(DECODER_VIEWS)
        if bad or not self.decoder_views:
            raise ConfigError(f"decoder_views: choose from {DECODER_VIEWS}, got {list(self.decoder_views)}")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be >= 1")
        if self.dtype not in ("float16", "float32"):
            raise ConfigError(f"dtype: the store holds float16 or float32, not {self.dtype!r}")
        check_threads(self.threads)


def _views_of(site: Site, settings: RecordSettings) -> list[str]:
    return site_views(site, settings.steps, settings.decoder_views)


def _check_inputs(adapter: ModelAdapter, samples: Sequence[TaskSample]) -> None:
    if not samples:
        raise ConfigError("no samples to record")
    seen: set[str] = set()
    for s in samples:
        if s.sample_id in seen:
            raise ConfigError(f"duplicate sample id {s.sample_id!r}")
        seen.add(s.sample_id)
        if s.task not in adapter.supported_tasks:
            raise ConfigError(f"task {s.task!r} is not supported by {adapter.family} models "
                              f"(supported: {', '.join(adapter.supported_tasks)})")
        adapter.model_lang(s.tgt_lang)
        adapter.model_lang(s.src_lang)
        if s.modality == "speech":
            if not s.audio:
                raise AudioError(f"sample {s.sample_id}: speech sample without an audio file")
            try:
                check_audio(s.audio)
            except AudioError as exc:
                raise AudioError(f"{exc} (sample {s.sample_id})") from None


def sample_fingerprints(samples: Sequence[TaskSample]) -> list[str]:
    """Per sample, a hash of everything the store records about it: ids, task, languages, text,
    reference (the store's samples table keeps both for the evaluation) and the audio file's bytes
    (not its path, so a moved corpus still matches)."""
    audio_hash: dict[str, str] = {}
    out = []
    for s in samples:
        row = s.to_row()
        path = row.pop("audio")
        if path:
            if path not in audio_hash:
                h = hashlib.sha256()
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):
                        h.update(block)
                audio_hash[path] = h.hexdigest()
            row["audio_sha256"] = audio_hash[path]
        out.append(hashlib.sha256(json.dumps(row, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16])
    return out


def _settings_record(adapter: ModelAdapter, samples: Sequence[TaskSample], sites: Sequence[Site],
                     settings: RecordSettings, forcing=None) -> dict:
    prints = sample_fingerprints(samples)
    meta = {"model": adapter.describe(), "settings": asdict(settings),
            "sites": [s.name for s in sites], "n_samples": len(samples),
            "samples_sha256": hashlib.sha256("\n".join(prints).encode()).hexdigest()[:16],
            "sample_fingerprints": prints}
    if forcing is not None:
        meta["forcing"] = forcing.meta or {"description": forcing.description}
    return meta


def settings_diff(old: dict, new: dict, prefix: str = "") -> list[str]:
    """The dotted keys where two settings records differ (nested dicts compared key by key)."""
    keys = sorted(set(old) | set(new))
    out = []
    for k in keys:
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += settings_diff(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


def _store_diff(old: dict, meta: dict, samples: Sequence[TaskSample]) -> list[str]:
    """Where a store's ``record.json`` differs from this recording's. A store from before per-sample
    fingerprints named its samples by their ids only: it is compared on those."""
    diff = settings_diff(old, meta)
    if "sample_fingerprints" not in old and "sample_ids_sha256" in old:
        ids = hashlib.sha256("\n".join(s.sample_id for s in samples).encode()).hexdigest()[:16]
        diff = [k for k in diff if k not in ("sample_fingerprints", "samples_sha256", "sample_ids_sha256")]
        if ids != old["sample_ids_sha256"]:
            diff.append("sample_ids_sha256")
    return diff


@dataclass
class RecordPlan:
    """A store set up for recording (arrays created, settings written) and the chunks still to do."""

    out: Path
    samples: Sequence[TaskSample]
    sites: list[Site]
    settings: RecordSettings
    meta: dict
    layout: dict[str, ViewLayout]
    writer: StoreWriter
    n_chunks: int
    todo: list[int]
    lock: FolderLock | None = None  #: held from set-up until the store is finished (or the run fails)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()

    def rows(self, k: int) -> list[TaskSample]:
        start = k * self.settings.batch_size
        return list(self.samples[start:start + self.settings.batch_size])

    @property
    def n_done(self) -> int:
        return len(self.samples) - sum(len(self.rows(k)) for k in self.todo)


def prepare_store(adapter: ModelAdapter, samples: Sequence[TaskSample], out: str | Path,
                  settings: RecordSettings | None = None, *, overwrite: bool = False,
                  forcing=None) -> RecordPlan | Activations:
    """Validate the inputs and set up the store at ``out``: a complete matching store is returned
    opened (:class:`Activations`); otherwise the arrays exist afterwards and the plan lists the
    chunks without a completion record (all of them for a new store)."""
    from babelscope.record.store import local_path

    settings = settings or RecordSettings()
    settings.validate(adapter)
    settings = replace(settings, threads=resolve_threads(settings.threads))  # the store states its count
    sites = select_sites(adapter.sites(), list(settings.sites))
    _check_inputs(adapter, samples)
    out = local_path(out)
    meta = json.loads(json.dumps(_settings_record(adapter, samples, sites, settings, forcing)))
    # only a store may be resumed or (--overwrite) deleted: anything else at ``out`` is the user's
    check_replaceable(out, "store", hint="choose an empty or new folder for the store")
    if not overwrite and (out / SETTINGS).is_file():
        old = json.loads((out / SETTINGS).read_text())
        diff = _store_diff(old, meta, samples)
        if "sample_fingerprints" in diff and len(old.get("sample_fingerprints", [])) == len(samples):
            changed = [s.sample_id for s, a, b in zip(samples, old["sample_fingerprints"], meta["sample_fingerprints"])
                       if a != b]
            raise StoreError(f"{out}: was recorded from other inputs: {len(changed)} sample(s) changed since "
                             f"(text, reference, audio or task fields), e.g. {', '.join(changed[:5])}; the store "
                             "would mix old and new inputs: record into another folder or pass --overwrite")
        was = old.get("settings", {}).get("threads")
        if diff == ["settings.threads"] and (was is None or (out / MANIFEST).is_file()):
            # a complete store computes nothing more: it is returned as it is and states its own count;
            # a store from before the thread policy did not record one: it resumes with this run's
            diff = []
        if diff == ["settings.threads"]:
            raise StoreError(f"{out}: was recorded with {was} torch threads, this run has {settings.threads}; "
                             f"resume with --threads {was} (config [record] threads = {was}) so the whole store "
                             "has the same arithmetic, or pass --overwrite")
        if diff:
            raise StoreError(f"{out}: holds a recording with other settings ({', '.join(diff)}); "
                             "choose another output folder or pass --overwrite")
        if (out / MANIFEST).is_file():
            return Activations(out)
    out.mkdir(parents=True, exist_ok=True)
    # one writer per store: a second `record` into the same folder stops here, before it writes
    lock = FolderLock(out, "recorded")
    try:
        if overwrite:  # a store (checked above): cleared under the lock, never another process's files
            _clear_store(out)
        elif (out / SETTINGS).is_file() and [k for k in _store_diff(json.loads((out / SETTINGS).read_text()), meta,
                                                                     samples) if k != "settings.threads"]:
            raise StoreError(f"{out}: another process wrote a recording with other settings meanwhile; choose "
                             "another output folder")
        atomic_write_text(out / SETTINGS, json.dumps(meta, indent=2, sort_keys=True))
        (out / CHUNKS).mkdir(exist_ok=True)

        table = pd.DataFrame([s.to_row() for s in samples])
        layout = make_layout(sites, settings.steps, settings.decoder_views)
        writer = StoreWriter(out, samples=table, layout=layout, site_meta={s.name: s.to_dict() for s in sites},
                             chunk_rows=settings.batch_size, dtype=settings.dtype)
        n_chunks = (len(samples) + settings.batch_size - 1) // settings.batch_size
        todo = [k for k in range(n_chunks) if not (out / CHUNKS / f"chunk-{k:06d}.json").is_file()]
    except BaseException:
        lock.release()
        raise
    return RecordPlan(out, samples, list(sites), settings, meta, layout, writer, n_chunks, todo, lock)


def _clear_store(out: Path) -> None:
    """Empty a store folder in an order that an interruption cannot turn into a "complete" store:
    the manifest first (the store is then incomplete), the completion records next (every chunk is
    then to be recomputed), the data, and ``record.json`` last (until then the folder is still a
    store that the same command resumes)."""
    first = [out / MANIFEST, out / CHUNKS, out / SAMPLES, out / "responses.zarr"]
    rest = [p for p in out.iterdir() if p not in first and p.name != SETTINGS]
    for p in first + rest + [out / SETTINGS]:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        elif p.exists() or p.is_symlink():
            p.unlink()


def finish_store(adapter: ModelAdapter, plan: RecordPlan) -> Activations:
    """Assemble the samples table and the manifest once every chunk has its completion record;
    releases the store's writer lock either way."""
    try:
        return _finalize(plan.out, adapter, plan.samples, plan.sites, plan.settings, plan.meta, plan.n_chunks,
                         plan.layout)
    finally:
        plan.release()


def record(adapter: ModelAdapter, samples: Sequence[TaskSample], out: str | Path,
           settings: RecordSettings | None = None, *, overwrite: bool = False, progress: bool = True,
           on_chunk: Callable[[int], None] | None = None, forcing=None, backend: str = "local",
           ray_address: str | None = None, num_workers: int | None = None) -> Activations:
    """Record responses of ``adapter`` for ``samples`` into the store folder ``out`` and open it.

    ``forcing`` (a :class:`babelscope.intervene.ForcingPlan`) forces units during recording: the
    store then holds the responses of the forced model (its hooks run before the recording hooks).

    ``backend="ray"`` computes the chunks on Ray actors, one model replica each (see
    :func:`babelscope.record.ray_backend.record_ray`; ``ray_address`` and ``num_workers`` apply to
    it only). Both backends write the same store.
    """
    if backend == "ray":
        from babelscope.record.ray_backend import record_ray

        return record_ray(adapter, samples, out, settings, overwrite=overwrite, progress=progress,
                          on_chunk=on_chunk, forcing=forcing, ray_address=ray_address, num_workers=num_workers)
    if backend != "local":
        raise ConfigError(f"backend: choose 'local' or 'ray', not {backend!r}")
    plan = prepare_store(adapter, samples, out, settings, overwrite=overwrite, forcing=forcing)
    if isinstance(plan, Activations):
        return plan
    settings = plan.settings

    from babelscope.progress import progress_bar

    sink = _ChunkSink(plan.writer, plan.out / CHUNKS)
    try:
        try:
            with torch_threads(settings.threads), \
                    progress_bar(progress, "record", total=len(samples), done=plan.n_done) as advance:
                for k in plan.todo:
                    rows = plan.rows(k)
                    values, valid, gen = _record_chunk(adapter, rows, plan.sites, settings, plan.layout, forcing)
                    sink.submit(k, k * settings.batch_size, values, valid, gen, threads_now())
                    advance(len(rows))
                    if on_chunk is not None:
                        on_chunk(k)
        finally:
            sink.close()  # the last chunk's write, before the lock goes
    except BaseException:
        plan.release()
        raise
    return finish_store(adapter, plan)


class _ChunkSink:
    """Writes finished chunks on a background thread while the model computes the next one.

    At most one chunk waits (bounded memory); a chunk's completion record is written only after all
    its rows are in the store; a write error surfaces at the next submit or at close.
    """

    def __init__(self, writer: StoreWriter, chunk_dir: Path) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._writer, self._dir = writer, chunk_dir
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="babelscope-store")
        self._pending = None

    def _write(self, k: int, start: int, values: dict, valid: dict, gen: list, threads: int) -> None:
        self._writer.write_rows(start, values, valid)
        atomic_write_text(self._dir / f"chunk-{k:06d}.json",
                          json.dumps({"chunk": k, "start": start, "threads": threads, "generated": gen},
                                     ensure_ascii=False))

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def submit(self, k: int, start: int, values: dict, valid: dict, gen: list, threads: int) -> None:
        """``threads``: the torch thread count the chunk was computed with (its completion record
        states it; the store is finalized only if every chunk used ``settings.threads``)."""
        self._wait()
        self._pending = self._pool.submit(self._write, k, start, values, valid, gen, threads)

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown(wait=True)


def _record_chunk(adapter: ModelAdapter, rows: list[TaskSample], sites: Sequence[Site],
                  settings: RecordSettings, layout: dict[str, ViewLayout], forcing=None) -> tuple[dict, dict, list]:
    n = len(rows)
    values = {v: np.full((n, lay.total), np.nan, dtype=np.float32) for v, lay in layout.items()}
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
        for site in sites:
            if site.stream == "encoder":
                if site.name in res.encoder:
                    i, off, u = layout["encoder"].span(site.name)
                    values["encoder"][idx, off:off + u] = res.encoder[site.name].numpy()
                    valid["encoder"][idx, i] = True
                continue
            for s in sorted(set(settings.steps)):
                ok = res.step_valid[s].numpy()
                for v in settings.decoder_views:
                    key = (site.name, s, v)
                    if key not in res.decoder:
                        continue  # generation stopped before step s for the whole batch
                    view = step_view(s, v)
                    i, off, u = layout[view].span(site.name)
                    vals = res.decoder[key].numpy().copy()
                    vals[~ok] = np.nan
                    values[view][idx, off:off + u] = vals
                    valid[view][idx, i] = ok
        for j, toks in zip(range(idx.start, idx.stop), res.generated):
            generated[j] = {"tokens": toks, "text": adapter.decode(toks)}
    return values, valid, generated


def _finalize(out: Path, adapter: ModelAdapter, samples: Sequence[TaskSample], sites: Sequence[Site],
              settings: RecordSettings, meta: dict, n_chunks: int, layout: dict[str, ViewLayout]) -> Activations:
    gen: list = []
    for k in range(n_chunks):
        path = out / CHUNKS / f"chunk-{k:06d}.json"
        if not path.is_file():
            raise StoreError(f"{out}: chunk {k} is missing its completion record")
        rec = json.loads(path.read_text())
        if rec.get("threads", settings.threads) != settings.threads:
            raise StoreError(f"{out}: chunk {k} was computed with {rec['threads']} torch threads, the store's "
                             f"setting is {settings.threads}; delete {path} and resume to recompute it")
        gen += rec["generated"]
    table = pd.DataFrame([s.to_row() for s in samples])
    table.insert(0, "sample", np.arange(len(samples)))
    table["output_tokens"] = [g["tokens"] for g in gen]
    table["output_text"] = [g["text"] for g in gen]
    table["n_output_tokens"] = [len(g["tokens"]) for g in gen]
    tmp = out / f".{SAMPLES}.tmp"
    table.to_parquet(tmp, index=False)
    tmp.replace(out / SAMPLES)

    import zarr

    root = zarr.open_group(str(out / "responses.zarr"), mode="r")
    missing: dict[str, dict[str, int]] = {}
    steps_missing: dict[str, int] = {}
    for view, lay in layout.items():
        counts = (~np.asarray(root[f"{view}/valid"][:])).sum(0)
        missing[view] = {site: int(c) for site, c in zip(lay.sites, counts)}
        if view.endswith("/mean") and len(counts):
            steps_missing[view.split("/")[0][5:]] = int(counts.max())
    # chunks of values on disk: zarr does not store an all-NaN chunk, so only this count tells a deleted
    # chunk file (which would read as NaN responses flagged valid) from one that was never written
    stored = {view: int(root[f"{view}/values"].nchunks_initialized) for view in layout}
    site_meta = [{**s.to_dict(), "views": _views_of(s, settings)} for s in sites]
    import torch
    import transformers

    manifest = {"artifact": "activations", "babelscope_version": __version__,
                **{k: v for k, v in meta.items() if k != "sample_fingerprints"},  # in record.json only
                # what else the numbers depend on (settings.threads is in meta): see babelscope.threads
                "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                             "numpy": np.__version__},
                "sites": site_meta, "n_samples": len(samples), "missing": missing,
                "steps_missing": steps_missing, "stored_chunks": stored, "layout": {v: lay.to_dict() for v, lay in layout.items()},
                "decoder_prompt_length": adapter.decoder_prompt_length}
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True))
    return Activations(out)

