"""Peak memory of recording and ranking as the work doubles (issue 7, DESIGN "Scale").

  record   babelscope.record of the tiny built-in model (every site, steps 2/7/12, both decoder views)
           over N, 2N, 4N, 8N samples of a synthetic corpus (text and tone "speech", as in the tests),
           each in a fresh subprocess. Goal: the peak RSS does not grow with the number of samples,
           while the store written grows linearly.
  rank     rank_store over a lazily generated store (babelscope.rank.SyntheticStore, as in
           bench_ap.py) of U, 2U, 4U, 8U units at a fixed block size, each in a fresh subprocess,
           streaming to Parquet. Goal: the peak RSS does not grow with the number of units.

Peak RSS is the child process's VmHWM (/proc/self/status), which, unlike ru_maxrss, restarts at
exec. Usage:

    python benchmarks/bench_memory.py                       # record 64..512 samples, rank 25k..200k units
    python benchmarks/bench_memory.py --samples 128 --units 50000 --doublings 3
    python benchmarks/bench_memory.py --skip-rank           # or --skip-record
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE))

STEPS = (2, 7, 12)


def _vm(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def record_child(args: argparse.Namespace) -> None:
    """Record ``args.record_child`` samples (the corpus's samples repeated under new ids)."""
    import torch

    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.models import load_model
    from babelscope.record import RecordSettings, record

    torch.manual_seed(0)
    base = build_task_samples(read_manifest(args.corpus), ["t2t", "s2t"])
    n = args.record_child
    samples = [dataclasses.replace(base[i % len(base)], sample_id=f"{base[i % len(base)].sample_id}#{i // len(base)}")
               for i in range(n)]
    samples.sort(key=lambda s: s.modality)  # homogeneous batches, as a real corpus's task order gives
    adapter = load_model("tiny-random-seamless")
    settings = RecordSettings(steps=STEPS, sites=("*",), batch_size=args.batch_size, max_new_tokens=16,
                              dtype="float32")
    rss0 = _vm("VmHWM")
    out = Path(args.out)
    t0 = time.perf_counter()
    store = record(adapter, samples, out, settings, progress=False)
    secs = time.perf_counter() - t0
    units = sum(s["n_units"] for s in store.manifest["sites"])
    print(json.dumps({"samples": n, "peak_rss_mb": _vm("VmHWM"), "rss_before_mb": rss0, "seconds": secs,
                      "store_mb": _dir_mb(out), "units": units,
                      "values_per_sample": sum(lay.total for lay in store.layout.values())}))


def run_record(args: argparse.Namespace, corpus: Path, work: Path, n: int) -> dict:
    out = work / f"store-{n}"
    cmd = [sys.executable, __file__, "--record-child", str(n), "--corpus", str(corpus), "--out", str(out),
           "--batch-size", str(args.batch_size)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(res.strip().splitlines()[-1])


def run_rank(args: argparse.Namespace, units: int) -> dict:
    import bench_ap

    ns = argparse.Namespace(samples=args.rank_samples, labels=6, block_units=args.block_units, seed=0)
    return bench_ap.run_memory(ns, units)


def _growth(rows: list[dict], key: str = "peak_rss_mb") -> str:
    first, last = rows[0][key], rows[-1][key]
    return f"{last - first:+.1f} MB ({(last / first - 1) * 100:+.1f} %)"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=64, help="N: the smallest recording (then 2N, 4N, ...)")
    p.add_argument("--units", type=int, default=25000, help="U: the narrowest ranked store (then 2U, 4U, ...)")
    p.add_argument("--doublings", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--rank-samples", type=int, default=2000)
    p.add_argument("--block-units", type=int, default=4096)
    p.add_argument("--skip-record", action="store_true")
    p.add_argument("--skip-rank", action="store_true")
    p.add_argument("--record-child", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--corpus", default="", help=argparse.SUPPRESS)
    p.add_argument("--out", default="", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.record_child:
        return record_child(args)

    sizes = [2 ** i for i in range(args.doublings + 1)]
    if not args.skip_record:
        from conftest import make_corpus

        work = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        try:
            corpus = make_corpus(work / "corpus", n_groups=8)
            rows = [run_record(args, corpus, work, args.samples * f) for f in sizes]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r0 = rows[0]
        print(f"record: tiny-random-seamless, every site ({r0['units']:,} units, {r0['values_per_sample']:,} "
              f"values per sample at steps {STEPS}, mean+last), batch {args.batch_size}, float32 store")
        print(f"{'samples':>8} {'responses MB':>13} {'store MB':>9} {'peak RSS MB':>12} {'RSS before MB':>14} "
              f"{'seconds':>8}")
        for r in rows:
            raw = r["samples"] * r["values_per_sample"] * 4 / 2**20  # float32, uncompressed
            print(f"{r['samples']:>8} {raw:>13.1f} {r['store_mb']:>9.1f} {r['peak_rss_mb']:>12.1f} "
                  f"{r['rss_before_mb']:>14.1f} {r['seconds']:>8.1f}")
        print(f"peak RSS from {rows[0]['samples']} to {rows[-1]['samples']} samples: {_growth(rows)}; "
              f"store {rows[-1]['store_mb'] / max(rows[0]['store_mb'], 1e-9):.1f}x")
    if not args.skip_rank:
        rows = [run_rank(args, args.units * f) for f in sizes]
        print(f"rank: SyntheticStore, {args.rank_samples} samples, 6 labels, block_units {args.block_units}, "
              "expertise streamed to Parquet")
        print(f"{'units':>8} {'Parquet MB':>11} {'peak RSS MB':>12} {'RSS before MB':>14} {'seconds':>8}")
        for r in rows:
            print(f"{r['units']:>8} {r['parquet_mb']:>11.1f} {r['peak_rss_mb']:>12.1f} {r['rss_before_mb']:>14.1f} "
                  f"{r['seconds']:>8.1f}")
        print(f"peak RSS from {rows[0]['units']:,} to {rows[-1]['units']:,} units: {_growth(rows)}")


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
