"""Measure how much a store changes with the torch thread count (the figure behind docs/scale.md).

Records the same samples once per thread count (same model, settings and machine) and compares
every pair with :func:`babelscope.record.compare_stores`, printing per view the largest absolute
difference, the share of the default tolerance used, and whether it holds.

    python scripts/measure_thread_tolerance.py --model babel-mini --threads 1,2 --out /tmp/tol
    python scripts/measure_thread_tolerance.py --model tiny-random-seamless --dtype float16

Without --corpus it builds the demo corpus (held-out split) into OUT/corpus.
"""

from __future__ import annotations

import argparse
import itertools
import time
from pathlib import Path


def main() -> None:
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.corpus.demo_corpus import build_demo_corpus
    from babelscope.models import load_model
    from babelscope.record import RecordSettings, compare_stores, record

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="babel-mini")
    ap.add_argument("--corpus", default=None, help="corpus folder (default: the demo corpus, test split)")
    ap.add_argument("--tasks", default="asr,s2t,t2t,en2x_s2t,en2x_t2t")
    ap.add_argument("--threads", default="1,2", help="comma-separated thread counts to compare")
    ap.add_argument("--steps", default="2,3,5")
    ap.add_argument("--sites", default="text_decoder,speech_encoder,text_encoder")
    ap.add_argument("--dtype", default="float32", choices=("float32", "float16"))
    ap.add_argument("--max-groups", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--out", default="/tmp/babelscope-thread-tolerance")
    args = ap.parse_args()

    out = Path(args.out)
    corpus = Path(args.corpus) if args.corpus else out / "corpus"
    if args.corpus is None:
        build_demo_corpus(corpus, split="test", progress=False)
    adapter = load_model(args.model)
    samples = build_task_samples(read_manifest(corpus), args.tasks.split(","), max_groups=args.max_groups)
    threads = [int(t) for t in args.threads.split(",")]
    stores = {}
    for n in threads:
        settings = RecordSettings(steps=tuple(int(s) for s in args.steps.split(",")),
                                  sites=tuple(args.sites.split(",")), batch_size=args.batch_size,
                                  dtype=args.dtype, max_new_tokens=16, threads=n)
        t0 = time.perf_counter()
        stores[n] = record(adapter, samples, out / f"{args.model}-{args.dtype}-t{n}", settings, progress=False,
                           overwrite=True)
        print(f"{args.model}, {len(samples)} samples, {n} thread(s): recorded in {time.perf_counter() - t0:.1f} s")
    for x, y in itertools.combinations(threads, 2):
        cmp = compare_stores(stores[x], stores[y], allow_divergent=True)
        print("\n".join(cmp.report_lines()))


if __name__ == "__main__":
    main()
