"""Reading a run folder for the report: every file is optional, and a file that is missing or
unreadable becomes a recorded reason ("not run", "could not be read: ...") instead of an error.

The run-folder contract is in ``docs/report.md``. Only the columns named there are required; extra
columns are kept and may be used when present.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from babelscope.vocab.components import COMPONENT_NAMES  # noqa: F401  (the figures read it from here)
from babelscope.vocab.languages import STUDY_LANGUAGES, language_name
from babelscope.vocab.sites import is_kv_site

# Required columns of every analysis table (the contract; extra columns are allowed).
TABLES: dict[str, tuple[str, ...]] = {
    "evidence": ("analysis", "modality", "step", "label", "n_samples", "n_used", "n_dropped", "positives",
                 "negatives", "ranked", "why_skipped"),
    "ap_summary": ("analysis", "modality", "step", "label", "base_rate", "n_units", "max_ap",
                   "n_ap_over_0_9", "mean_top_ap", "k"),
    "top_units_location": ("analysis", "modality", "step", "label", "component", "group", "layer",
                           "count", "k"),
    "overlap": ("analysis", "step", "speech_label", "text_label", "k", "n_candidates", "count",
                "jaccard", "overlap_coef", "chance"),
    "spearman": ("analysis", "step", "label", "scope", "component", "layer", "rho", "n_units"),
    "across_steps": ("analysis", "modality", "label", "step_a", "step_b", "count", "k", "chance"),
    "role_overlap": ("modality", "step", "label", "k", "n_candidates", "count", "jaccard", "chance", "p_value"),
    "encoder_depth": ("modality", "component", "layer", "n_units", "mean_max_ap", "share_selective",
                      "chance_ap"),
    "modality_units": ("step", "component", "group", "site", "layer", "n_units", "n_top", "k", "mean_ap"),
    "concentration": ("step", "task", "lang", "modality", "component", "gini", "top1_share", "entropy",
                      "n_units"),
    "lorenz": ("step", "task", "lang", "modality", "component", "x", "y"),
    # bootstrap intervals over sentences (pipeline/analysis_boot.py)
    "overlap_boot": ("step_a", "step_b", "value_a", "value_b", "estimate", "lo", "hi", "alpha", "n_boot",
                     "n_groups", "k"),
    "encoder_depth_boot": ("component", "modality", "n_layers", "units_per_layer", "n_groups", "slope",
                           "slope_lo", "slope_hi", "first_excess", "first_lo", "first_hi", "alpha", "n_boot"),
    "concentration_boot": ("contrast", "estimate", "lo", "hi", "n_cells", "n_groups", "alpha", "n_boot", "pairing"),
}
STEP_COLUMNS = ("step", "step_a", "step_b")
#: tables a run may lack without the report saying "not run" in a section (their claims say why)
OPTIONAL_TABLES = ("overlap_boot", "encoder_depth_boot", "concentration_boot", "role_overlap")
RESULT_COLUMNS = ("sample_id", "group", "condition", "task", "src_lang", "tgt_lang", "modality", "expected_lang",
                  "text", "reference", "lid_lang", "is_expected", "expected_prob", "chrf",
                  "point", "k", "factor", "baseline_seed")  # the last four: dose-response sweeps only
CONDITIONS = ("unforced", "forced", "baseline")

#: the study's languages with their display names, in the order figures show them
LANG_NAMES = {c: language_name(c, short=True) for c in STUDY_LANGUAGES}


def lang_name(code: Any) -> str:
    """Full language name of an ISO 639-3 code; other labels come back as they are. Composite labels
    such as ``deu/speech`` are named part by part (``German/speech``)."""
    return "/".join(language_name(p, short=True) for p in str(code).split("/"))


def step_key(step: Any) -> tuple[int, float, str]:
    """Sort key of a step: ``encoder`` first, then numeric steps ascending, then anything else."""
    s = str(step)
    if s == "encoder":
        return (0, 0.0, s)
    try:
        return (1, float(s), s)
    except ValueError:
        return (2, 0.0, s)


def is_numeric_step(step: Any) -> bool:
    return step_key(step)[0] == 1


def layer_name(layer: Any) -> str:
    """A layer as figures and tables show it: its number, or "no layer" for the -1 bucket (modules outside the
    layer stacks: embeddings, final norms, the speech adaptor's projections)."""
    try:
        return "no layer" if int(layer) < 0 else str(int(layer))
    except (TypeError, ValueError):
        return str(layer)


def step_label(step: Any) -> str:
    s = str(step)
    return "encoder" if s == "encoder" else (f"step {s}" if is_numeric_step(s) else s)


def sorted_steps(values) -> list[str]:
    return sorted({str(v) for v in values}, key=step_key)


def _norm_step(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass
class Intervention:
    """One entry of ``interventions/index.json`` with its summary and results (either may be None)."""

    name: str
    spec: dict[str, Any]
    summary: dict[str, Any] | None
    results: pd.DataFrame | None
    problem: str | None = None

    @property
    def kind(self) -> str:
        return str(self.spec.get("kind") or "")

    @property
    def direction(self) -> str:
        return f"{self.spec.get('source_modality') or '?'} → {self.spec.get('target_modality') or '?'}"

    @property
    def steps(self) -> tuple[int, int] | None:
        st = self.spec.get("steps")
        if isinstance(st, (list, tuple)) and len(st) == 2:
            try:
                return int(st[0]), int(st[1])
            except (TypeError, ValueError):
                return None
        return None

    @property
    def steps_label(self) -> str:
        st = self.steps
        return "all steps" if st is None else f"steps [{st[0]}, {st[1]})"

    @property
    def curve(self) -> list[dict[str, Any]] | None:
        """The dose-response points of a sweep (``summary.curve``), else None."""
        c = (self.summary or {}).get("curve")
        return c if isinstance(c, list) and c else None

    def condition(self, cond: str) -> dict[str, Any] | None:
        if not self.summary:
            return None
        return (self.summary.get("conditions") or {}).get(cond)

    def effect(self, pair: str, metric: str) -> dict[str, Any] | None:
        if not self.summary:
            return None
        return ((self.summary.get("effects") or {}).get(pair) or {}).get(metric)


@dataclass
class RunData:
    """Everything the report reads from a run folder. ``problems`` maps a table name to the reason
    it is absent ("not run: <file> is missing" or "could not be read: ...")."""

    root: Path
    run: dict[str, Any] | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)
    interventions: list[Intervention] | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        return self.tables.get(name)

    def why_missing(self, name: str) -> str:
        return self.problems.get(name, f"not run: analysis/{name}.csv is missing")

    def path(self, name: str) -> Path:
        return self.root / "analysis" / f"{name}.csv"


def _read_table(path: Path, required: tuple[str, ...]) -> tuple[pd.DataFrame | None, str | None]:
    if not path.is_file():
        return None, f"not run: {path.parent.name}/{path.name} is missing"
    try:
        df = pd.read_csv(path, keep_default_na=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return None, f"could not be read: {path.parent.name}/{path.name}: {type(exc).__name__}: {exc}"
    missing = [c for c in required if c not in df.columns]
    if missing:
        return None, (f"could not be read: {path.parent.name}/{path.name} lacks column(s) "
                      f"{', '.join(missing)}")
    if df.empty:
        return None, f"not run: {path.parent.name}/{path.name} has no rows"
    for c in STEP_COLUMNS:
        if c in df.columns:
            df[c] = df[c].map(_norm_step)
    for c in ("label", "speech_label", "text_label", "analysis", "modality", "component", "group",
              "lang", "task", "site", "scope"):
        if c in df.columns:
            df[c] = df[c].fillna("").astype(str)
    if "layer" in df.columns:
        df["layer"] = pd.to_numeric(df["layer"], errors="coerce").fillna(-1).astype(int)
    return df, None


def _read_json(path: Path) -> tuple[Any, str | None]:
    if not path.is_file():
        return None, f"{path.name} is missing"
    try:
        return json.loads(path.read_text("utf-8")), None
    except Exception as exc:  # noqa: BLE001
        return None, f"{path.name} could not be read: {type(exc).__name__}: {exc}"


def _read_interventions(root: Path) -> tuple[list[Intervention] | None, str | None]:
    folder = root / "interventions"
    index, problem = _read_json(folder / "index.json")
    if index is None:
        return None, f"not run: interventions/{problem}"
    if not isinstance(index, list):
        return None, "could not be read: interventions/index.json is not a list"
    out = []
    for i, spec in enumerate(index):
        if not isinstance(spec, dict):
            continue
        name = str(spec.get("name") or f"intervention-{i}")
        sub = (folder / name).resolve()
        if folder.resolve() not in sub.parents:
            out.append(Intervention(name, spec, None, None, "name points outside interventions/"))
            continue
        summary, p1 = _read_json(sub / "summary.json")
        results, p2 = None, None
        rp = sub / "results.parquet"
        if rp.is_file():
            try:
                results = pd.read_parquet(rp)
                keep = [c for c in RESULT_COLUMNS if c in results.columns]
                results = results[keep]
            except Exception as exc:  # noqa: BLE001
                p2 = f"results.parquet could not be read: {type(exc).__name__}: {exc}"
        else:
            p2 = "results.parquet is missing"
        problem = "; ".join(p for p in (p1, p2) if p) or None
        out.append(Intervention(name, spec, summary if isinstance(summary, dict) else None, results, problem))
    return out, None


def load_run(run_dir: str | Path) -> RunData:
    """Read a run folder; never raises for a missing or broken file (see :class:`RunData`)."""
    root = Path(run_dir)
    data = RunData(root=root)
    run, problem = _read_json(root / "run.json")
    if isinstance(run, dict):
        data.run = run
    else:
        data.problems["run"] = problem or "run.json is not an object"
    for name, cols in TABLES.items():
        df, problem = _read_table(data.path(name), cols)
        if df is not None:
            data.tables[name] = df
        else:
            data.problems[name] = problem or "not run"
    data.interventions, problem = _read_interventions(root)
    if problem:
        data.problems["interventions"] = problem
    return data


FAMILY_NAMES = {"x2en": "X→English", "en2x": "English→X"}


def modality_groups(df: pd.DataFrame) -> pd.DataFrame:
    """Aggregate ``modality_units`` per step into categories (component · group, with the
    cross-attention key/value projections split off as ``cross-attn k/v``): n_units, n_top, the
    shares of all units and of the top-k units, and the enrichment (share of top / share of units)."""
    d = df.copy()
    if "family" not in d.columns:  # tables written before both families were ranked: X→English only
        d["family"] = "x2en"
    d["family"] = d["family"].fillna("x2en").astype(str)
    kv = d["site"].map(is_kv_site).astype(bool)
    d["category"] = np.where(kv, d["component"].map(lambda c: COMPONENT_NAMES.get(c, c)) + ": cross-attn k/v",
                             d["component"].map(lambda c: COMPONENT_NAMES.get(c, c)) + ": " + d["group"]
                             + np.where(d["group"] == "cross_attn", " (other)", ""))
    d["is_kv"] = kv
    g = d.groupby(["family", "step", "category"], sort=False).agg(
        n_units=("n_units", "sum"), n_top=("n_top", "sum"), is_kv=("is_kv", "any")).reset_index()
    tot = g.groupby(["family", "step"])[["n_units", "n_top"]].transform("sum")
    g["share_units"] = g["n_units"] / tot["n_units"]
    g["share_top"] = g["n_top"] / tot["n_top"].where(tot["n_top"] > 0)
    g["enrichment"] = g["share_top"] / g["share_units"].where(g["share_units"] > 0)
    return g


def fnum(x: Any, digits: int = 3) -> str:
    """Format a number for text: integers as integers, floats with ``digits`` decimals, NaN and
    None as an en dash; anything else as ``str``."""
    if x is None:
        return "–"
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        v = float(x)
    except (TypeError, ValueError):
        return str(x)
    if math.isnan(v):
        return "–"
    return f"{v:.{digits}f}"
