"""Ranking at real size: a million units x ten thousand samples, local and on Ray (issue 16).

Each run ranks a lazily generated store (``babelscope.rank.SyntheticStore``: blocks generated on
demand from a seeded generator, so the matrix never exists in memory) in a fresh subprocess:
N samples, 6 labels (source language of speech samples), 5 % of samples invalid at the view,
sites of 4,096 units, ``block_units`` 4,096, the expertise table streamed to Parquet. Printed per
run: time, throughput (unit-samples ranked per second and per core), the driver's peak RSS
(``VmHWM``) and its private peak (``RssAnon``, see :class:`PrivatePeak`) and, with Ray, the peak
RSS of each worker process; then the growth of the peak from
the narrow to the wide store. The goal: memory independent of the number of units.

    python benchmarks/bench_rank_scale.py                                  # 10^5 and 10^6 units, 10^4 samples
    python benchmarks/bench_rank_scale.py --units 20000,200000 --samples 3000 --backends local
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _hwm_mb(pid: str = "self") -> float:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _status_kb(field: str, pid: str = "self") -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class PrivatePeak:
    """Peak of this process's private memory (``RssAnon``), sampled every 20 ms on a thread.

    ``VmHWM`` also counts shared pages the process touched: a Ray driver reads each block's result
    from Ray's shared-memory object store, and every page of that store it has read stays in its
    RSS (owned by the object store, counted once on the machine), so its ``VmHWM`` grows with the
    number of results read, up to the object store's size, without the driver holding anything.
    The private peak is what the driver itself holds."""

    def __init__(self) -> None:
        import threading

        self.peak_kb = _status_kb("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_kb = max(self.peak_kb, _status_kb("RssAnon"))

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return max(self.peak_kb, _status_kb("RssAnon")) / 1024


def _ray_workers() -> list[str]:
    """PIDs of this machine's Ray worker processes: command line ``ray::<task>`` or ``ray::IDLE``,
    not Ray's agents (``ray::DashboardAgent``, ``ray::RuntimeEnvAgent``)."""
    out = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    cmd = fh.read(64)
            except OSError:
                continue
            if cmd.startswith(b"ray::") and b"Agent" not in cmd.split(b"\0")[0]:
                out.append(pid)
    return out


def child(args: argparse.Namespace) -> None:
    from bench_ap import _samples

    from babelscope.executor import Executor
    from babelscope.rank import SyntheticStore, build_analysis, rank_store

    units = args.child
    samples = _samples(args.samples, args.labels, args.seed)
    per_site = 4096
    sites = {f"text_decoder.layers.{i}.ffn.fc1": (min(per_site, units - i * per_site), {"layer": i})
             for i in range(-(-units // per_site))}
    store = SyntheticStore(samples, sites, seed=args.seed, invalid_share=0.05)
    an = build_analysis(samples, "source_language", modality="speech")
    executor = Executor(args.backend, workers=args.workers if args.backend == "ray" else None)
    if args.backend == "ray":
        import ray

        ray.init(num_cpus=args.workers, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    rss0 = _hwm_mb()
    private = PrivatePeak()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        exp = rank_store(store, an, view="step=2/mean", block_units=args.block_units, executor=executor,
                         out=os.path.join(tmp, "e.parquet"), progress=False)
        secs = time.perf_counter() - t0
        size = os.path.getsize(exp.path)
    private_mb = private.stop()
    workers = [_hwm_mb(p) for p in _ray_workers()] if args.backend == "ray" else []
    print(json.dumps({"units": units, "backend": args.backend, "seconds": secs, "peak_rss_mb": _hwm_mb(),
                      "rss_before_mb": rss0, "private_peak_mb": private_mb, "worker_peaks_mb": workers, "parquet_mb": size / 2**20,
                      "cores": args.workers if args.backend == "ray" else os.cpu_count()}))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--units", default="100000,1000000", help="store widths, comma-separated")
    p.add_argument("--samples", type=int, default=10000)
    p.add_argument("--labels", type=int, default=6)
    p.add_argument("--block-units", type=int, default=4096)
    p.add_argument("--backends", default="local,ray")
    p.add_argument("--workers", type=int, default=2, help="Ray workers (CPUs of the local Ray cluster)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--backend", default="local", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    rows = []
    for backend in args.backends.split(","):
        for units in [int(u) for u in args.units.split(",")]:
            cmd = [sys.executable, __file__, "--child", str(units), "--backend", backend, "--samples",
                   str(args.samples), "--labels", str(args.labels), "--block-units", str(args.block_units),
                   "--workers", str(args.workers), "--seed", str(args.seed)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            rows.append(r)
            wk = r["worker_peaks_mb"]
            rate = units * args.samples / r["seconds"]
            print(f"{backend:5s} {units:>9,} units x {args.samples:,} samples: {r['seconds']:7.1f} s, "
                  f"{rate / 1e6:6.2f} M unit-samples/s ({rate / r['cores'] / 1e6:.2f} per core), driver peak RSS "
                  f"{r['peak_rss_mb']:7.1f} MB (before ranking {r['rss_before_mb']:.1f}; private peak "
                  f"{r['private_peak_mb']:.1f})"
                  + (f", {len(wk)} Ray workers, peak RSS {max(wk):.1f} MB each at most" if wk else "")
                  + f", Parquet {r['parquet_mb']:.1f} MB", flush=True)
    for backend in args.backends.split(","):
        mine = [r for r in rows if r["backend"] == backend]
        if len(mine) >= 2:
            a, b = mine[0], mine[-1]
            line = (f"{backend}: driver peak RSS {a['peak_rss_mb']:.1f} MB at {a['units']:,} units -> "
                    f"{b['peak_rss_mb']:.1f} MB at {b['units']:,} ({(b['peak_rss_mb'] / a['peak_rss_mb'] - 1):+.1%})")
            line += (f"; private {a['private_peak_mb']:.1f} -> {b['private_peak_mb']:.1f} MB "
                     f"({(b['private_peak_mb'] / a['private_peak_mb'] - 1):+.1%})")
            if a["worker_peaks_mb"] and b["worker_peaks_mb"]:
                wa, wb = max(a["worker_peaks_mb"]), max(b["worker_peaks_mb"])
                line += f"; largest worker {wa:.1f} MB -> {wb:.1f} MB ({wb / wa - 1:+.1%})"
            print(line)


if __name__ == "__main__":
    main()
