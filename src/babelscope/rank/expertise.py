"""Expertise tables: AP and forcing statistics of every unit for every label (DESIGN "Expertise").

:func:`rank_store` streams blocks of units from an activation store, so peak memory depends on the
block size, never on the number of units: each block is ranked and appended to a Parquet file as a
row group. Columns::

    site, unit, component, group, layer, view, label, ap, on_p50, on_p90, off_p50, off_mean

(one row per unit x label; ``group`` and ``view`` are additions to the DESIGN columns, needed to
select decoder attention vs FFN units and to tell which view a site was read at). The settings,
sample counts, dropped-row counts and base rates are stored as JSON in the Parquet schema metadata
under the key ``babelscope``; :func:`read_expertise` returns both.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from babelscope.atomic import commit_file, remove_stale_temps, temp_name
from babelscope.errors import ConfigError, StoreError
from babelscope.executor import Executor
from babelscope.rank.ap import STAT_NAMES, default_threads
from babelscope.rank.blocks import rank_site_blocks
from babelscope.defaults import MIN_NEGATIVES, MIN_POSITIVES
from babelscope.rank.evidence import label_counts, thin_labels, without_labels
from babelscope.rank.labels import Analysis
from babelscope.rank.progress import progress_bar
from babelscope.rank.ray_backend import ranked_blocks_ray
from babelscope.rank.source import ActivationSource, SitePlan, model_name, plan_sites
from babelscope.ray_util import import_ray

log = logging.getLogger(__name__)

FORMAT = "babelscope.expertise"
META_KEY = b"babelscope"
COLUMNS = ("site", "unit", "component", "group", "layer", "view", "label", "ap") + STAT_NAMES
SCHEMA = pa.schema([
    ("site", pa.dictionary(pa.int32(), pa.string())),
    ("unit", pa.int32()),
    ("component", pa.dictionary(pa.int8(), pa.string())),
    ("group", pa.dictionary(pa.int8(), pa.string())),
    ("layer", pa.int16()),
    ("view", pa.dictionary(pa.int8(), pa.string())),
    ("label", pa.dictionary(pa.int16(), pa.string())),
    ("ap", pa.float64()),
] + [(s, pa.float64()) for s in STAT_NAMES])
DEFAULT_BLOCK_UNITS = 4096


@dataclass
class Expertise:
    """An expertise table and its metadata; ``table`` is None when it was streamed to ``path``."""

    meta: dict[str, Any]
    table: pd.DataFrame | None = None
    path: Path | None = None
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def labels(self) -> list[str]:
        """The ranked labels (an analysis label skipped for thin evidence is not one: ``skipped_labels``)."""
        skipped = self.meta.get("skipped_labels") or {}
        return [l for l in self.meta["analysis"]["labels"] if l not in skipped]

    def loaded(self) -> "Expertise":
        """This expertise with its table in memory (read back from ``path`` when it was streamed there)."""
        if self.table is not None:
            return self
        if self.path is None:
            raise ConfigError("expertise: no table and no file to read it from")
        return read_expertise(self.path)

    @property
    def skipped_labels(self) -> dict[str, str]:
        """Labels left out for too few positives or negatives, with their counts (:mod:`babelscope.rank.evidence`)."""
        return dict(self.meta.get("skipped_labels") or {})

    def __repr__(self) -> str:
        an = self.meta.get("analysis", {})
        rows = "streamed" if self.table is None else f"{len(self.table)} rows"
        where = f", path={str(self.path)!r}" if self.path is not None else ""
        return (f"Expertise({an.get('analysis')!r}, {an.get('modality')}, task={an.get('task')!r}, view={self.meta.get('view')!r}, labels={self.labels}, "
                f"samples used={self.meta.get('n_used')} of {self.meta.get('n_samples')}, {rows}{where})")


def _block_frame(plan: SitePlan, start: int, res: Any, names: tuple[str, ...]) -> pa.Table:
    """Rows of one ranked block, ordered by unit then label (``names``: the written labels, the first
    rows of the result; a trailing bucket of skipped labels is not written)."""
    L, b = len(names), res.ap.shape[1]
    n = L * b

    def const(value: str) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int8)), pa.array([value]))

    cols = {
        "site": const(plan.site),
        "unit": pa.array(np.repeat(np.arange(start, start + b, dtype=np.int32), L)),
        "component": const(plan.component),
        "group": const(plan.group),
        "layer": pa.array(np.full(n, plan.layer, dtype=np.int16)),
        "view": const(plan.view),
        "label": pa.DictionaryArray.from_arrays(pa.array(np.tile(np.arange(L, dtype=np.int16), b)),
                                                pa.array(list(names))),
        "ap": pa.array(res.ap[:L].T.ravel()),
    }
    for s in STAT_NAMES:
        cols[s] = pa.array(getattr(res, s)[:L].T.ravel())
    return pa.Table.from_pydict(cols).cast(SCHEMA)


def _metadata(store: ActivationSource, analysis: Analysis, view: str, plans: list[SitePlan],
              skipped: dict[str, str], settings: dict[str, Any]) -> dict[str, Any]:
    from babelscope.version import __version__

    main = next((p for p in plans if p.view == view), plans[0])
    counts = np.bincount(analysis.labels[main.keep], minlength=len(analysis.label_names))
    return {
        "format": FORMAT, "version": 1, "package_version": __version__,
        "model": model_name(store),
        "analysis": analysis.describe(), "view": view,
        "n_samples": analysis.n_samples,
        "n_used": int(main.keep.sum()), "n_dropped": int(max(p.n_dropped for p in plans)),
        "base_rates": {n: float(c) / max(int(main.keep.sum()), 1)
                       for n, c in zip(analysis.label_names, counts)},
        "sites": {p.site: {"view": p.view, "n_units": p.n_units, "n_used": int(p.keep.sum()),
                           "n_dropped": p.n_dropped} for p in plans},
        "skipped_sites": skipped, "settings": settings,
    }


def rank_store(store: ActivationSource, analysis: Analysis, *, view: str,
               sites: Sequence[str] | None = None, patterns: Sequence[str] | None = None,
               components: Sequence[str] | None = None, block_units: int = DEFAULT_BLOCK_UNITS,
               out: str | Path | None = None, progress: bool = True, encoder_fallback: bool = True,
               threads: int | None = None, executor: Executor | None = None,
               min_positives: int = MIN_POSITIVES, min_negatives: int = MIN_NEGATIVES,
               strict: bool = False) -> Expertise:
    """Rank every selected unit of ``store`` for every label of ``analysis`` at one ``view``.

    Parameters
    ----------
    store:
        An :class:`~babelscope.rank.source.ActivationSource` (e.g. ``babelscope.open_activations``).
    analysis:
        Comparison set and labels (:func:`~babelscope.rank.labels.build_analysis`).
    view:
        ``encoder`` or a decoder view such as ``step=2/mean``.
    sites, patterns, components:
        Which sites: explicit names, or glob / ``re:`` patterns and component names (default: all
        sites with the view).
    block_units:
        Units read from the store per block (peak memory ~ samples x block_units x 4 bytes plus
        bounded ranking temporaries).
    out:
        Parquet path. When given, blocks are written as they are ranked (atomically: a temporary
        file renamed at the end) and the returned ``table`` is None.
    encoder_fallback:
        Read decoder sites recorded once per sample (cross-attention K/V) at ``encoder``.

    threads:
        Ranking threads per block (default: the CPU count, at most 8).
    executor:
        Where the blocks are ranked (default: this process). A Ray executor ranks them as Ray
        tasks (at most ``executor.workers`` at once, default: the cluster's CPUs) and writes them in
        the same order: the table is the local one (:mod:`babelscope.rank.ray_backend`).
        ``threads`` then means threads per task.

    min_positives, min_negatives, strict:
        A label with fewer positives or negatives among the samples with a response at ``view`` is
        skipped with an :class:`~babelscope.rank.evidence.EvidenceWarning` naming its counts (its samples
        stay negatives of the other labels), or refused with ``strict`` (:mod:`babelscope.rank.evidence`).

    Rows whose response is missing at a site and view (``store.valid`` False) are dropped before
    ranking; the counts are logged and kept in the metadata and ``Expertise.dropped``.
    """
    if block_units < 1:
        raise ConfigError(f"block_units must be >= 1, got {block_units}")
    executor = executor or Executor()
    if executor.is_ray:
        import_ray()
    else:
        threads = default_threads() if threads is None else threads
    plans, skipped = plan_sites(store, analysis.rows, view, sites=sites, patterns=patterns,
                                components=components, encoder_fallback=encoder_fallback)
    settings = {"block_units": block_units, "encoder_fallback": encoder_fallback,
                "patterns": list(patterns) if patterns else None,
                "components": list(components) if components else None,
                "min_positives": min_positives, "min_negatives": min_negatives}
    meta = _metadata(store, analysis, view, plans, skipped, settings)
    counts = label_counts(analysis, plans, view)
    thin = thin_labels(analysis, counts, view, min_positives=min_positives, min_negatives=min_negatives, strict=strict)
    meta["skipped_labels"] = thin
    meta["label_counts"] = {k: {"positives": p, "negatives": n} for k, (p, n) in counts.items()}
    ranked = without_labels(analysis, list(thin))
    written = tuple(n for n in analysis.label_names if n not in thin)
    dropped = {p.site: p.n_dropped for p in plans}
    for v in sorted({p.view for p in plans}):
        counts = sorted({p.n_dropped for p in plans if p.view == v})
        log.info("rank %s at view %s: dropped %s of %d samples with no response", analysis.key, v,
                 "/".join(map(str, counts)), analysis.n_samples)
    for s, why in skipped.items():
        log.info("rank %s: skipped site %s (%s)", analysis.key, s, why)
    schema = SCHEMA.with_metadata({META_KEY: json.dumps(meta).encode()})
    path = Path(out) if out is not None else None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(path)  # left by a ranking that was killed
    tmp = temp_name(path) if path else None
    writer = None
    parts: list[pa.Table] = []
    if executor.is_ray:
        blocks = ranked_blocks_ray(store, plans, ranked, block_units, threads=threads,
                                   ray_address=executor.ray_address, num_workers=executor.workers)
    else:
        blocks = ((plan, start, res) for plan in plans
                  for start, res in rank_site_blocks(store, plan, ranked, block_units, threads))
    try:  # from the writer's creation on: an interrupt at any point leaves no temporary behind
        if tmp is not None:
            writer = pq.ParquetWriter(str(tmp), schema)
        with progress_bar(progress) as prog:
            task = prog.add_task(f"{analysis.key} {view}", total=sum(p.n_units for p in plans))
            for plan, start, res in blocks:
                tab = _block_frame(plan, start, res, written)
                if writer is not None:
                    writer.write_table(tab)
                else:
                    parts.append(tab)
                prog.advance(task, res.ap.shape[1])
        if writer is not None:
            writer.close()
            writer = None
            commit_file(tmp, path)  # type: ignore[arg-type]
            return Expertise(meta, None, path, dropped)
    finally:
        blocks.close()  # the Ray backend cancels its outstanding tasks here
        if writer is not None:
            writer.close()
        if tmp is not None and tmp.exists():
            tmp.unlink()
    table = pa.concat_tables(parts).to_pandas() if parts else pd.DataFrame(columns=COLUMNS)
    return Expertise(meta, table, None, dropped)


def write_expertise(exp: Expertise, path: str | Path) -> Path:
    """Write an in-memory expertise table to Parquet atomically (metadata in the schema)."""
    if exp.table is None:
        raise ConfigError("expertise has no in-memory table to write")
    path = Path(path)
    tab = pa.Table.from_pandas(exp.table, preserve_index=False)
    tab = tab.replace_schema_metadata({META_KEY: json.dumps(exp.meta).encode()})
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(tab, str(tmp))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_expertise(path: str | Path, *, columns: Sequence[str] | None = None) -> Expertise:
    """Read an expertise Parquet file and its metadata; errors name the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no such expertise file")
    try:
        pf = pq.ParquetFile(str(path))
    except (pa.ArrowInvalid, OSError) as exc:
        raise StoreError(f"{path}: not a readable Parquet file ({exc})") from None
    raw = (pf.schema_arrow.metadata or {}).get(META_KEY)
    if raw is None:
        raise StoreError(f"{path}: no babelscope metadata; not an expertise table")
    meta = json.loads(raw)
    if meta.get("format") != FORMAT:
        raise StoreError(f"{path}: metadata format {meta.get('format')!r} is not {FORMAT!r}")
    missing = [c for c in COLUMNS if c not in pf.schema_arrow.names]
    if missing:
        raise StoreError(f"{path}: expertise table lacks column(s) {missing}")
    table = pf.read(columns=list(columns) if columns else None).to_pandas()
    return Expertise(meta, table, path, {s: int(v["n_dropped"]) for s, v in meta.get("sites", {}).items()})
