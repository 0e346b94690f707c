"""Writing a real-size store's ``values``: the direct shard writer against zarr (the baseline).

The rows of the 48-sample issue-16 run of ``large-random-seamless``: six chunks of 8 rows into the
7 views (1,460,384 encoder units, 641,024 in each of six decoder views), float16, activation-like
data (a value per unit plus small per-row noise), in the store's chunking and compression. Each
writer fills its own fresh arrays; printed: wall and CPU seconds of each, and zarr / direct.

    python benchmarks/bench_store_write.py [--chunks 6] [--rows 8]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import zarr

from babelscope.record.shards import ShardFileWriter
from babelscope.record.writer import values_chunking, values_codecs

VIEWS = {"encoder": 1_460_384, **{f"decoder-{i}": 641_024 for i in range(6)}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chunks", type=int, default=6)
    ap.add_argument("--rows", type=int, default=8)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    data = {u: (rng.standard_normal(u) + 0.1 * rng.standard_normal((a.rows, u))).astype(np.float16)
            for u in set(VIEWS.values())}
    n = a.chunks * a.rows
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("zarr", "direct"):
            root = Path(tmp) / mode
            arrays = {v: zarr.create_array(str(root / v), shape=(n, u), dtype="float16", fill_value=np.nan,
                                           **values_chunking(a.rows, u, 2), **values_codecs(2))
                      for v, u in VIEWS.items()}
            direct = {v: ShardFileWriter.for_array(root / v) for v in VIEWS}
            wall, cpu = time.perf_counter(), time.process_time()
            for k in range(a.chunks):
                for v, u in VIEWS.items():
                    if mode == "zarr":
                        arrays[v][k * a.rows:(k + 1) * a.rows] = data[u]
                    else:
                        direct[v].write(k * a.rows, data[u])
            times[mode] = (time.perf_counter() - wall, time.process_time() - cpu)
            np.testing.assert_array_equal(arrays["encoder"][-a.rows:], data[VIEWS["encoder"]])
            shutil.rmtree(root)
    print(f"{a.chunks} chunks of {a.rows} rows, {len(VIEWS)} views ({sum(VIEWS.values()):,} units per row), float16")
    for mode, (w, c) in times.items():
        print(f"{mode:7s} wall {w:6.2f} s   CPU {c:6.2f} s")
    print(f"zarr / direct: wall {times['zarr'][0] / times['direct'][0]:.1f} x, "
          f"CPU {times['zarr'][1] / times['direct'][1]:.1f} x")


if __name__ == "__main__":
    main()
