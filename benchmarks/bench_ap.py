"""Benchmark of exact all-label average precision (babelscope.rank.average_precision).

Baselines (DESIGN: benchmarks print ratios against the baselines they name):

  (a) scikit-learn: ``average_precision_score`` called once per (unit, label). Timed on a subset
      of units and extrapolated linearly to all units (the output says so).
  (b) one ``torch.sort`` of the same matrix along the samples axis (CPU, torch's default thread
      count): the cost of the single sort that any exact method needs.

Goals: (a) / ours >= 50 and ours / (b) <= 2.5.

It also measures the peak resident memory of out-of-core ranking (``rank_store`` over a lazily
generated store streaming to Parquet) at two store widths with the same block size, each in a fresh
subprocess, to show that peak memory depends on the block size and not on the number of units.

    python benchmarks/bench_ap.py                      # defaults: 3000 x 20000, 6 labels
    python benchmarks/bench_ap.py --mem-units 200000   # memory run width
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np


from babelscope.pipeline.estimate import best_time  # noqa: E402  (best of n runs)


def _samples(n: int, n_labels: int, seed: int):
    import pandas as pd

    langs = [f"l{i}" for i in range(n_labels)]
    lab = np.random.default_rng(seed).integers(0, n_labels, n)
    return pd.DataFrame({"task": "s2t", "modality": "speech", "src_lang": [langs[i] for i in lab],
                         "tgt_lang": "eng", "group": [f"g{i}" for i in range(n)]})


def _peak_rss_mb() -> float:
    """Peak resident set size of this process (VmHWM: unlike ru_maxrss, it restarts at exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(args: argparse.Namespace) -> None:
    """Rank a lazily generated store of ``args.mem_child`` units; print peak RSS as JSON."""
    from babelscope.rank import SyntheticStore, build_analysis, rank_store

    samples = _samples(args.samples, args.labels, args.seed)
    per_site = 4096
    sites = {f"text_decoder.layers.{i}.ffn.fc1": (min(per_site, args.mem_child - i * per_site),
                                                  {"layer": i})
             for i in range(-(-args.mem_child // per_site))}
    store = SyntheticStore(samples, sites, seed=args.seed, invalid_share=0.05)
    an = build_analysis(samples, "source_language", modality="speech")
    rss0 = _peak_rss_mb()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        exp = rank_store(store, an, view="step=2/mean", block_units=args.block_units,
                         out=os.path.join(tmp, "e.parquet"), progress=False)
        secs = time.perf_counter() - t0
        size = os.path.getsize(exp.path)
    peak = _peak_rss_mb()
    print(json.dumps({"units": args.mem_child, "peak_rss_mb": peak, "rss_before_mb": rss0,
                      "seconds": secs, "parquet_mb": size / 2**20, "n_dropped": exp.meta["n_dropped"]}))


def run_memory(args: argparse.Namespace, units: int) -> dict:
    cmd = [sys.executable, __file__, "--mem-child", str(units), "--samples", str(args.samples),
           "--labels", str(args.labels), "--block-units", str(args.block_units), "--seed", str(args.seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=3000)
    p.add_argument("--units", type=int, default=20000)
    p.add_argument("--labels", type=int, default=6)
    p.add_argument("--sk-units", type=int, default=500, help="units timed for the scikit-learn loop")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--mem-units", type=int, default=200000, help="store width of the memory run (0: skip)")
    p.add_argument("--block-units", type=int, default=4096)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mem-child", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.mem_child:
        return memory_child(args)

    import torch
    from sklearn.metrics import average_precision_score

    from babelscope.rank import average_precision, forcing_stats
    from babelscope.rank.ap import default_threads

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.samples, args.units), dtype=np.float32)
    lab = rng.integers(0, args.labels, args.samples)
    print(f"matrix: {args.samples} samples x {args.units} units, {args.labels} labels, float32; "
          f"ours uses {default_threads()} thread(s), torch {torch.get_num_threads()} thread(s)")

    ours = best_time(lambda: average_precision(x, lab), args.repeat)
    ours_stats = best_time(lambda: forcing_stats(x, lab), 1)
    xt = torch.from_numpy(x)
    torch_sort = best_time(lambda: torch.sort(xt, dim=0), args.repeat)
    xt_rows = torch.from_numpy(np.ascontiguousarray(x.T))
    torch_sort_rows = best_time(lambda: torch.sort(xt_rows, dim=1), args.repeat)

    sub = x[:, :args.sk_units]
    t0 = time.perf_counter()
    ref = np.array([[average_precision_score(lab == k, sub[:, u]) for u in range(sub.shape[1])]
                    for k in range(args.labels)])
    sk_sub = time.perf_counter() - t0
    sk = sk_sub * args.units / sub.shape[1]
    err = float(np.abs(average_precision(sub, lab) - ref).max())

    print(f"ours (AP, all labels)                 {ours:8.3f} s")
    print(f"ours (AP + forcing statistics)        {ours_stats:8.3f} s")
    print(f"(a) scikit-learn loop                 {sk:8.3f} s  (EXTRAPOLATED from {sub.shape[1]} units: "
          f"{sk_sub:.3f} s)")
    print(f"(b) one torch.sort along samples      {torch_sort:8.3f} s")
    print(f"    (for reference: torch.sort of a samples-contiguous copy {torch_sort_rows:8.3f} s, copy excluded)")
    print(f"max |ours - scikit-learn| on the subset: {err:.2e}")
    r_a, r_b = sk / ours, ours / torch_sort
    print(f"(a)/ours = {r_a:6.1f}   goal >= 50   {'PASS' if r_a >= 50 else 'FAIL'}")
    print(f"ours/(b) = {r_b:6.2f}   goal <= 2.5  {'PASS' if r_b <= 2.5 else 'FAIL'}")

    if args.mem_units:
        del x, xt, xt_rows
        small = run_memory(args, max(args.block_units, args.mem_units // 10))
        large = run_memory(args, args.mem_units)
        for r in (small, large):
            print(f"rank_store, {r['units']:>7,} units x {args.samples} samples, block {args.block_units}: "
                  f"peak RSS {r['peak_rss_mb']:7.1f} MB (before ranking {r['rss_before_mb']:.1f} MB), "
                  f"{r['seconds']:.1f} s, Parquet {r['parquet_mb']:.1f} MB, {r['n_dropped']} rows dropped")


if __name__ == "__main__":
    main()
