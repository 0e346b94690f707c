"""Writing the activation store: the arrays of ``responses.zarr`` (created once, in one batch of
concurrent requests) and chunks of rows into them. The layout is in :mod:`babelscope.record.store`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from babelscope.record.layout import ViewLayout
from babelscope.record.shards import BLOSC, ShardFileWriter
from babelscope.record.store import COORDS, RESPONSES


UNIT_CHUNK = 16384
#: largest shard of ``values`` (bytes): a shard is one file holding the chunks of a batch of rows
SHARD_BYTES = 64 << 20


def values_codecs(itemsize: int) -> dict[str, Any]:
    """Compression of ``values``: Blosc's LZ4 after a bit shuffle (the bits of every value's exponent
    side by side). Measured on a real-size store (float16, docs/benchmarks.md): as small as Zarr's
    default zstd within 5 % (NaN blocks of missing responses compress to nothing either way), and
    encoded 4-7 times faster (about 1.9 GB/s on one core against 250-550 MB/s), which is what the
    writer thread takes from the model while it generates."""
    from zarr.codecs import BloscCodec

    return {"compressors": BloscCodec(typesize=itemsize, **BLOSC)}


def values_chunking(rows: int, units: int, itemsize: int) -> dict[str, tuple[int, int]]:
    """Chunks and shards of a view's ``values``: chunks of ``rows`` x 16,384 units (what a reader
    decompresses to get a block of units), grouped into shards of one batch of rows x as many
    chunks as fit in 64 MB (what a writer writes: one file per batch and view rather than one per
    chunk; a real model's decoder view is ~40 chunks wide, and a study's store would otherwise be
    ~10^6 files). Whole shards are written by babelscope.record.shards, without zarr's per-inner-chunk
    work (at real size 350 ms of CPU per chunk of 8 rows with 16,384-unit chunks, 550 ms with 8,192,
    against 63 ms for the compression itself); a reader of a 4,096-unit block decompresses up to 4
    times what it needs, at LZ4's speed."""
    inner = max(1, min(units, UNIT_CHUNK))
    n_inner = -(-units // inner)
    per_shard = max(1, min(n_inner, SHARD_BYTES // max(1, rows * inner * itemsize)))
    return {"chunks": (rows, inner), "shards": (rows, inner * per_shard)}


class StoreWriter:
    """Creates the store's arrays and writes chunks of rows into them: ``values`` a shard file at a
    time where the rows are whole shards (babelscope.record.shards), the rest concurrently through
    zarr's asynchronous API (one event-loop round trip per chunk)."""

    def __init__(self, folder: Path, *, samples: pd.DataFrame, layout: dict[str, ViewLayout],
                 site_meta: dict[str, dict[str, Any]], chunk_rows: int, dtype: str) -> None:
        import zarr

        self.folder = folder
        self.dtype = np.dtype(dtype)
        path = folder / RESPONSES
        n = len(samples)
        # A new skeleton (coordinates and every view's arrays) is built under a temporary name and
        # renamed into place (babelscope.atomic): a run killed while building it leaves no half-made
        # skeleton that a resume would take as complete (e.g. a coordinate array never written).
        new = not (path / "zarr.json").exists()
        build = path
        if new:
            from babelscope.atomic import remove_stale_temps, temp_name

            remove_stale_temps(path)
            build = temp_name(path)
            for p in (build, path):
                if p.exists():
                    shutil.rmtree(p)
            root = zarr.open_group(str(build), mode="w", zarr_format=3)
            for c, col in COORDS.items():
                _write_1d(root, c, samples[col].astype(str).to_numpy(), "sample")
            root.attrs["babelscope"] = {"n_samples": n, "dtype": str(self.dtype)}
            # CF convention read by xarray: these root arrays are coordinates, not data variables
            root.attrs["coordinates"] = " ".join(c for c in COORDS if c != "sample")
        root = zarr.open_group(str(build), mode="r+", zarr_format=3)
        present = {k for k, _ in root.members(max_depth=None)}
        arrays: list[tuple[str, dict[str, Any], np.ndarray | None]] = []
        for view, lay in layout.items():
            if f"{view}/values" in present:
                continue
            root.require_group(view)
            arrays.append((f"{view}/values", dict(shape=(n, lay.total), dtype=self.dtype, fill_value=np.nan,
                                                  **values_chunking(chunk_rows, lay.total, self.dtype.itemsize),
                                                  **values_codecs(self.dtype.itemsize),
                                                  dimension_names=["sample", "unit"]), None))
            arrays.append((f"{view}/valid", dict(shape=(n, len(lay.sites)), dtype=bool, fill_value=False,
                                                 chunks=(chunk_rows, len(lay.sites)),
                                                 dimension_names=["sample", "site"]), None))
            coords = unit_coordinates(lay, site_meta)
            for name, (vals, dim) in coords.items():
                arrays.append((f"{view}/{name}", _spec_1d(vals, dim), vals))
            root[view].attrs["coordinates"] = " ".join(coords)
        if arrays:
            _run(_create_arrays(root, arrays))
        if new:
            os.replace(build, path)
        self._attach(path, layout)

    def _attach(self, path: Path, views: Iterable[str]) -> None:
        import zarr

        root = zarr.open_group(str(path), mode="r+", zarr_format=3)
        self.values = {v: root[f"{v}/values"] for v in views}
        self.valid = {v: root[f"{v}/valid"] for v in views}
        # whole shards of values are written directly (babelscope.record.shards), the rest by zarr
        self.shards = {v: ShardFileWriter.for_array(path / v / "values") for v in self.values}

    @classmethod
    def open(cls, folder: Path, views: Iterable[str], dtype: str) -> "StoreWriter":
        """A writer over the arrays of a store set up elsewhere (another process of a Ray run)."""
        self = cls.__new__(cls)
        self.folder, self.dtype = folder, np.dtype(dtype)
        self._attach(folder / RESPONSES, list(views))
        return self

    def write_rows(self, start: int, values: dict[str, np.ndarray], valid: dict[str, np.ndarray]) -> None:
        jobs = []
        for view, arr in values.items():
            arr = np.ascontiguousarray(arr, dtype=self.dtype)
            fast = self.shards[view]
            if fast is not None and fast.covers(start, arr.shape[0]):
                fast.write(start, arr)
            else:
                jobs.append(self.values[view].async_array.setitem(slice(start, start + arr.shape[0]), arr))
            jobs.append(self.valid[view].async_array.setitem(slice(start, start + arr.shape[0]), valid[view]))
        _run(_gather(jobs))


def unit_coordinates(lay: ViewLayout, site_meta: dict[str, dict[str, Any]]) -> dict[str, tuple[np.ndarray, str]]:
    """The coordinate arrays of one view: per site its name and properties (strings: a few thousand),
    per unit only integers (a real model's decoder view has ~10^6 units; string coordinates at that
    length took seconds to encode per view, the recorder's whole fixed cost)."""
    meta = [site_meta[s] for s in lay.sites]
    units = np.asarray(lay.units, dtype=np.int64)
    return {
        "site": (np.array(lay.sites, dtype=str), "site"),
        "site_component": (np.array([m["component"] for m in meta], dtype=str), "site"),
        "site_layer": (np.array([m["layer"] for m in meta], dtype=np.int32), "site"),
        "site_kind": (np.array([m["kind"] for m in meta], dtype=str), "site"),
        "site_group": (np.array([m["group"] for m in meta], dtype=str), "site"),
        "site_offset": (np.asarray(lay.offsets, dtype=np.int64), "site"),
        "site_units": (units.astype(np.int32), "site"),
        "unit_site_index": (np.repeat(np.arange(len(lay.sites), dtype=np.int32), units), "unit"),
        "unit_index": ((np.arange(int(units.sum()), dtype=np.int64)
                        - np.repeat(np.asarray(lay.offsets, dtype=np.int64), units)).astype(np.int32), "unit"),
        "unit_layer": (np.repeat(np.array([m["layer"] for m in meta], dtype=np.int32), units), "unit"),
    }


def _spec_1d(values: np.ndarray, dim: str) -> dict[str, Any]:
    dtype = str if values.dtype.kind in "UO" else values.dtype
    return dict(shape=values.shape, dtype=dtype, chunks=(max(len(values), 1),), dimension_names=[dim],
                fill_value="" if dtype is str else 0)


def _write_1d(group, name: str, values: np.ndarray, dim: str) -> None:
    a = group.create_array(name, overwrite=True, **_spec_1d(values, dim))
    a[:] = values


async def _create_arrays(root, arrays: list[tuple[str, dict[str, Any], np.ndarray | None]]) -> None:
    """Create arrays (and fill the small coordinate ones) concurrently."""
    import asyncio

    g = root._async_group

    async def one(name: str, spec: dict[str, Any], values: np.ndarray | None) -> None:
        a = await g.create_array(name=name, overwrite=True, **spec)
        if values is not None:
            await a.setitem(slice(None), values)

    await asyncio.gather(*[one(*a) for a in arrays])


async def _gather(jobs) -> None:
    import asyncio

    await asyncio.gather(*jobs)


def _run(coro):
    from zarr.core.sync import sync

    return sync(coro)
