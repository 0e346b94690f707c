"""The analysis stage's bootstrap tables (``RUN/analysis/*_boot.csv``): intervals over sentences for
the statistics whose sampling error needs the responses themselves (docs/report.md).

* ``overlap_boot``: claim 1's "falls with steps": the first-step minus later-step diagonal overlap
  (mean over languages of |speech set ∩ text set| / k), re-selecting the sets in every replicate.
  **Pool scheme** (the documented cheaper scheme): in a replicate the sets are re-selected among a
  pool of each label's ``pool`` × (k/2) highest and lowest units by the full-data AP, not among all
  units; with the full data the pool contains the selected sets, so the estimate is exact, and
  docs/report.md quotes the simulation that checks the intervals' coverage.
* ``encoder_depth_boot``: claim 3's slope over layers of the selectivity excess (mean over units of
  the best AP over languages, minus the same under permuted labels: chance, recomputed under every
  replicate's weights), on a seeded sample of ``units_per_layer`` units per layer, re-ranked in every
  replicate.
* ``concentration_boot``: claim 5's contrasts of the decoder-stream Gini: speech − text paired
  within (step, task family, language) and jpn/cmn − Latin script within (step, task, modality).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from babelscope.analysis.resample import SortedResponses, gini_rows, group_weights, ranked_pick
from babelscope.analysis.stats import quantile_interval, slope
from babelscope.corpus.tasks import varying_language
from babelscope.errors import ConfigError
from babelscope.vocab.components import MODALITIES
from babelscope.vocab.languages import LATIN_SCRIPT, NON_LATIN_FOCUS
from babelscope.vocab.sites import is_kv_site
from babelscope.pipeline.rank_stage import RankJob
from babelscope.rank import build_analysis
from babelscope.rank.expertise import Expertise
from babelscope.rank.select import rank_order, candidates
from babelscope.rank.source import view_for
from babelscope.vocab.tasks import FAMILIES, family_tasks
from babelscope.vocab.views import View


def _responses(store, units: pd.DataFrame, view: str, rows: np.ndarray,
               cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Responses [len(rows), len(units)] of ``units`` (columns site, unit) at ``view``, and which
    rows are valid at every one of their sites (``cache`` keeps whole sites read before)."""
    out = np.empty((len(rows), len(units)), dtype=np.float64)
    ok = np.ones(len(rows), dtype=bool)
    sites = units["site"].astype(str).to_numpy()
    idx = units["unit"].to_numpy(dtype=np.int64)
    views = {}
    for site in dict.fromkeys(sites):
        v = view_for(store, site, view, True)
        if v is None:
            raise ConfigError(f"site {site!r} has no view {view!r}")
        views[site] = v
    if cache is not None:
        for v in set(views.values()):
            need = [s for s, sv in views.items() if sv == v and (s, v) not in cache]
            if need and hasattr(store, "read_sites"):  # one read per view (sites share its chunks)
                cache.update({(s, v): a for s, a in store.read_sites(need, v).items()})
    for site, v in views.items():
        cols = np.flatnonzero(sites == site)
        if cache is not None:
            if (site, v) not in cache:
                cache[(site, v)] = np.asarray(store.responses(site, v))
            block, lo = cache[(site, v)], 0
        else:
            lo, hi = int(idx[cols].min()), int(idx[cols].max()) + 1
            block = np.asarray(store.responses(site, v, slice(lo, hi)))
        out[:, cols] = block[rows][:, idx[cols] - lo]
        if cache is None:
            valid = np.asarray(store.valid(site, v), dtype=bool)
        else:
            if ("valid", site, v) not in cache:
                cache[("valid", site, v)] = np.asarray(store.valid(site, v), dtype=bool)
            valid = cache[("valid", site, v)]
        ok &= valid[rows]
    return out, ok


def _pool(exp: Expertise, label: str, component: str, k: int, mode: str, pool: int) -> pd.DataFrame:
    """The label's highest and lowest units by full-data AP (the pool a replicate re-selects from),
    in (site, unit) order."""
    cand = candidates(exp.table, component, label)
    ranked = rank_order(cand)
    n = len(ranked)
    top = {"top": k, "bottom": 0, "both": k // 2}[mode]
    bottom = k - top
    take_top, take_bottom = min(n, pool * max(top, 1)) if top else 0, min(n, pool * max(bottom, 1)) if bottom else 0
    parts = [ranked.iloc[:take_top], ranked.iloc[n - take_bottom:] if take_bottom else ranked.iloc[:0]]
    return pd.concat(parts).drop_duplicates(["site", "unit"]).sort_values(["site", "unit"], kind="stable")


def overlap_boot(jobs: dict[RankJob, Expertise], store, *, k: int, mode: str, component: str, n_boot: int,
                 seed: int, alpha: float, pool: int = 4) -> pd.DataFrame:
    """Bootstrap of claim 1's first-step minus later-step diagonal overlap (see the module docstring)."""
    steps = sorted({int(j.step) for j in jobs if j.analysis == "source_language" and j.step != "encoder"})
    have = {(j.modality, j.step): e for j, e in jobs.items() if j.analysis == "source_language" and j.step != "encoder"}
    steps = [s for s in steps if ("speech", s) in have and ("text", s) in have]
    if len(steps) < 2:
        return pd.DataFrame()
    samples = store.samples
    speech_an = build_analysis(samples, "source_language", modality="speech")
    text_an = build_analysis(samples, "source_language", modality="text")
    # the labels ranked in both modalities at every step (one skipped for thin evidence has no set somewhere)
    labels = [l for l in have[("speech", steps[0])].labels
              if all(l in have[(m, s)].labels for m in MODALITIES for s in steps)]
    rows_all = np.concatenate([speech_an.rows, text_an.rows])
    groups = samples["group"].astype(str).to_numpy()
    weights = np.concatenate(list(group_weights(groups[rows_all], n_boot, seed)))   # [B, n_speech + n_text]
    ns = len(speech_an.rows)
    share = {}                 # step -> [B + 1] mean over labels of overlap / k (index 0: full data)
    n_used = {}
    for s in steps:
        per_label, cache = [], {}
        for label in labels:
            picks = {}
            for mod, an, w in (("speech", speech_an, weights[:, :ns]), ("text", text_an, weights[:, ns:])):
                exp = have[(mod, s)]
                pool_units = _pool(exp, label, component, k, mode, pool)
                x, ok = _responses(store, pool_units, View.step_view(s), an.rows, cache)
                y = np.asarray(an.label_names)[an.labels] == label
                ww = np.vstack([np.ones(len(an.rows)), w])
                # the samples with no response at this step (their output ended earlier) are left out,
                # in the full data and in every replicate alike
                ap = SortedResponses(x[ok]).ap(y[ok], ww[:, ok])
                ids = (pool_units["site"].astype(str) + "#" + pool_units["unit"].astype(str)).to_numpy()
                picks[mod] = ids[ranked_pick(ap, k, mode)]
                n_used[(mod, s)] = int(ok.sum())
            per_label.append([len(set(a) & set(b)) / k for a, b in zip(picks["speech"], picks["text"])])
        share[s] = np.mean(np.array(per_label), axis=0)
    first = steps[0]
    out = []
    for s in steps[1:]:
        d = share[first] - share[s]
        lo, hi = quantile_interval(d[1:], alpha)
        out.append({"step_a": first, "step_b": s, "value_a": share[first][0], "value_b": share[s][0],
                    "estimate": d[0], "lo": lo, "hi": hi, "alpha": alpha, "n_boot": n_boot,
                    "n_groups": int(len(np.unique(groups[rows_all]))), "n_labels": len(labels), "k": k,
                    "mode": mode, "pool": pool, "n_speech": min(n_used[("speech", first)], n_used[("speech", s)]),
                    "n_text": min(n_used[("text", first)], n_used[("text", s)])})
    return pd.DataFrame(out)


def encoder_depth_boot(jobs: dict[RankJob, Expertise], store, *, n_boot: int, seed: int, alpha: float,
                       units_per_layer: int = 128, n_perm: int = 2) -> pd.DataFrame:
    """Bootstrap of claim 3's depth slope of the selectivity excess, per encoder."""
    out = []
    rng = np.random.default_rng(seed)
    for job, exp in sorted(jobs.items(), key=lambda kv: kv[0].file):
        if job.step != "encoder" or job.analysis != "source_language":
            continue
        an = build_analysis(store.samples, "source_language", modality=job.modality)
        t = candidates(exp.table, "all", exp.labels[0])
        t = t[t["layer"] >= 0]
        for comp, g in t.groupby("component", observed=True, sort=True):
            layers = sorted(int(l) for l in g["layer"].unique())
            if len(layers) < 3:
                continue
            chosen = []
            for layer in layers:
                gl = g[g["layer"] == layer]
                take = np.sort(rng.choice(len(gl), size=min(units_per_layer, len(gl)), replace=False))
                chosen.append(gl.iloc[take][["site", "unit", "layer"]])
            units = pd.concat(chosen, ignore_index=True)
            x, ok = _responses(store, units, "encoder", an.rows)
            x, lab = x[ok], np.asarray(an.labels)[ok]
            groups = store.samples["group"].astype(str).to_numpy()[an.rows][ok]
            w = np.vstack([np.ones(len(lab))] + list(group_weights(groups, n_boot, seed)))
            sr = SortedResponses(x)
            # the ranked labels only: one skipped for thin evidence is not in the table the profile comes from
            codes = [an.label_names.index(l) for l in exp.labels]
            best = np.max([sr.ap(lab == c, w) for c in codes], axis=0)   # [B+1, m]
            # chance under each replicate's own weights: duplicated samples inflate the best AP of every
            # unit, selective or not, and the same inflation then leaves the excess
            chance = np.mean([np.max([sr.ap(perm == c, w) for c in codes], axis=0)
                              for perm in (rng.permutation(lab) for _ in range(n_perm))], axis=0)  # [B+1, m]
            lay = units["layer"].to_numpy()
            excess = np.stack([(best[:, lay == l] - chance[:, lay == l]).mean(axis=1) for l in layers], axis=1)
            slopes = np.array([slope(layers, e) for e in excess])
            s_lo, s_hi = quantile_interval(slopes[1:], alpha)
            f_lo, f_hi = quantile_interval(excess[1:, 0], alpha)
            out.append({"component": str(comp), "modality": job.modality, "n_layers": len(layers),
                        "units_per_layer": units_per_layer, "n_samples": int(ok.sum()),
                        "n_groups": int(len(np.unique(groups))), "slope": slopes[0], "slope_lo": s_lo,
                        "slope_hi": s_hi, "first_excess": excess[0, 0], "first_lo": f_lo, "first_hi": f_hi,
                        "last_excess": excess[0, -1], "alpha": alpha, "n_boot": n_boot})
    return pd.DataFrame(out)


def _stream_units(store, view: str) -> pd.DataFrame:
    rows = []
    for site in store.sites:
        if store.site(site).component == "text_decoder" and not is_kv_site(site) and view in store.views(site):
            rows.append(pd.DataFrame({"site": site, "unit": np.arange(store.n_units(site))}))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["site", "unit"])


def concentration_boot(store, steps: Sequence[int], *, n_boot: int, seed: int, alpha: float) -> pd.DataFrame:
    """Bootstrap of claim 5's contrasts of the decoder-stream Gini (see the module docstring)."""
    samples = store.samples
    groups = samples["group"].astype(str).to_numpy()
    uniq = np.unique(groups)
    # one draw of sentence groups per replicate, shared by every cell and step (index 0: the data)
    counts = np.vstack([np.ones(len(samples))] + list(group_weights(groups, n_boot, seed)))
    lang = np.array([varying_language(t, s, g) for t, s, g in
                     zip(samples["task"], samples["src_lang"], samples["tgt_lang"])])
    gini: dict[tuple[int, str, str, str], np.ndarray] = {}
    for step in steps:
        view = View.step_view(step)
        units = _stream_units(store, view)
        if units.empty:
            continue
        x, ok = _responses(store, units, view, np.arange(len(samples)), {})
        x = np.abs(x)
        keys = samples[["task", "modality"]].astype(str).agg("/".join, axis=1).to_numpy() + "/" + lang
        for key in np.unique(keys[ok]):
            r = np.flatnonzero((keys == key) & ok)
            task, mod, lg = key.split("/")
            w = counts[:, r]
            with np.errstate(invalid="ignore", divide="ignore"):
                mass = (w @ x[r]) / w.sum(axis=1, keepdims=True)
            gini[(step, task, mod, lg)] = gini_rows(mass)
    out = []
    # speech − text within (step, family, language)
    pairs = [(p["speech"], p["text"]) for p in (family_tasks(f, set(samples["task"])) for f in FAMILIES)
             if len(p) == 2]
    diffs = [gini[(st, sp, "speech", lg)] - gini[(st, tx, "text", lg)]
             for (st, task, mod, lg) in gini for sp, tx in pairs
             if task == sp and mod == "speech" and (st, tx, "text", lg) in gini]
    if diffs:
        d = np.nanmean(np.array(diffs), axis=0)
        lo, hi = quantile_interval(d[1:], alpha)
        out.append({"contrast": "speech - text", "estimate": d[0], "lo": lo, "hi": hi, "n_cells": len(diffs),
                    "n_groups": len(uniq), "alpha": alpha, "n_boot": n_boot,
                    "pairing": "(step, task family, language)"})
    # jpn/cmn − Latin script within (step, task, modality)
    scopes = {}
    for (st, task, mod, lg), g in gini.items():
        kind = "focus" if lg in NON_LATIN_FOCUS else "latin" if lg in LATIN_SCRIPT else None
        if kind:
            scopes.setdefault((st, task, mod), {}).setdefault(kind, []).append(g)
    diffs = [np.mean(v["focus"], axis=0) - np.mean(v["latin"], axis=0) for v in scopes.values()
             if "focus" in v and "latin" in v]
    if diffs:
        d = np.nanmean(np.array(diffs), axis=0)
        lo, hi = quantile_interval(d[1:], alpha)
        out.append({"contrast": "jpn/cmn - Latin", "estimate": d[0], "lo": lo, "hi": hi, "n_cells": len(diffs),
                    "n_groups": len(uniq), "alpha": alpha, "n_boot": n_boot, "pairing": "(step, task, modality)"})
    return pd.DataFrame(out)
