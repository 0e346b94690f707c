"""In-memory activation stores that satisfy :class:`~babelscope.rank.source.ActivationSource`.

* :class:`ArrayStore` wraps numpy arrays (one per site and view): for tests, notebooks, and ranking
  responses computed elsewhere.
* :class:`SyntheticStore` generates responses lazily from a seeded generator, one fixed chunk of
  units at a time, so that stores of any width can be ranked without ever holding the full matrix
  (benchmarks of out-of-core ranking). The same (site, view, unit) always gets the same values.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from babelscope.errors import StoreError
from babelscope.vocab.sites import Site, site_stream


class _Base:
    _samples: pd.DataFrame
    _info: dict[str, dict[str, Any]]
    _views: dict[str, list[str]]
    _manifest: dict[str, Any]

    @property
    def sites(self) -> list[str]:
        return list(self._info)

    def views(self, site: str) -> list[str]:
        self._check(site)
        return list(self._views[site])

    def n_units(self, site: str) -> int:
        self._check(site)
        return int(self._info[site]["n_units"])

    def site(self, site: str) -> Site:
        self._check(site)
        info = self._info[site]
        component = str(info["component"])
        return Site(name=site, kind=str(info.get("kind", "linear")), component=component,
                    group=str(info.get("group", "other")), layer=int(info.get("layer", -1)),
                    channel_axis=int(info.get("channel_axis", -1)), n_units=int(info["n_units"]),
                    stream=str(info.get("stream") or site_stream(component, site)))

    @property
    def samples(self) -> pd.DataFrame:
        return self._samples

    @property
    def manifest(self) -> dict[str, Any]:
        return self._manifest

    def __repr__(self) -> str:
        views = sorted({v for vs in self._views.values() for v in vs})
        shown = ", ".join(views[:4]) + (f", ... ({len(views)})" if len(views) > 4 else "")
        return (f"{type(self).__name__}(model={self._manifest.get('model', {}).get('name')!r}, "
                f"samples={len(self._samples)}, sites={len(self._info)}, views=[{shown}])")

    def _check(self, site: str, view: str | None = None) -> None:
        if site not in self._info:
            raise StoreError(f"no site {site!r} in this store")
        if view is not None and view not in self._views[site]:
            raise StoreError(f"site {site!r} has no view {view!r} (views: {self._views[site]})")


class ArrayStore(_Base):
    """A store over in-memory arrays.

    ``arrays`` maps ``(site, view)`` to a (samples, units) array; ``info`` maps a site to its
    ``component``, ``group``, ``layer`` and ``kind``. A sample is invalid at a (site, view) when
    ``valid`` says so, or (when no mask is given) when its whole row is NaN. ``manifest`` (default: the
    model's name and the sample count) stands for a recorded store's manifest.
    """

    def __init__(self, samples: pd.DataFrame, arrays: Mapping[tuple[str, str], np.ndarray],
                 info: Mapping[str, Mapping[str, Any]], *,
                 valid: Mapping[tuple[str, str], np.ndarray] | None = None,
                 model: str = "in-memory", manifest: Mapping[str, Any] | None = None) -> None:
        self._samples = samples.reset_index(drop=True)
        self._arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self._valid = {k: np.asarray(v, dtype=bool) for k, v in (valid or {}).items()}
        self._views = {}
        units: dict[str, int] = {}
        for (site, view), arr in self._arrays.items():
            if arr.ndim != 2 or arr.shape[0] != len(self._samples):
                raise StoreError(f"array {site}/{view} has shape {arr.shape}; expected "
                                 f"({len(self._samples)}, units)")
            if units.setdefault(site, arr.shape[1]) != arr.shape[1]:
                raise StoreError(f"site {site!r}: views disagree on the number of units")
            self._views.setdefault(site, []).append(view)
        self._info = {}
        for site in self._views:
            if site not in info:
                raise StoreError(f"no site information (info) for site {site!r}")
            self._info[site] = {"name": site, "n_units": units[site], "component": "text_decoder",
                                "group": "other", "layer": -1, "kind": "linear", **dict(info[site])}
        self._manifest = dict(manifest) if manifest is not None else {"model": {"name": model},
                                                                       "n_samples": len(self._samples)}

    def responses(self, site: str, view: str, units: slice | None = None) -> np.ndarray:
        self._check(site, view)
        arr = self._arrays[(site, view)]
        return arr if units is None else arr[:, units]

    def valid(self, site: str, view: str) -> np.ndarray:
        self._check(site, view)
        if (site, view) in self._valid:
            return self._valid[(site, view)].copy()
        return ~np.isnan(self._arrays[(site, view)]).all(axis=1)


class SyntheticStore(_Base):
    """Lazily generated standard-normal responses (float32 or float16), NaN where invalid.

    ``sites`` maps a site name to ``(n_units, info)``; every site has the views in ``views``.
    ``invalid_share`` of the samples (chosen once, by seed) are invalid at every view except
    ``encoder``.
    """

    CHUNK = 256

    def __init__(self, samples: pd.DataFrame, sites: Mapping[str, tuple[int, Mapping[str, Any]]], *,
                 views: tuple[str, ...] = ("step=2/mean",), seed: int = 0, dtype: str = "float32",
                 invalid_share: float = 0.0, model: str = "synthetic") -> None:
        self._samples = samples.reset_index(drop=True)
        self._info = {s: {"name": s, "n_units": int(n), "component": "text_decoder", "group": "ffn",
                          "layer": -1, "kind": "linear", **dict(i)} for s, (n, i) in sites.items()}
        self._views = {s: list(views) for s in sites}
        self._seed = seed
        self._dtype = np.dtype(dtype)
        self._manifest = {"model": {"name": model}, "n_samples": len(self._samples)}
        rng = np.random.default_rng([seed, 1])
        self._invalid = rng.random(len(self._samples)) < invalid_share

    def _chunk(self, site: str, view: str, index: int) -> np.ndarray:
        site_i = self.sites.index(site)
        view_i = self._views[site].index(view)
        rng = np.random.default_rng([self._seed, site_i, view_i, index])
        width = min(self.CHUNK, self.n_units(site) - index * self.CHUNK)
        x = rng.standard_normal((len(self._samples), width), dtype=np.float32).astype(self._dtype)
        if view != "encoder":
            x[self._invalid] = np.nan
        return x

    def responses(self, site: str, view: str, units: slice | None = None) -> np.ndarray:
        self._check(site, view)
        start, stop, step = (units or slice(None)).indices(self.n_units(site))
        if step != 1:
            raise StoreError("SyntheticStore supports contiguous unit slices only")
        first, last = start // self.CHUNK, max(start, stop - 1) // self.CHUNK
        parts = [self._chunk(site, view, i) for i in range(first, last + 1)]
        block = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        off = first * self.CHUNK
        return np.ascontiguousarray(block[:, start - off:stop - off])

    def valid(self, site: str, view: str) -> np.ndarray:
        self._check(site, view)
        return np.ones(len(self._samples), bool) if view == "encoder" else ~self._invalid
