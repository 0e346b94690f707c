"""Recording speed: babelscope's one-pass recorder against the authors' approach and plain generate.

    (a) ours     babelscope.record: batched, one KV-cached greedy generate per batch, every site hooked,
                 pooled on the fly, written to the Zarr store
    (b) authors  batch 1: generate, then one fresh forward pass per step prefix, every hooked output
                 copied to the CPU as float32, pooled afterwards
    (c) plain    the same batches through prepare + generate with no hooks and no store

Prints (b)/(a) (goal >= 5) and (a)/(c) (goal <= 1.25). Usage:
    python benchmarks/bench_record.py [--samples 96] [--batch-size 16] [--sites '*'] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import make_corpus  # noqa: E402  (synthetic speech, no espeak-ng needed)

from babelscope.corpus import build_task_samples, read_manifest  # noqa: E402
from babelscope.corpus.audio import read_audio  # noqa: E402
from babelscope.models import load_model, select_sites  # noqa: E402
from babelscope.record import RecordSettings, record  # noqa: E402

STEPS = (2, 7, 12)


def plain(adapter, samples, batch_size, max_new_tokens):
    from itertools import groupby

    for i in range(0, len(samples), batch_size):
        for _, g in groupby(samples[i:i + batch_size], key=adapter.batch_key):
            g = list(g)
            audio = [read_audio(s.audio, 16000) if s.modality == "speech" else None for s in g]
            adapter.generate(adapter.prepare(g, audio), max_new_tokens)


def authors(adapter, samples, sites, max_new_tokens):
    m = adapter.model
    for s in samples:
        audio = [read_audio(s.audio, 16000) if s.modality == "speech" else None]
        batch = adapter.prepare([s], audio)
        seq = adapter.generate(batch, max_new_tokens)[0]
        m.set_modality(s.modality)
        pooled = {}
        for step in STEPS:
            captured = {}
            hs = [m.get_submodule(site.name).register_forward_hook(
                (lambda n: lambda mod, a, o: captured.__setitem__(n, o.detach().to("cpu", torch.float32)))(site.name))
                for site in sites]
            try:
                with torch.no_grad():
                    m(**batch.inputs, decoder_input_ids=seq[None, :step])
            finally:
                for h in hs:
                    h.remove()
            for n, x in captured.items():
                pooled[(n, step)] = x.mean(dim=-2 if x.dim() == 3 else 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=320)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--sites", default="*")
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="bench-record-"))
    corpus = read_manifest(make_corpus(work / "corpus", n_groups=32))
    samples = build_task_samples(corpus, ["t2t", "s2t"])
    t2t = [s for s in samples if s.task == "t2t"][: args.samples * 2 // 3]
    s2t = [s for s in samples if s.task == "s2t"][: args.samples - len(t2t)]
    samples = t2t + s2t
    adapter = load_model("tiny-random-seamless")
    sites = select_sites(adapter.sites(), args.sites.split(","))
    settings = RecordSettings(steps=STEPS, sites=tuple(args.sites.split(",")), batch_size=args.batch_size,
                              max_new_tokens=args.max_new_tokens)

    def best(fn):
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    def ours():
        out = work / "store"
        shutil.rmtree(out, ignore_errors=True)
        record(adapter, samples, out, settings, progress=False)

    plain(adapter, samples[:4], 4, 4)  # warm-up
    t_a = best(ours)
    t_c = best(lambda: plain(adapter, samples, args.batch_size, args.max_new_tokens))
    t_b = best(lambda: authors(adapter, samples, sites, args.max_new_tokens))
    print(f"model tiny-random-seamless, {len(samples)} samples ({len(t2t)} text, {len(s2t)} speech), "
          f"{len(sites)} sites ({sum(s.n_units for s in sites)} units), steps {STEPS}, batch {args.batch_size}, "
          f"max_new_tokens {args.max_new_tokens}, torch threads {torch.get_num_threads()}, best of {args.repeat}")
    print(f"(a) ours     {t_a:8.2f} s")
    print(f"(b) authors  {t_b:8.2f} s")
    print(f"(c) plain    {t_c:8.2f} s")
    print(f"(b)/(a) = {t_b / t_a:.2f}   (goal >= 5)")
    print(f"(a)/(c) = {t_a / t_c:.2f}   (goal <= 1.25)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
