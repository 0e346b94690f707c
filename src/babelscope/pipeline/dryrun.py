"""``babelscope run --dry-run``: what a config will do, without running it.

Runs every check the config alone allows (:mod:`babelscope.pipeline.checks`), then lists the stages, the selected sites with their unit counts, the number of samples and the disk
space the activation store will take. The model is not loaded: its sites are enumerated on
PyTorch's ``meta`` device from its config (the hub config when reachable or cached; for
``facebook/seamless-m4t-v2-large`` offline, transformers' default ``SeamlessM4Tv2Config``, which
is that checkpoint's architecture).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from babelscope.config import RunConfig
from babelscope.errors import ModelLoadError

#: architectures known without a download: hub id -> (family, config factory)
KNOWN_CONFIGS = {
    "facebook/seamless-m4t-v2-large": "seamless",
}


def _hub_reachable(timeout: float = 3.0) -> bool:
    import os
    import socket

    if os.environ.get("HF_HUB_OFFLINE"):
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _config(name: str):
    from transformers import AutoConfig, SeamlessM4Tv2Config

    try:
        return AutoConfig.from_pretrained(name, local_files_only=True)
    except Exception:
        pass
    try:
        if not _hub_reachable():
            raise OSError("the Hugging Face hub is not reachable and the config is not cached")
        return AutoConfig.from_pretrained(name)
    except Exception as exc:
        if KNOWN_CONFIGS.get(name) == "seamless":
            return SeamlessM4Tv2Config()
        raise ModelLoadError(f"cannot read the config of {name!r} ({exc.__class__.__name__}); "
                             "pass a local model folder or run once online") from None


def meta_adapter(name: str):
    """An adapter over a weightless (meta-device) model: enough to enumerate sites."""
    from babelscope.models import meta_adapter as _meta

    return _meta(name, hub_config=_config)


def _n_samples(cfg: RunConfig) -> tuple[int, str]:
    from babelscope.corpus import read_manifest
    from babelscope.vocab.tasks import get_task

    c = cfg.corpus
    if c.source == "demo":
        from babelscope.corpus.demo_corpus import DEMO_LANGS, select_rows

        groups = len(select_rows(split=c.split, max_groups=c.max_groups))
        langs = list(c.langs or DEMO_LANGS)
        how = f"demo corpus, {groups} groups"
    else:
        if not (Path(c.source) / "manifest.jsonl").is_file():
            return -1, f"{c.source} (not on this machine: sample count unknown)"
        recs = read_manifest(c.source, check_audio=False).records
        groups = len({r.group for r in recs})
        langs = list(c.langs or sorted({r.lang for r in recs}))
        how = f"{c.source}, {groups} groups"
        if c.max_groups:
            groups = min(groups, c.max_groups)
    n = 0
    for t in cfg.record.tasks:
        n += groups * len(get_task(t).pairs(langs, c.pivot))
    return n, how


def selection_size(sites, n_steps: int, itemsize: int, n_samples: int) -> dict[str, int]:
    """Sites, units, values and bytes per sample, and the store's size for ``n_samples``, of a site
    selection: encoder-stream units once per sample, decoder-stream units at every step in both
    views (mean, last). An upper bound on disk: responses a sample does not have (a speech encoder
    for a text input, a step after the end) are not stored when a whole chunk lacks them."""
    per_sample = sum(s.n_units * (1 if s.stream == "encoder" else 2 * n_steps) for s in sites)
    return {"sites": len(sites), "units": sum(s.n_units for s in sites), "values_per_sample": per_sample,
            "bytes_per_sample": per_sample * itemsize, "store_bytes": per_sample * itemsize * max(n_samples, 0)}


def dry_run(cfg: RunConfig) -> dict[str, Any]:
    from babelscope.vocab.sites import SITE_PRESETS, select_sites

    from babelscope.pipeline.checks import check_config

    adapter = meta_adapter(cfg.model.name)
    sites = select_sites(adapter.sites(), list(cfg.record.sites))
    check_config(cfg, sites, adapter)
    n_samples, corpus = _n_samples(cfg)
    itemsize = 4 if cfg.record.dtype == "float32" else 2
    size = selection_size(sites, len(cfg.record.steps), itemsize, n_samples)
    # what the other selections would cost, so the store's size is seen before a GPU day is spent
    every = adapter.sites()
    selections = {"this config": size}
    for preset in SITE_PRESETS:
        selections[preset] = selection_size(select_sites(every, [preset]), len(cfg.record.steps), itemsize, n_samples)
    by_comp: dict[str, dict[str, int]] = {}
    for s in sites:
        d = by_comp.setdefault(s.component, {"sites": 0, "units": 0})
        d["sites"] += 1
        d["units"] += s.n_units
    return {"model": cfg.model.name, "corpus": corpus, "stages": ["corpus", "record", "rank", "analysis",
                                                                  "intervene", "report"],
            "tasks": cfg.record.tasks, "steps": cfg.record.steps, "n_samples": n_samples,
            "n_sites": size["sites"], "n_units": size["units"], "by_component": by_comp,
            "sites": [(s.name, s.kind, s.n_units, s.stream) for s in sites],
            "store_bytes": size["store_bytes"], "values_per_sample": size["values_per_sample"],
            "bytes_per_value": itemsize, "selections": selections,
            "interventions": [r.name for r in cfg.intervene.runs]}
