"""Setting a store up for recording and finishing it: the part both backends share.

:func:`prepare_store` validates the inputs, compares them with a store already at the folder
(resume, or refuse a store of other inputs or settings), takes the writer lock and creates the
arrays; :func:`finish_store` assembles the samples table and the manifest once every chunk has
its completion record.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from babelscope.version import __version__
from babelscope.atomic import FolderLock, atomic_write_text, commit_file, temp_name
from babelscope.corpus.audio import check_audio
from babelscope.corpus.tasks import TaskSample
from babelscope.errors import AudioError, ConfigError, StoreError
from babelscope.models.base import ModelAdapter
from babelscope.outputs import check_replaceable
from babelscope.record.layout import ViewLayout, make_layout, site_views
from babelscope.record.settings import RecordSettings
from babelscope.record.store import CHUNKS, MANIFEST, SAMPLES, SETTINGS, Activations, local_path
from babelscope.record.writer import StoreWriter
from babelscope.threads import resolve_threads
from babelscope.vocab.sites import Site, select_sites
from babelscope.vocab.views import View

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.intervene.spec import ForcingPlan


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
                     settings: RecordSettings, forcing: "ForcingPlan | None" = None) -> dict:
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
                  forcing: "ForcingPlan | None" = None) -> RecordPlan | Activations:
    """Validate the inputs and set up the store at ``out``: a complete matching store is returned
    opened (:class:`Activations`); otherwise the arrays exist afterwards and the plan lists the
    chunks without a completion record (all of them for a new store)."""
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
    tmp = temp_name(out / SAMPLES)
    table.to_parquet(tmp, index=False)
    commit_file(tmp, out / SAMPLES)

    import zarr

    root = zarr.open_group(str(out / "responses.zarr"), mode="r")
    missing: dict[str, dict[str, int]] = {}
    steps_missing: dict[str, int] = {}
    for view, lay in layout.items():
        counts = (~np.asarray(root[f"{view}/valid"][:])).sum(0)
        missing[view] = {site: int(c) for site, c in zip(lay.sites, counts)}
        if View(view).pool == "mean" and len(counts):
            steps_missing[str(View(view).step)] = int(counts.max())
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

