"""The analysis stage of a run: the tables the report reads (``RUN/analysis/*.csv``, docs/report.md).

Inputs are the expertise tables of the rank stage (:class:`RankJob` → :class:`Expertise`) and the
activation store (concentration). Neuron sets of the configured selection go to ``RUN/sets``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from babelscope.analysis import across_step_matrix, concentration_store, cross_modal_matrix, rank_agreement
from babelscope.atomic import commit_file, temp_name
from babelscope.config.schema import StatsCfg
from babelscope.corpus.tasks import varying_language
from babelscope.errors import ConfigError
from babelscope.pipeline.rank_stage import RankJob
from babelscope.rank import save_neuron_set, select_units
from babelscope.rank.expertise import Expertise
from babelscope.rank.select import candidates
from babelscope.vocab.views import View



def _k(exp: Expertise, label: str, k: int, component: str) -> int:
    """``k``, checked against the component (never clamped: a set smaller than asked for is an error)."""
    n = len(candidates(exp.table, component, label))
    if k > n:
        raise ConfigError(f"select.k={k} is larger than component {component!r} ({n} units); use k <= {n}")
    return k


def _unit_info(exp: Expertise) -> pd.DataFrame:
    t = exp.table
    first = t[t["label"].astype(str) == str(exp.labels[0])]
    return first[["site", "unit", "component", "group", "layer"]].assign(site=lambda d: d["site"].astype(str))


def ap_summary(jobs: dict[RankJob, Expertise], k: int) -> pd.DataFrame:
    rows = []
    for job, exp in jobs.items():
        base = exp.meta.get("base_rates") or exp.meta["analysis"]["base_rates"]
        # language analyses per step: the decoder stream (K/V units have one value for every step);
        # the modality analysis and the encoder view: every unit ranked
        comp = "all" if job.step == "encoder" or job.analysis == "modality" else "text_decoder"
        for label in exp.labels:
            ap = np.sort(candidates(exp.table, comp, label)["ap"].to_numpy())[::-1]
            kk = _k(exp, label, k, comp)
            # the modality analysis has one row per task family: its modality column names the family
            mod = (job.family or "x2en") if job.analysis == "modality" else job.modality
            rows.append({"analysis": job.analysis, "modality": mod, "step": job.step, "label": label,
                         "base_rate": float(base[label]), "n_units": int(ap.size), "max_ap": float(ap[0]),
                         "n_ap_over_0_9": int((ap > 0.9).sum()), "mean_top_ap": float(ap[:kk].mean()), "k": kk})
    return pd.DataFrame(rows)


def evidence(jobs: dict[RankJob, Expertise]) -> pd.DataFrame:
    """Per ranking and label: the samples of the analysis, those used (with a response at the view) and
    dropped, the label's positives and negatives among them, and whether it was ranked
    (:mod:`babelscope.rank.evidence`)."""
    rows = []
    for job, exp in jobs.items():
        m = exp.meta
        mod = (job.family or "x2en") if job.analysis == "modality" else job.modality
        counts, skipped = m.get("label_counts") or {}, m.get("skipped_labels") or {}
        for label in m["analysis"]["labels"]:
            c = counts.get(label) or {}
            rows.append({"analysis": job.analysis, "modality": mod, "step": job.step, "label": label,
                         "n_samples": m.get("n_samples"), "n_used": m.get("n_used"), "n_dropped": m.get("n_dropped"),
                         "positives": c.get("positives"), "negatives": c.get("negatives"),
                         "ranked": label not in skipped, "why_skipped": skipped.get(label, "")})
    return pd.DataFrame(rows)


def top_units_location(jobs: dict[RankJob, Expertise], k: int) -> pd.DataFrame:
    rows = []
    for job, exp in jobs.items():
        if job.analysis == "modality":
            continue
        info = _unit_info(exp).set_index(["site", "unit"])
        comp = job.components[0]
        for label in exp.labels:
            kk = _k(exp, label, k, comp)
            ns = select_units(exp, label, k=kk, mode="top", component=comp)
            where = info.loc[[u.id for u in ns.units]]
            for (c, g, l), n in where.groupby(["component", "group", "layer"]).size().items():
                rows.append({"analysis": job.analysis, "modality": job.modality, "step": job.step, "label": label,
                             "component": c, "group": g, "layer": int(l), "count": int(n), "k": kk})
    return pd.DataFrame(rows)


def _pairs(jobs: dict[RankJob, Expertise]):
    by = {(j.analysis, j.modality, j.step): e for j, e in jobs.items()}
    for (an, mod, step), sp in sorted(by.items(), key=str):
        if mod == "speech" and step != "encoder" and (an, "text", step) in by:
            yield an, step, sp, by[(an, "text", step)]


def overlap_and_spearman(jobs: dict[RankJob, Expertise], *, k: int, mode: str, component: str):
    ov, sp = [], []
    for an, step, speech, text in _pairs(jobs):
        labels = [l for l in speech.labels if l in set(text.labels)]
        kk = min(_k(speech, l, k, component) for l in labels)
        mats = {m: cross_modal_matrix(speech, text, k=kk, mode=mode, component=component, labels=labels, metric=m)
                for m in ("count", "jaccard", "overlap_coef")}
        n_cand = len(candidates(speech.table, component, labels[0]))
        for a in labels:
            for b in labels:
                ov.append({"analysis": an, "step": step, "speech_label": a, "text_label": b, "k": kk,
                           "n_candidates": n_cand, "count": int(mats["count"].loc[a, b]),
                           "jaccard": float(mats["jaccard"].loc[a, b]),
                           "overlap_coef": float(mats["overlap_coef"].loc[a, b]), "chance": kk * kk / n_cand})
        for label in labels:
            for by in ("global", "layer"):
                r = rank_agreement(speech, text, label_a=label, by=by)
                for row in r.itertuples(index=False):
                    comp, layer = ("all", -1) if by == "global" else (row.scope.split(":")[0], int(row.scope.split(":")[1]))
                    sp.append({"analysis": an, "step": step, "label": label, "scope": by, "component": comp,
                               "layer": layer, "rho": float(row.rho), "n_units": int(row.n_units)})
    return pd.DataFrame(ov), pd.DataFrame(sp)


def across_steps(jobs: dict[RankJob, Expertise], *, k: int, mode: str, component: str) -> pd.DataFrame:
    rows = []
    groups: dict[tuple[str, str], dict[int, Expertise]] = {}
    for job, exp in jobs.items():
        if job.step != "encoder" and job.analysis != "modality":
            groups.setdefault((job.analysis, job.modality), {})[int(job.step)] = exp
    for (an, mod), by_step in sorted(groups.items()):
        if len(by_step) < 2:
            continue
        steps = sorted(by_step)
        first = by_step[steps[0]]
        # a label skipped at some step for thin evidence (babelscope.rank.evidence) has no set there to compare
        for label in [l for l in first.labels if all(l in by_step[s].labels for s in steps)]:
            kk = _k(first, label, k, component)
            m = across_step_matrix({str(s): by_step[s] for s in steps}, label, k=kk, mode=mode, component=component)
            n_cand = len(candidates(first.table, component, label))
            for i, a in enumerate(steps):
                for b in steps[i + 1:]:
                    rows.append({"analysis": an, "modality": mod, "label": label, "step_a": a, "step_b": b,
                                 "count": int(m.loc[str(a), str(b)]), "k": kk, "chance": kk * kk / n_cand})
    return pd.DataFrame(rows)


def role_overlap(jobs: dict[RankJob, Expertise], *, k: int, mode: str, component: str) -> pd.DataFrame:
    """Representation vs control: per modality, decoding step and language, the overlap of the top-k
    set of the source-language analysis (the language heard or read) with that of the target-language
    analysis (the language asked for), beside chance k·k/U and the hypergeometric tail P(X ≥ count)."""
    from babelscope.analysis.stats import overlap_tail

    by = {(j.analysis, j.modality, j.step): e for j, e in jobs.items() if j.step != "encoder"}
    rows = []
    for (an, mod, step), rep in sorted(by.items(), key=str):
        ctl = by.get(("target_language", mod, step)) if an == "source_language" else None
        if ctl is None:
            continue
        for label in [l for l in rep.labels if l in set(ctl.labels)]:
            kk = min(_k(rep, label, k, component), _k(ctl, label, k, component))
            a = {u.id for u in select_units(rep, label, k=kk, mode=mode, component=component).units}
            b = {u.id for u in select_units(ctl, label, k=kk, mode=mode, component=component).units}
            n = len(candidates(rep.table, component, label))
            c = len(a & b)
            rows.append({"modality": mod, "step": step, "label": label, "k": kk, "n_candidates": n, "count": c,
                         "jaccard": c / len(a | b), "chance": kk * kk / n, "p_value": overlap_tail([c], kk, n)})
    return pd.DataFrame(rows)


def encoder_depth(jobs: dict[RankJob, Expertise]) -> pd.DataFrame:
    rows = []
    for job, exp in jobs.items():
        if job.step != "encoder" or job.analysis != "source_language":
            continue
        t = exp.table
        wide = t.pivot_table(index=["site", "unit", "component", "layer"], columns="label", values="ap",
                             observed=True).reset_index()
        labs = [c for c in wide.columns if c not in ("site", "unit", "component", "layer")]
        wide["max_ap"] = wide[labs].max(axis=1)
        base = exp.meta.get("base_rates") or exp.meta["analysis"]["base_rates"]
        for (comp, layer), g in wide.groupby(["component", "layer"], observed=True):
            rows.append({"modality": job.modality, "component": str(comp), "layer": int(layer), "n_units": len(g),
                         "mean_max_ap": float(g["max_ap"].mean()),
                         "share_selective": float((g["max_ap"] > 0.9).mean()),
                         "chance_ap": float(np.mean([base[l] for l in exp.labels]))})  # the ranked labels
    return pd.DataFrame(rows)


def modality_units(jobs: dict[RankJob, Expertise], *, k: int) -> pd.DataFrame:
    rows = []
    for job, exp in jobs.items():
        if job.analysis != "modality" or "speech" not in exp.labels:
            continue
        t = exp.table[exp.table["label"].astype(str) == "speech"].assign(site=lambda d: d["site"].astype(str))
        # both streams: where the modality units sit, cross-attention K/V included (claim 4)
        kk = _k(exp, "speech", k, "decoder_all")
        ns = select_units(exp, "speech", k=kk, mode="top", component="decoder_all")
        top = pd.Series([u.site for u in ns.units]).value_counts()
        for (site, comp, group, layer), g in t.groupby(["site", "component", "group", "layer"], observed=True):
            rows.append({"family": job.family or "x2en", "step": job.step, "component": str(comp),
                         "group": str(group), "site": site,
                         "layer": int(layer), "n_units": len(g), "n_top": int(top.get(site, 0)), "k": kk,
                         "mean_ap": float(g["ap"].mean())})
    return pd.DataFrame(rows)


def concentration_tables(store, steps: Sequence[int], *, progress: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    conc, lor = [], []
    xs = np.linspace(0, 1, 101)
    for step in steps:
        res = concentration_store(store, view=View.step_view(step), scope="component",
                                  group_by=("task", "src_lang", "tgt_lang", "modality"),
                                  components=["text_decoder"], progress=progress)
        for row in res.table.itertuples(index=False):
            task, src, tgt, mod = row.group.split("/")
            lang = varying_language(task, src, tgt)
            conc.append({"step": step, "task": task, "lang": lang, "modality": mod, "component": row.scope,
                         "gini": row.gini, "top1_share": row.top1_share, "entropy": row.entropy,
                         "n_units": row.n_units})
            x, y = res.lorenz(row.group, row.scope)
            for xi, yi in zip(xs, np.interp(xs, x, y)):
                lor.append({"step": step, "task": task, "lang": lang, "modality": mod, "component": row.scope,
                            "x": float(xi), "y": float(yi)})
    return pd.DataFrame(conc), pd.DataFrame(lor)


def save_sets(jobs: dict[RankJob, Expertise], out: Path, *, k: int, mode: str, component: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for job, exp in jobs.items():
        if job.step == "encoder" or job.analysis == "modality":
            continue
        for label in exp.labels:
            kk = _k(exp, label, k, component)
            ns = select_units(exp, label, k=kk, mode=mode, component=component)
            paths.append(save_neuron_set(ns, out / f"{job.analysis}-{job.modality}-step{job.step}-{label}-{mode}{kk}.json"))
    return paths


def boot_tables(jobs: dict[RankJob, Expertise], store, *, k: int, mode: str, component: str, steps: Sequence[int],
                stats: StatsCfg, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The bootstrap tables over sentences (:mod:`babelscope.pipeline.analysis_boot`); a run whose corpus
    has fewer than two sentence groups gets none (its claims then say "not testable here")."""
    from babelscope.pipeline import analysis_boot as ab

    if store.samples["group"].astype(str).nunique() < 2:
        return {}
    common = dict(n_boot=stats.n_boot_rerank, seed=seed, alpha=stats.alpha)
    return {"overlap_boot": ab.overlap_boot(jobs, store, k=k, mode=mode, component=component, pool=stats.pool,
                                            **common),
            "encoder_depth_boot": ab.encoder_depth_boot(jobs, store, units_per_layer=stats.units_per_layer, **common),
            "concentration_boot": ab.concentration_boot(store, steps, **common)}


def write_analysis(jobs: dict[RankJob, Expertise], store, out: Path, *, k: int, mode: str, component: str,
                   steps: Sequence[int], progress: bool, stats: StatsCfg | None = None) -> dict[str, Path]:
    """Compute every table and write them as CSV into ``out`` (each file atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {"evidence": evidence(jobs), "ap_summary": ap_summary(jobs, k), "top_units_location": top_units_location(jobs, k),
              "across_steps": across_steps(jobs, k=k, mode=mode, component=component),
              "encoder_depth": encoder_depth(jobs), "modality_units": modality_units(jobs, k=k)}
    tables["overlap"], tables["spearman"] = overlap_and_spearman(jobs, k=k, mode=mode, component=component)
    tables["role_overlap"] = role_overlap(jobs, k=k, mode=mode, component=component)
    tables["concentration"], tables["lorenz"] = concentration_tables(store, steps, progress=progress)
    tables.update(boot_tables(jobs, store, k=k, mode=mode, component=component, steps=steps,
                              stats=stats or StatsCfg()))
    paths = {}
    for name, df in tables.items():
        if df.empty:
            continue
        tmp = temp_name(out / f"{name}.csv")
        df.to_csv(tmp, index=False)
        commit_file(tmp, out / f"{name}.csv")
        paths[name] = out / f"{name}.csv"
    return paths
