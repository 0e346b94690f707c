"""The direct shard writer (babelscope.record.shards) against zarr's own encoding of the same rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from babelscope.record.shards import ShardFileWriter
from babelscope.record.writer import values_chunking, values_codecs


def _make(path: Path, n: int, units: int, rows: int, dtype: str):
    return zarr.create_array(str(path), shape=(n, units), dtype=dtype, fill_value=np.nan,
                             **values_chunking(rows, units, np.dtype(dtype).itemsize),
                             **values_codecs(np.dtype(dtype).itemsize))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "c").rglob("*")) if p.is_file()}


@pytest.mark.parametrize("dtype", ["float16", "float32"])
@pytest.mark.parametrize("units", [16384 * 3, 16384 * 2 + 5000, 700])
def test_shards_equal_zarrs_bytes(tmp_path, monkeypatch, dtype, units):
    # small shards so that an array spans several, the last one partial
    monkeypatch.setattr("babelscope.record.writer.SHARD_BYTES", 8 * 16384 * np.dtype(dtype).itemsize * 2)
    n, rows = 21, 8  # the last chunk of rows is partial (5 rows)
    rng = np.random.default_rng(0)
    # activation-like data: smooth per unit, so that compression has something to do
    data = (rng.standard_normal(units) + 0.1 * rng.standard_normal((n, units))).astype(dtype)
    data[3, 100:200] = np.nan  # a missing response inside a chunk
    ref = _make(tmp_path / "ref", n, units, rows, dtype)
    _make(tmp_path / "ours", n, units, rows, dtype)
    writer = ShardFileWriter.for_array(tmp_path / "ours")
    assert writer is not None
    for start in range(0, n, rows):
        block = data[start:start + rows]
        ref[start:start + len(block)] = block
        assert writer.covers(start, len(block))
        writer.write(start, np.ascontiguousarray(block))
    assert _files(tmp_path / "ours") == _files(tmp_path / "ref")
    assert len(_files(tmp_path / "ref")) > (3 if units > 16384 * 2 else 2)
    got = zarr.open_array(str(tmp_path / "ours"), mode="r")[:]
    np.testing.assert_array_equal(got, data)  # NaN where NaN


def test_partial_writes_and_other_layouts_are_left_to_zarr(tmp_path):
    _make(tmp_path / "a", 20, 1000, 8, "float16")
    w = ShardFileWriter.for_array(tmp_path / "a")
    assert w.covers(0, 8) and w.covers(16, 4)
    assert not w.covers(4, 8) and not w.covers(0, 4) and not w.covers(8, 16)
    # an array compressed otherwise (zarr's default zstd) is not written here
    zarr.create_array(str(tmp_path / "b"), shape=(20, 1000), dtype="float16", chunks=(8, 1000), fill_value=np.nan)
    assert ShardFileWriter.for_array(tmp_path / "b") is None
    with pytest.raises(ValueError, match=r"expected \[\*, 1000\] float16, got \[8, 999\] float16"):
        w.write(0, np.zeros((8, 999), dtype="float16"))
    with pytest.raises(ValueError, match=r"expected whole shards of 8 rows \(of 20\), got rows 4\.\.12"):
        w.write(4, np.zeros((8, 1000), dtype="float16"))


def test_missing_rows_read_back_as_missing(tmp_path):
    _make(tmp_path / "a", 16, 1000, 8, "float16")
    w = ShardFileWriter.for_array(tmp_path / "a")
    data = np.arange(8 * 1000, dtype="float16").reshape(8, 1000)
    w.write(0, np.full((8, 1000), np.nan, dtype="float16"))  # a chunk of rows with no response at all
    w.write(8, data)
    got = zarr.open_array(str(tmp_path / "a"), mode="r")[:]
    assert np.isnan(got[:8]).all()
    np.testing.assert_array_equal(got[8:], data)
