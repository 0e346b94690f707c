"""Neuron sets: the units chosen from an expertise table for one label (METHODS §5).

Units are totally ordered by (AP descending, site ascending, unit ascending). ``top`` takes the
first k of that order, ``bottom`` the last k (listed lowest AP first), ``both`` the first k//2 and
the last k - k//2 (disjoint whenever k <= the number of candidates), ``random`` k units drawn
without replacement by ``numpy.random.default_rng(seed)`` from the candidates in (site, unit) order.
Candidates are the units of one component (METHODS §5, streams):

* ``speech_encoder``, ``text_encoder``: by the ``component`` column;
* ``text_decoder``: the decoder-stream units of the text decoder (one value per decoder position,
  so a response per step and forcing per step), i.e. every text-decoder unit except the
  cross-attention key/value projections;
* ``decoder_kv``: the decoder's cross-attention key/value projections (encoder-stream units: one
  value per input, forced on every step);
* ``decoder_all``: every text-decoder unit, both streams;
* ``decoder_attn``: decoder-stream units of groups ``self_attn`` and ``cross_attn``;
* ``decoder_ffn``: text-decoder units of group ``ffn``;
* ``all``: every unit of the table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from babelscope.atomic import commit_file, temp_name
from babelscope.errors import ConfigError
from babelscope.vocab.components import SET_COMPONENTS
from babelscope.vocab.sites import is_kv_site
from babelscope.rank.ap import STAT_NAMES
from babelscope.rank.expertise import Expertise

MODES = ("top", "bottom", "both", "random")
FORMAT = "babelscope.neuron_set"
UNIT_FIELDS = ("site", "unit", "ap") + STAT_NAMES
PROVENANCE_FIELDS = ("model", "analysis", "label", "task", "modality", "view", "component", "k",
                     "mode", "seed", "n_candidates")


@dataclass(frozen=True)
class SetUnit:
    """One selected unit with its AP and forcing values."""

    site: str
    unit: int
    ap: float
    on_p50: float
    on_p90: float
    off_p50: float
    off_mean: float

    @property
    def id(self) -> tuple[str, int]:
        return (self.site, self.unit)


@dataclass(frozen=True)
class NeuronSet:
    """A neuron set with its provenance (where it came from) and units."""

    model: str
    analysis: str
    label: str
    task: str
    modality: str
    view: str
    component: str
    k: int
    mode: str
    seed: int | None
    n_candidates: int
    units: tuple[SetUnit, ...] = field(default_factory=tuple)

    @property
    def ids(self) -> frozenset[tuple[str, int]]:
        return frozenset(u.id for u in self.units)

    def __len__(self) -> int:
        return len(self.units)

    def __repr__(self) -> str:
        sites = len({u.site for u in self.units})
        return (f"NeuronSet({self.label!r}, {self.analysis}, {self.mode} {len(self.units)} of {self.component}, "
                f"view={self.view!r}, model={self.model!r}, sites={sites})")

    def provenance(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in PROVENANCE_FIELDS}

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(u) for u in self.units], columns=list(UNIT_FIELDS))

    def to_json(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": 1, "provenance": self.provenance(),
                "units": [asdict(u) for u in self.units]}


def component_mask(component: str, comp: Sequence[str], group: Sequence[str], site: Sequence[str]) -> np.ndarray:
    """Which units (given by their component, group and site columns) belong to set component
    ``component`` (see the module docstring)."""
    if component not in SET_COMPONENTS:
        raise ConfigError(f"component={component!r} is not one of {list(SET_COMPONENTS)}")
    comp = np.asarray(comp, dtype=object).astype(str)
    group = np.asarray(group, dtype=object).astype(str)
    sites = pd.Series(np.asarray(site, dtype=object)).astype(str)
    kv = sites.isin([s for s in sites.unique() if is_kv_site(s)]).to_numpy()
    dec = comp == "text_decoder"
    if component == "all":
        return np.ones(comp.shape, dtype=bool)
    if component == "decoder_all":
        return dec
    if component == "text_decoder":
        return dec & ~kv
    if component == "decoder_kv":
        return dec & kv
    if component == "decoder_attn":
        return dec & ~kv & np.isin(group, ["self_attn", "cross_attn"])
    if component == "decoder_ffn":
        return dec & (group == "ffn")
    return comp == component


def candidates(table: pd.DataFrame, component: str, label: str) -> pd.DataFrame:
    """Rows of ``table`` for ``label`` inside ``component``, in (site, unit) order."""
    if component not in SET_COMPONENTS:
        raise ConfigError(f"component={component!r} is not one of {list(SET_COMPONENTS)}")
    labels = table["label"].astype(str)
    if not (labels == label).any():
        raise ConfigError(f"label={label!r} is not in the expertise table "
                          f"(labels: {sorted(labels.unique().tolist())})")
    rows = table[(labels == label).to_numpy()]
    rows = rows[component_mask(component, rows["component"], rows["group"], rows["site"])]
    rows = rows.assign(site=rows["site"].astype(str))
    return rows.sort_values(["site", "unit"], kind="stable").reset_index(drop=True)


def rank_order(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows (given in (site, unit) order) in the total order (AP desc, site asc, unit asc)."""
    ap = rows["ap"].to_numpy(dtype=np.float64)
    if np.isnan(ap).any():
        raise ConfigError("expertise table has NaN AP values; re-run ranking")
    return rows.iloc[np.argsort(-ap, kind="stable")]


def select_units(exp: Expertise | pd.DataFrame, label: str, *, k: int, mode: str = "both",
                 component: str = "text_decoder", seed: int | None = 0,
                 meta: dict[str, Any] | None = None) -> NeuronSet:
    """Select k units for ``label`` inside ``component`` (see module docs for the modes).

    ``k`` larger than the number of candidate units raises :class:`ConfigError`.
    """
    if isinstance(exp, Expertise):
        exp = exp.loaded()  # a table streamed to its file by rank_store(out=...) is read back
        table, meta = exp.table, exp.meta
    else:
        table, meta = exp, (meta or {})
    if mode not in MODES:
        raise ConfigError(f"mode={mode!r} is not one of {list(MODES)}")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    rows = candidates(table, component, label)
    n = len(rows)
    if k > n:
        raise ConfigError(f"k={k} is larger than component {component!r}, which has {n} units")
    if mode == "random":
        if seed is None:
            raise ConfigError("mode='random' needs a seed")
        pick = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
        chosen = rows.iloc[pick]
    else:
        ranked = rank_order(rows)
        top = k if mode == "top" else k // 2 if mode == "both" else 0
        bottom = k - top
        parts = [ranked.iloc[:top]] + ([ranked.iloc[n - bottom:].iloc[::-1]] if bottom else [])
        chosen = pd.concat(parts)
    units = tuple(SetUnit(str(r.site), int(r.unit), float(r.ap), float(r.on_p50), float(r.on_p90),
                          float(r.off_p50), float(r.off_mean)) for r in chosen.itertuples(index=False))
    an = meta.get("analysis", {})
    return NeuronSet(model=str(meta.get("model", "unknown")), analysis=str(an.get("analysis", "unknown")),
                     label=label, task=str(an.get("task", "unknown")),
                     modality=str(an.get("modality", "unknown")), view=str(meta.get("view", "unknown")),
                     component=component, k=int(k), mode=mode,
                     seed=int(seed) if mode == "random" and seed is not None else None,
                     n_candidates=n, units=units)


def save_neuron_set(ns: NeuronSet, path: str | Path) -> Path:
    """Write a neuron set as JSON, atomically (temporary file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        tmp.write_text(json.dumps(ns.to_json(), indent=1), encoding="utf-8")
        commit_file(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _field(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in obj:
        raise ConfigError(f"{where}: missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{where}: field {key!r} has type {type(value).__name__}")
    return value


def neuron_set_from_json(data: Any, source: str = "neuron set") -> NeuronSet:
    """Validate and build a :class:`NeuronSet` from its JSON form (errors name the bad field)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a JSON object")
    if data.get("format") != FORMAT:
        raise ConfigError(f"{source}: field 'format' is {data.get('format')!r}, expected {FORMAT!r}")
    prov = _field(data, "provenance", dict, source)
    p = {f: _field(prov, f, (int,) if f in ("k", "n_candidates") else str, f"{source}: provenance")
         for f in PROVENANCE_FIELDS if f != "seed"}
    seed = prov.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise ConfigError(f"{source}: provenance field 'seed' must be an integer or null")
    if p["mode"] not in MODES:
        raise ConfigError(f"{source}: provenance field 'mode' is {p['mode']!r}, not one of {list(MODES)}")
    units_raw = _field(data, "units", list, source)
    units = []
    for i, u in enumerate(units_raw):
        where = f"{source}: units[{i}]"
        if not isinstance(u, dict):
            raise ConfigError(f"{where}: expected an object")
        vals = {"site": _field(u, "site", str, where), "unit": _field(u, "unit", int, where)}
        for f in ("ap",) + STAT_NAMES:
            vals[f] = float(_field(u, f, (int, float), where))
        units.append(SetUnit(**vals))
    if len(units) != p["k"]:
        raise ConfigError(f"{source}: provenance says k={p['k']} but the file lists {len(units)} units")
    if len({u.id for u in units}) != len(units):
        raise ConfigError(f"{source}: field 'units' lists a unit twice")
    return NeuronSet(**p, seed=seed, units=tuple(units))


def load_neuron_set(path: str | Path) -> NeuronSet:
    """Read and validate a neuron set JSON file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such neuron set file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return neuron_set_from_json(data, str(path))
