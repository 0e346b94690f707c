"""Equality of babelscope artifacts, for the crash and determinism tests: stores bit for bit (every
zarr array, coordinates included), expertise tables, intervention results folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def zarr_arrays(store: Path) -> dict[str, np.ndarray]:
    import zarr

    root = zarr.open_group(str(store / "responses.zarr"), mode="r", zarr_format=3)
    return {k: np.asarray(v[...]) for k, v in root.members(max_depth=None) if isinstance(v, zarr.Array)}


def assert_store_equal(ref: Path, got: Path) -> None:
    from babelscope.record import open_activations

    a, b = open_activations(ref), open_activations(got)
    assert a.sites == b.sites
    for site in a.sites:
        for view in a.views(site):
            assert a.responses(site, view).tobytes() == b.responses(site, view).tobytes(), (site, view)
            np.testing.assert_array_equal(a.valid(site, view), b.valid(site, view))
    # every array of the store (coordinates included), bit for bit
    za, zb = zarr_arrays(ref), zarr_arrays(got)
    assert sorted(za) == sorted(zb)
    for k in za:
        assert za[k].dtype == zb[k].dtype and za[k].tobytes() == zb[k].tobytes(), k
    pd.testing.assert_frame_equal(a.samples, b.samples)  # generated tokens and text included
    assert a.manifest == b.manifest


def assert_expertise_equal(ref: Path, got: Path) -> None:
    from babelscope.rank import read_expertise

    a, b = read_expertise(ref), read_expertise(got)
    assert a.meta == b.meta
    pd.testing.assert_frame_equal(a.table, b.table)


def _summary(folder: Path) -> dict:
    s = json.loads((folder / "summary.json").read_text())
    s.pop("seconds", None)  # wall time
    return s


def assert_results_equal(ref: Path, got: Path) -> None:
    assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in ref.iterdir())
    pd.testing.assert_frame_equal(pd.read_parquet(ref / "results.parquet"), pd.read_parquet(got / "results.parquet"))
    assert _summary(ref) == _summary(got)
    assert json.loads((ref / "forcing.json").read_text()) == json.loads((got / "forcing.json").read_text())


def temporaries(folder: Path) -> list[Path]:
    """babelscope's temporaries (``.NAME.tmp-PID``, ``.NAME.old-PID``) under ``folder``."""
    return [p for p in folder.rglob(".*") if ".tmp-" in p.name or ".old-" in p.name]
