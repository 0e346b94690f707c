"""The activation store (DESIGN.md "Activations").

Layout of a store folder::

    STORE/
      record.json        settings of the run (written first; a resume must match it)
      responses.zarr/    Zarr v3 group. Root coordinates over dimension ``sample``: ``sample`` (the
                         sample id, the index), task, src_lang, tgt_lang, modality, group, corpus_id
        <view>/values    float [sample, unit]: every site of the view side by side (layout.py);
                         views: ``encoder``, ``step=S/mean``, ``step=S/last``
        <view>/valid     bool  [sample, site]: False where the sample has no response
        <view>/site, site_component, site_layer, site_kind, site_group, site_offset, site_units   [site]
                         (``site`` names the columns of ``valid``; a site's units are the columns
                         ``site_offset`` ... ``site_offset + site_units`` of ``values``)
        <view>/unit_site_index (position of the unit's site in ``site``), unit_index (within the
                         site), unit_layer   [unit]
      chunks/chunk-NNNNNN.json   completion record of each chunk of samples (+ its generated text)
      samples.parquet    one row per sample: ids, task, languages, modality, generated tokens and text
      manifest.json      written last: model, settings, sites, layout, counts -> the store is complete

Rows of samples with no response (a speech sample at a text-encoder site, or a sequence that ended
before step S) are NaN and flagged False in ``valid``. With xarray alone::

    tree = xarray.open_datatree("STORE/responses.zarr", engine="zarr")
    ds = tree["step=2/mean"].to_dataset().assign_coords(tree.ds.coords)
    i = ds.site.values.tolist().index("text_decoder.layers.0.ffn.fc1")
    fc1 = ds["values"].where(ds.unit_site_index == i, drop=True)
    fc1.where(fc1.src_lang == "deu", drop=True)              # dims (sample, unit)

(DataTree nodes inherit only the index ``sample``; ``assign_coords`` adds language, task, modality.)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from babelscope.errors import StoreError
from babelscope.record.layout import ViewLayout
from babelscope.vocab.sites import Site

RESPONSES = "responses.zarr"
MANIFEST = "manifest.json"
SETTINGS = "record.json"
SAMPLES = "samples.parquet"
CHUNKS = "chunks"
#: per-sample coordinates at the root; ``sample`` (the sample id) is the index of dimension ``sample``
COORDS = {"sample": "sample_id", "task": "task", "src_lang": "src_lang", "tgt_lang": "tgt_lang",
          "modality": "modality", "group": "group", "corpus_id": "corpus_id"}


def _read_error(exc: Exception) -> str:
    """What went wrong reading a chunk, in one line (zarr's checksum message quotes raw bytes: left out)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    if "checksum do not match" in text:
        text = text.split(". Stored:")[0]
    return f"{type(exc).__name__}: {text}"


def local_path(path: str | Path) -> Path:
    """A store location as a local path: a path, or a ``file://`` URL (``file:///data/store``).

    Stores live on a local or shared POSIX filesystem (NFS, Lustre, a FUSE mount of a bucket): the
    store's side files are renamed atomically and listed, which object stores do not offer. Other
    URL schemes (``s3://``, ``gs://``, ...) are refused with a message naming the alternative.
    """
    import re
    from urllib.parse import unquote, urlparse

    text = os.fspath(path)
    # a scheme of two letters at least ("C:" is a drive) followed by "/" (pathlib turns "s3://b" into "s3:/b")
    m = re.match(r"^([A-Za-z][A-Za-z0-9+.-]+):/", text)
    if m is None:
        return Path(text)
    scheme = m.group(1).lower()
    if scheme == "file":
        url = urlparse(text)
        if url.netloc not in ("", "localhost"):
            raise StoreError(f"{text}: a file:// URL must name a local path (file:///path), not host "
                             f"{url.netloc!r}")
        return Path(unquote(url.path))
    raise StoreError(f"{text}: {scheme}:// stores are not supported; the store needs a POSIX filesystem "
                     "(atomic renames). Use a local or shared path (NFS, Lustre), or mount the bucket "
                     "(e.g. s3fs, gcsfuse) and pass the mount path; see docs/scale.md")


class Activations:
    """Read access to a complete store: ``babelscope.open_activations(path)``."""

    def __init__(self, folder: str | Path) -> None:
        import zarr

        self.folder = local_path(folder)
        man = self.folder / MANIFEST
        if not man.is_file():
            if (self.folder / SETTINGS).is_file():
                raise StoreError(f"{self.folder}: the store is incomplete (recording was interrupted); run the "
                                 "same `babelscope record` command again to resume it")
            raise StoreError(f"{self.folder}: not an activation store (no {MANIFEST})")
        try:
            self.manifest: dict[str, Any] = json.loads(man.read_text(encoding="utf-8"))
            for key in ("sites", "layout", "n_samples", "missing"):
                self.manifest[key]
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"{man}: damaged ({type(exc).__name__}: {exc}); the store cannot be trusted: "
                             "record it again (--overwrite)") from None
        if not (self.folder / SAMPLES).is_file():
            raise StoreError(f"{self.folder / SAMPLES}: missing from a complete store; record it again (--overwrite)")
        try:
            self._root = zarr.open_group(str(self.folder / RESPONSES), mode="r", zarr_format=3)
        except Exception as exc:  # noqa: BLE001 - any failure to open is a damaged store, named
            raise StoreError(f"{self.folder / RESPONSES}: cannot be opened ({type(exc).__name__}: {exc})") from None
        self._sites = {s["name"]: s for s in self.manifest["sites"]}
        self._views = {s["name"]: list(s["views"]) for s in self.manifest["sites"]}
        self.layout = {v: ViewLayout.from_dict(v, d) for v, d in self.manifest["layout"].items()}
        self._samples: pd.DataFrame | None = None
        self._check_masks()

    def _check_masks(self) -> None:
        """Each view's ``valid`` mask must give the manifest's missing counts, and its ``values`` must
        have the chunk files that were written: a deleted chunk of a mask would otherwise read as "no
        response" and silently drop samples, one of the values as NaN responses of valid samples."""
        for view, lay in self.layout.items():
            want = self.manifest["missing"].get(view, {})
            arr = self._root[f"{view}/valid"]
            valid = self._read(f"{view}/valid", lambda: arr[:])
            got = (~valid).sum(0) if valid.size else np.zeros(len(lay.sites), dtype=int)
            bad = [s for s, c in zip(lay.sites, got) if int(c) != int(want.get(s, -1))]
            if bad:
                raise StoreError(f"{self.folder / RESPONSES}/{view}/valid: the missing-response counts of "
                                 f"{len(bad)} site(s) (e.g. {bad[0]!r}) differ from manifest.json: the store is "
                                 "damaged (a chunk file deleted or replaced?); record it again (--overwrite)")
        # stores written before this count was kept have none (their valid masks are still checked)
        for view, want in self.manifest.get("stored_chunks", {}).items():
            got = self._read(f"{view}/values", lambda: self._root[f"{view}/values"].nchunks_initialized)
            if int(got) != int(want):
                raise StoreError(f"{self.folder / RESPONSES}/{view}/values: {int(got)} chunk file(s) on disk, but "
                                 f"{want} were written: the store is damaged (a chunk file deleted?); record it "
                                 "again (--overwrite)")

    def _read(self, what: str, read) -> np.ndarray:
        """``read()`` as an array; a truncated or corrupt chunk file is a named :class:`StoreError`."""
        try:
            return np.asarray(read())
        except Exception as exc:  # noqa: BLE001 - a truncated or corrupt chunk file: named, not a traceback
            raise StoreError(f"{self.folder / RESPONSES}/{what}: cannot be read ({_read_error(exc)}); "
                             "the store is damaged: record it again (--overwrite)") from None

    @property
    def sites(self) -> list[str]:
        return list(self._sites)

    def views(self, site: str) -> list[str]:
        self._check(site)
        return list(self._views[site])

    def n_units(self, site: str) -> int:
        self._check(site)
        return int(self._sites[site]["n_units"])

    def site(self, site: str) -> Site:
        """The :class:`~babelscope.vocab.sites.Site` record of a stored site."""
        self._check(site)
        return Site.from_dict(self._sites[site])

    @property
    def n_samples(self) -> int:
        return int(self.manifest["n_samples"])

    @property
    def samples(self) -> pd.DataFrame:
        if self._samples is None:
            try:
                self._samples = pd.read_parquet(self.folder / SAMPLES)
            except Exception as exc:  # noqa: BLE001 - a damaged table: named
                raise StoreError(f"{self.folder / SAMPLES}: cannot be read ({type(exc).__name__}: {exc}); "
                                 "record the store again (--overwrite)") from None
        return self._samples

    def responses(self, site: str, view: str, units: slice | Iterable[int] | None = None,
                  samples: slice | np.ndarray | None = None) -> np.ndarray:
        """``[sample, unit]`` responses of one site (NaN rows where missing) in the store's dtype.

        ``units`` selects units of the site (a slice or indices, relative to the site); ``samples``
        selects rows (a slice, indices or a boolean mask).
        """
        self._check(site, view)
        _, off, n = self.layout[view].span(site)
        arr = self._root[f"{view}/values"]
        if units is None:
            cols: slice | np.ndarray = slice(off, off + n)
        elif isinstance(units, slice):
            start, stop, step = units.indices(n)
            cols = slice(off + start, off + stop, step)
        else:
            idx = np.asarray(list(units), dtype=np.int64)
            if idx.size and (idx.min() < 0 or idx.max() >= n):
                raise StoreError(f"units out of range for site {site!r} ({n} units)")
            cols = idx + off
        rows = slice(None) if samples is None else samples
        if isinstance(rows, np.ndarray) and rows.dtype == bool:
            rows = np.flatnonzero(rows)
        if isinstance(rows, slice) and isinstance(cols, slice) and cols.step in (None, 1):
            return self._read(f"{view}/values", lambda: arr[rows, cols])
        return self._read(f"{view}/values", lambda: arr.oindex[rows, cols])

    def read_sites(self, sites: Sequence[str], view: str) -> dict[str, np.ndarray]:
        """Every response of several sites at one view (``{site: [sample, unit]}``), read in one
        call over the column range that holds them: sites share the view's chunks, so reading them
        one by one would decompress each chunk once per site."""
        for site in sites:
            self._check(site, view)
        if not sites:
            return {}
        spans = {site: self.layout[view].span(site)[1:] for site in sites}
        lo = min(off for off, _ in spans.values())
        hi = max(off + n for off, n in spans.values())
        arr = self._root[f"{view}/values"]
        block = self._read(f"{view}/values", lambda: arr[:, lo:hi])
        return {site: block[:, off - lo:off - lo + n] for site, (off, n) in spans.items()}

    def to_xarray(self, site: str, view: str):
        """One (site, view) as an ``xarray.DataArray`` with every sample coordinate attached."""
        import xarray as xr

        df = self.samples
        coords = {"sample": df["sample_id"].to_numpy()}
        for c, col in COORDS.items():
            if c != "sample":
                coords[c] = ("sample", df[col].astype(str).to_numpy())
        coords["unit"] = np.arange(self.n_units(site))
        return xr.DataArray(self.responses(site, view), dims=("sample", "unit"), coords=coords,
                            name=f"{site}/{view}", attrs={"site": site, "view": view})

    def valid(self, site: str, view: str) -> np.ndarray:
        """Boolean ``[sample]``: False where the sample has no response at this site and view."""
        self._check(site, view)
        i, _, _ = self.layout[view].span(site)
        arr = self._root[f"{view}/valid"]
        return self._read(f"{view}/valid", lambda: arr[:, i])

    def view_arrays(self, view: str):
        """The Zarr arrays ``(values [sample, unit], valid [sample, site])`` of one whole view (all its
        sites side by side, see ``self.layout[view]``), unread: slice them to read."""
        if view not in self.layout:
            raise StoreError(f"{self.folder}: no view {view!r} (views: {sorted(self.layout)})")
        return self._root[f"{view}/values"], self._root[f"{view}/valid"]

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
