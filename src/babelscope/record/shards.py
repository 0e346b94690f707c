"""Writing whole shards of a view's ``values`` directly, in Zarr v3's sharding format.

Why: at real size (SeamlessM4T v2 large, ~2 x 10^6 units per sample) zarr's write path spends about
250 ms of Python per chunk of 8 rows on its per-inner-chunk machinery, against ~60 ms for Blosc
itself; on the writer thread that Python holds the GIL that the model's ``generate`` needs between
its operations, and the recording ran 16 % slower than plain generation (docs/benchmarks.md). Here a
chunk of rows that covers whole shards is encoded with numcodecs' Blosc (the library zarr's own Blosc
codec calls; it compresses without the GIL) and each shard is written as one file: the inner chunks
one after another, then the shard index (per inner chunk its byte offset and length, little-endian
uint64, followed by the index's CRC-32C), the layout of the ``sharding_indexed`` codec with its index
at the end. The file is written to a temporary name and renamed into place, as zarr writes.

Only an array whose ``zarr.json`` states exactly the layout written here gets this path (see
:func:`expected_codecs`); any other array, or a write that does not cover whole shards, goes through
zarr. The tests check the files byte for byte against zarr's own encoding of the same rows and read
them back through zarr. One difference: an inner chunk with no value at all (every row missing) is
stored, compressed to a few dozen bytes, where zarr leaves it out; both read back as missing.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np

#: Blosc settings of ``values`` (babelscope.record.writer.values_codecs states the same for zarr)
BLOSC = dict(cname="lz4", clevel=5, shuffle="bitshuffle", blocksize=0)
_NO_CHUNK = np.uint64(2**64 - 1)


def expected_codecs(inner: tuple[int, int], itemsize: int) -> list[dict[str, Any]]:
    """The ``codecs`` entry of a ``values`` array's ``zarr.json`` that this module writes."""
    little = {"name": "bytes", "configuration": {"endian": "little"}}
    return [{"name": "sharding_indexed", "configuration": {
        "chunk_shape": list(inner),
        "codecs": [little, {"name": "blosc", "configuration": {"typesize": itemsize, **BLOSC}}],
        "index_codecs": [little, {"name": "crc32c"}],
        "index_location": "end"}}]


class ShardFileWriter:
    """Writes rows of one 2-D sharded ``values`` array (``[sample, unit]``), a shard file at a time."""

    def __init__(self, folder: Path, meta: dict[str, Any]) -> None:
        self.folder = folder
        self.shape = tuple(meta["shape"])
        self.dtype = np.dtype(meta["data_type"])
        self.shard = tuple(meta["chunk_grid"]["configuration"]["chunk_shape"])
        self.inner = tuple(meta["codecs"][0]["configuration"]["chunk_shape"])
        self.per_shard = self.shard[1] // self.inner[1]
        import numcodecs

        shuffle = getattr(numcodecs.Blosc, BLOSC["shuffle"].upper())
        self._blosc = numcodecs.Blosc(cname=BLOSC["cname"], clevel=BLOSC["clevel"], shuffle=shuffle,
                                      blocksize=BLOSC["blocksize"], typesize=self.dtype.itemsize)

    @classmethod
    def for_array(cls, folder: Path) -> "ShardFileWriter | None":
        """The writer of the array in ``folder``, or None if its metadata is not the layout written
        here (then zarr writes it)."""
        meta = json.loads((folder / "zarr.json").read_text())
        try:
            dtype = np.dtype(meta["data_type"])
            shard = meta["chunk_grid"]["configuration"]["chunk_shape"]
            inner = meta["codecs"][0]["configuration"]["chunk_shape"]
        except (KeyError, IndexError, TypeError):
            return None
        ok = (meta.get("zarr_format") == 3 and len(meta.get("shape", ())) == 2 and dtype.kind == "f"
              and meta["chunk_grid"].get("name") == "regular"
              and meta.get("chunk_key_encoding") == {"name": "default", "configuration": {"separator": "/"}}
              and meta.get("fill_value") == "NaN" and not meta.get("storage_transformers")
              and meta["codecs"] == expected_codecs(tuple(inner), dtype.itemsize)
              and shard[0] == inner[0] and shard[1] % inner[1] == 0)
        return cls(folder, meta) if ok else None

    def covers(self, start: int, rows: int) -> bool:
        """Whether rows ``start .. start+rows`` are whole shards (the last one may end at the array's end)."""
        r = self.shard[0]
        return start % r == 0 and (rows == r or (rows < r and start + rows == self.shape[0]))

    def write(self, start: int, data: np.ndarray) -> None:
        """Write rows ``start .. start + len(data)`` (all units), which must be whole shards
        (:meth:`covers`): a shard file is replaced whole, so writing part of one would lose the rest."""
        if data.shape[1:] != self.shape[1:] or data.dtype != self.dtype:
            raise ValueError(f"rows for {self.folder}: expected [*, {self.shape[1]}] {self.dtype}, "
                             f"got {list(data.shape)} {data.dtype}")
        if not self.covers(start, data.shape[0]):
            raise ValueError(f"rows for {self.folder}: expected whole shards of {self.shard[0]} rows "
                             f"(of {self.shape[0]}), got rows {start}..{start + data.shape[0]}")
        r, w = self.inner
        rows, units = data.shape
        pad = rows < r
        row_key = start // r
        for j, s0 in enumerate(range(0, units, self.shard[1])):
            parts: list[bytes] = []
            index = np.full((self.per_shard, 2), _NO_CHUNK, dtype="<u8")
            offset = 0
            for k in range(self.per_shard):
                c0 = s0 + k * w
                if c0 >= units:
                    break  # past the array's end: no chunk (as zarr leaves it)
                c1 = min(c0 + w, units)
                if pad or c1 - c0 < w:  # an edge chunk is stored whole, padded with the fill value
                    block = np.full((r, w), np.nan, dtype=self.dtype)
                    block[:rows, : c1 - c0] = data[:, c0:c1]
                else:
                    block = np.ascontiguousarray(data[:, c0:c1])
                enc = self._blosc.encode(block)
                parts.append(enc)
                index[k] = (offset, len(enc))
                offset += len(enc)
            _atomic_write(self.folder / "c" / str(row_key) / str(j), parts + [_index_bytes(index)])


def _index_bytes(index: np.ndarray) -> bytes:
    import google_crc32c

    raw = index.astype("<u8", copy=False).tobytes()
    return raw + np.uint32(google_crc32c.value(raw)).astype("<u4").tobytes()


def _atomic_write(path: Path, parts: list[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.partial")
    try:
        with open(tmp, "wb") as fh:
            for p in parts:
                fh.write(p)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
