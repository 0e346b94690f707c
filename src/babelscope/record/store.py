"""The activation store (DESIGN.md "Activations").

Layout of a store folder::

    STORE/
      record.json        settings of the run (written first; a resume must match it)
      responses.zarr/    Zarr v3 group; root coordinates over dimension ``sample``
                         (sample_id, task, src_lang, tgt_lang, modality, group)
        <site>/encoder             float [sample, unit]  (encoder-stream sites)
        <site>/valid_encoder       bool  [sample]
        <site>/step=S/mean         float [sample, unit]  (decoder-stream sites)
        <site>/step=S/last         float [sample, unit]
        <site>/step=S/valid        bool  [sample]
      chunks/chunk-NNNNNN.json   completion record of each chunk of samples (+ its generated text)
      samples.parquet    one row per sample: ids, task, languages, modality, generated tokens and text
      manifest.json      written last: model, settings, counts, package version -> the store is complete

Rows of samples with no response (a speech sample at a text-encoder site, or a sequence that ended
before step S) are NaN and flagged False in the matching ``valid`` array. With xarray::

    tree = xarray.open_datatree("STORE/responses.zarr", engine="zarr")
    tree["text_decoder.layers.0.ffn.fc1/step=2"]["mean"]   # dims (sample, unit), coords inherited
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from babelscope.errors import StoreError

RESPONSES = "responses.zarr"
MANIFEST = "manifest.json"
SETTINGS = "record.json"
SAMPLES = "samples.parquet"
CHUNKS = "chunks"
COORDS = ("sample_id", "task", "src_lang", "tgt_lang", "modality", "group")


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def array_path(site: str, view: str) -> str:
    return f"{site}/{view}"


def valid_path(site: str, view: str) -> str:
    return f"{site}/valid_encoder" if view == "encoder" else f"{site}/{view.split('/')[0]}/valid"


class StoreWriter:
    """Creates the arrays of a new store and writes chunks of rows into them."""

    def __init__(self, folder: Path, *, samples: pd.DataFrame, arrays: dict[str, int], chunk_rows: int,
                 dtype: str) -> None:
        import zarr

        self.folder = folder
        self.chunk_rows = chunk_rows
        self.dtype = np.dtype(dtype)
        path = folder / RESPONSES
        n = len(samples)
        if not (path / "zarr.json").exists():
            root = zarr.open_group(str(path), mode="w", zarr_format=3)
            for c in COORDS:
                vals = samples[c].astype(str).to_numpy()
                a = root.create_array(c, shape=(n,), dtype=str, chunks=(max(n, 1),),
                                      dimension_names=["sample"], fill_value="")
                a[:] = vals
            root.attrs["babelscope"] = {"n_samples": n, "dtype": str(self.dtype)}
        root = zarr.open_group(str(path), mode="r+", zarr_format=3)
        self.arrays: dict[str, Any] = {}
        self.valid: dict[str, Any] = {}
        for key, units in arrays.items():
            site, view = key.split("/", 1)
            if key not in root:
                root.create_array(key, shape=(n, units), dtype=self.dtype, chunks=(chunk_rows, units),
                                  fill_value=np.nan, dimension_names=["sample", "unit"])
            self.arrays[key] = root[key]
            vkey = valid_path(site, view)
            if vkey not in self.valid:
                if vkey not in root:
                    root.create_array(vkey, shape=(n,), dtype=bool, chunks=(chunk_rows,), fill_value=False,
                                      dimension_names=["sample"])
                self.valid[vkey] = root[vkey]

    def write_rows(self, start: int, values: dict[str, np.ndarray], valid: dict[str, np.ndarray]) -> None:
        for key, arr in values.items():
            self.arrays[key][start:start + arr.shape[0]] = arr.astype(self.dtype, copy=False)
        for key, v in valid.items():
            self.valid[key][start:start + v.shape[0]] = v


class Activations:
    """Read access to a complete store: ``babelscope.open_activations(path)``."""

    def __init__(self, folder: str | Path) -> None:
        import zarr

        self.folder = Path(folder)
        man = self.folder / MANIFEST
        if not man.is_file():
            if (self.folder / SETTINGS).is_file():
                raise StoreError(f"{self.folder}: the store is incomplete (recording was interrupted); run the "
                                 "same `babelscope record` command again to resume it")
            raise StoreError(f"{self.folder}: not an activation store (no {MANIFEST})")
        self.manifest: dict[str, Any] = json.loads(man.read_text())
        self._root = zarr.open_group(str(self.folder / RESPONSES), mode="r", zarr_format=3)
        self._sites = {s["name"]: s for s in self.manifest["sites"]}
        self._views = {s["name"]: list(s["views"]) for s in self.manifest["sites"]}
        self._samples: pd.DataFrame | None = None

    @property
    def sites(self) -> list[str]:
        return list(self._sites)

    def views(self, site: str) -> list[str]:
        self._check(site)
        return list(self._views[site])

    def n_units(self, site: str) -> int:
        self._check(site)
        return int(self._sites[site]["n_units"])

    def site_info(self, site: str) -> dict[str, Any]:
        self._check(site)
        return dict(self._sites[site])

    @property
    def n_samples(self) -> int:
        return int(self.manifest["n_samples"])

    @property
    def samples(self) -> pd.DataFrame:
        if self._samples is None:
            self._samples = pd.read_parquet(self.folder / SAMPLES)
        return self._samples

    def responses(self, site: str, view: str, units: slice | Iterable[int] | None = None,
                  samples: slice | np.ndarray | None = None) -> np.ndarray:
        """``[sample, unit]`` responses (NaN rows where missing) in the store's dtype."""
        self._check(site, view)
        arr = self._root[array_path(site, view)]
        rows = slice(None) if samples is None else samples
        cols = slice(None) if units is None else units
        if isinstance(cols, slice) and isinstance(rows, slice):
            return np.asarray(arr[rows, cols])
        data = np.asarray(arr[rows, :]) if isinstance(rows, slice) else np.asarray(arr.oindex[rows, :])
        return data[:, cols] if not isinstance(cols, slice) else data[:, cols]

    def valid(self, site: str, view: str) -> np.ndarray:
        """Boolean ``[sample]``: False where the sample has no response at this site and view."""
        self._check(site, view)
        return np.asarray(self._root[valid_path(site, view)][:])

    def _check(self, site: str, view: str | None = None) -> None:
        if site not in self._sites:
            raise StoreError(f"{self.folder}: no site {site!r} in this store (it has {len(self._sites)} sites, "
                             f"e.g. {next(iter(self._sites), '-')!r})")
        if view is not None and view not in self._views[site]:
            raise StoreError(f"{self.folder}: site {site!r} has no view {view!r} (views: {self._views[site]})")

    def __repr__(self) -> str:
        return (f"Activations({str(self.folder)!r}, model={self.manifest['model']['name']!r}, "
                f"samples={self.n_samples}, sites={len(self._sites)})")


def open_activations(path: str | Path) -> Activations:
    return Activations(path)
