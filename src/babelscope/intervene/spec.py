"""What to force: a serializable forcing specification and its resolution against a model.

A :class:`Forcing` names one or more neuron sets and how to force them (METHODS §7):

* ``op``: what is done to a unit (:mod:`babelscope.intervene.ops`): ``replace`` (default), ``add``,
  ``scale``, or a registered intervention;
* ``value``: ``on_p50`` (median replacement, default), ``on_p90``, ``off_p50``, ``off_mean`` or
  ``zero``; ``factor`` multiplies the value (``on_p50`` × 2, ...);
* ``positions``: ``all`` (every decoder position, default) or ``newest``;
* ``steps``: ``None`` (every decoding step) or ``(a, b)``: only the decoder positions that belong to
  steps ``a <= s < b``, where the state at position ``p`` is step ``p + 1`` (it has seen a prefix
  of ``p + 1`` tokens and emits the next one). Encoder-stream units (encoder sites and the decoder's
  cross-attention key/value projections) are forced once per input, on its valid positions, so a
  step range cannot apply to them: a forcing with a step range and encoder-stream units is an error
  unless ``allow_encoder_stream=True`` says that those units are meant to be forced on every step.

``Forcing.to_json`` / ``Forcing.from_json`` round-trip the whole specification, neuron sets
included, so a results folder says exactly what was forced. :func:`resolve` turns it into a
:class:`ForcingPlan`: per site, the unit indices and one value per unit, checked against the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch

from babelscope.errors import ConfigError, SiteError
from babelscope.intervene.ops import get_intervention
from babelscope.models.base import ModelAdapter
from babelscope.vocab.sites import Site
from babelscope.rank.select import NeuronSet, neuron_set_from_json

VALUE_KINDS = ("on_p50", "on_p90", "off_p50", "off_mean", "zero")
POSITIONS = ("all", "newest")


@dataclass(frozen=True)
class Forcing:
    sets: tuple[NeuronSet, ...]
    value: str = "on_p50"
    factor: float = 1.0
    positions: str = "all"
    steps: tuple[int, int] | None = None
    name: str = "forced"
    #: with a step range: force encoder-stream units anyway (on every step); see the module docstring
    allow_encoder_stream: bool = False
    #: the intervention (:data:`babelscope.intervene.ops.INTERVENTIONS`)
    op: str = "replace"

    def __post_init__(self) -> None:
        object.__setattr__(self, "sets", tuple(self.sets))
        if self.steps is not None:
            object.__setattr__(self, "steps", (int(self.steps[0]), int(self.steps[1])))
        self.validate()

    def validate(self) -> None:
        if not self.sets:
            raise ConfigError("forcing: give at least one neuron set")
        for ns in self.sets:
            if len(ns) == 0:
                raise ConfigError(f"forcing: neuron set {ns.label!r} ({ns.mode}, k={ns.k}) is empty; "
                                  "forcing an empty set would change nothing")
        if not math.isfinite(self.factor):
            raise ConfigError(f"forcing factor: expected a finite number, got {self.factor!r}")
        get_intervention(self.op)
        if self.value not in VALUE_KINDS:
            raise ConfigError(f"forcing value: choose from {', '.join(VALUE_KINDS)}, not {self.value!r}")
        if self.positions not in POSITIONS:
            raise ConfigError(f"forcing positions: choose from {', '.join(POSITIONS)}, not {self.positions!r}")
        if self.steps is not None:
            a, b = self.steps
            if a < 1 or b <= a:
                raise ConfigError(f"forcing steps: need 1 <= a < b for the range [a, b), got [{a}, {b})")

    def describe(self) -> str:
        sets = "+".join(f"{ns.label}/{ns.mode}{ns.k}" for ns in self.sets)
        scope = "all steps" if self.steps is None else f"steps [{self.steps[0]}, {self.steps[1]})"
        fac = "" if self.factor == 1.0 else f" x{self.factor:g}"
        enc = " (encoder-stream units on every step)" if self.allow_encoder_stream and self.steps else ""
        what = f"{self.value}{fac}" if get_intervention(self.op).uses_statistic else f"x{self.factor:g}"
        op = "" if self.op == "replace" else f"{self.op} "
        return f"{sets} -> {op}{what}, {self.positions} positions, {scope}{enc}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "op": self.op, "value": self.value, "factor": self.factor, "positions": self.positions,
                "steps": list(self.steps) if self.steps else None, "allow_encoder_stream": self.allow_encoder_stream,
                "sets": [ns.to_json() for ns in self.sets]}

    @classmethod
    def from_json(cls, data: Any, source: str = "forcing") -> "Forcing":
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a JSON object")
        unknown = set(data) - {"name", "op", "value", "factor", "positions", "steps", "sets", "allow_encoder_stream"}
        if unknown:
            raise ConfigError(f"{source}: unknown field {sorted(unknown)[0]!r}")
        if "sets" not in data or not isinstance(data["sets"], list):
            raise ConfigError(f"{source}: field 'sets' must be a list of neuron sets")
        sets = tuple(neuron_set_from_json(s, f"{source}: sets[{i}]") for i, s in enumerate(data["sets"]))
        steps = data.get("steps")
        if steps is not None and (not isinstance(steps, list) or len(steps) != 2):
            raise ConfigError(f"{source}: field 'steps' must be null or [a, b]")
        allow = data.get("allow_encoder_stream", False)
        if not isinstance(allow, bool):
            raise ConfigError(f"{source}: field 'allow_encoder_stream' must be true or false, got {allow!r}")
        return cls(sets=sets, value=data.get("value", "on_p50"), factor=float(data.get("factor", 1.0)),
                   positions=data.get("positions", "all"), steps=tuple(steps) if steps else None,
                   name=data.get("name", "forced"), allow_encoder_stream=allow, op=data.get("op", "replace"))


#: a value source: (site, positions [pos] long tensor, batch size) -> values [batch, pos, units]
ValueFn = Callable[[Site, torch.Tensor, int], torch.Tensor]


@dataclass
class SiteForcing:
    """Units of one site, their values and the intervention (``op``) that applies them: one value
    per unit ``[k]``, one per sample and unit ``[batch, k]`` (patching), or a value function."""

    site: Site
    units: torch.Tensor                       # long [k]
    values: torch.Tensor | ValueFn            # float [k] or [batch, k], or a ValueFn
    op: str = "replace"

    def values_for(self, positions: torch.Tensor, batch: int) -> torch.Tensor:
        """``[batch, pos, k]``."""
        if callable(self.values):
            return self.values(self.site, positions, batch)
        if self.values.dim() == 2:
            if self.values.shape[0] != batch:
                raise ConfigError(f"site {self.site.name}: {self.values.shape[0]} rows of values for a batch of {batch}")
            return self.values[:, None, :].expand(batch, len(positions), -1)
        return self.values[None, None, :].expand(batch, len(positions), -1)


@dataclass
class ForcingPlan:
    """Resolved forcing: per site, unit indices and values; plus the decoder scope."""

    sites: dict[str, SiteForcing]
    positions: str = "all"
    steps: tuple[int, int] | None = None
    description: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_units(self) -> int:
        return sum(len(f.units) for f in self.sites.values())

    def __repr__(self) -> str:
        return f"ForcingPlan({self.n_units} units at {len(self.sites)} site(s): {self.description or '-'})"

    def positions_forced(self, positions: torch.Tensor) -> torch.Tensor:
        """Which decoder positions ``p`` (step ``p + 1``) are inside the step range: bool [pos]."""
        if self.steps is None:
            return torch.ones(positions.shape, dtype=torch.bool)
        step = positions + 1
        return (step >= self.steps[0]) & (step < self.steps[1])


def resolve(forcing: Forcing, adapter: ModelAdapter) -> ForcingPlan:
    """Check a forcing against the model's sites and build the per-site plan.

    A unit named by two sets must get the same value from both; otherwise it is an error.
    """
    by_name = {s.name: s for s in adapter.sites()}
    op = get_intervention(forcing.op)
    chosen: dict[str, dict[int, float]] = {}
    origin: dict[tuple[str, int], str] = {}
    for ns in forcing.sets:
        if ns.model in ("unknown", ""):
            raise ConfigError(f"neuron set {ns.label!r} does not say which model it was selected on (provenance "
                              f"model {ns.model!r}), so it cannot be checked against {adapter.name!r}; select it "
                              "again from an expertise table of this model")
        if ns.model != adapter.name and ns.model != adapter.describe().get("id"):
            raise ConfigError(f"neuron set {ns.label!r} was selected on model {ns.model!r}, "
                              f"but the model is {adapter.name!r}")
        for u in ns.units:
            site = by_name.get(u.site)
            if site is None:
                raise SiteError(f"neuron set {ns.label!r}: site {u.site!r} does not exist in {adapter.name}")
            if not 0 <= u.unit < site.n_units:
                raise SiteError(f"neuron set {ns.label!r}: unit {u.unit} is out of range for site {u.site} "
                                f"({site.n_units} units)")
            v = op.unit_value(u, forcing.value, forcing.factor)
            if not math.isfinite(v):
                raise ConfigError(f"neuron set {ns.label!r}: unit {u.site}#{u.unit} has a non-finite {forcing.value} "
                                  f"value ({v}); forcing it would break every output")
            prev = chosen.setdefault(u.site, {}).get(u.unit)
            if prev is not None and prev != v:
                raise ConfigError(f"unit {u.site}#{u.unit} is in sets {origin[u.id]!r} and {ns.label!r} with "
                                  f"different {forcing.value} values ({prev:g} vs {v:g})")
            chosen[u.site][u.unit] = v
            origin[u.id] = ns.label
    if forcing.steps is not None and not forcing.allow_encoder_stream:
        enc = {name: len(u) for name, u in chosen.items() if by_name[name].stream == "encoder"}
        if enc:
            a, b = forcing.steps
            raise ConfigError(
                f"forcing {forcing.name!r}: {sum(enc.values())} of its units sit at encoder-stream sites "
                f"({', '.join(sorted(enc)[:3])}{', ...' if len(enc) > 3 else ''}), which have one value per input "
                f"and are forced on every step, so the step range [{a}, {b}) would not hold for them; select from "
                "component 'text_decoder' (decoder stream only), drop the step range, or allow it explicitly "
                "(allow_encoder_stream)")
    sites = {}
    for name in sorted(chosen, key=list(by_name).index):
        units = sorted(chosen[name])
        sites[name] = SiteForcing(site=by_name[name], units=torch.tensor(units, dtype=torch.long),
                                  values=torch.tensor([chosen[name][i] for i in units], dtype=torch.float32),
                                  op=forcing.op)
    return ForcingPlan(sites=sites, positions=forcing.positions, steps=forcing.steps,
                       description=forcing.describe(), meta=forcing.to_json())


def plan_from_values(adapter: ModelAdapter, units: dict[str, Sequence[int]], values: dict[str, Any], *,
                     positions: str = "all", steps: tuple[int, int] | None = None,
                     op: str = "replace") -> ForcingPlan:
    """A plan from explicit units and values per site: constants ``[k]``, one row per sample
    ``[batch, k]`` (e.g. ``op="patch"`` with values recorded from other inputs) or a :data:`ValueFn`."""
    get_intervention(op)
    by_name = {s.name: s for s in adapter.sites()}
    sites = {}
    for name, idx in units.items():
        if name not in by_name:
            raise SiteError(f"site {name!r} does not exist in {adapter.name}")
        if len(idx) == 0:
            raise ConfigError(f"site {name!r}: no units to force")
        val = values[name]
        if not callable(val):
            val = torch.as_tensor(val, dtype=torch.float32)
        sites[name] = SiteForcing(by_name[name], torch.as_tensor(list(idx), dtype=torch.long), val, op=op)
    if not sites:
        raise ConfigError("forcing: no units given")
    if positions not in POSITIONS:
        raise ConfigError(f"forcing positions: choose from {', '.join(POSITIONS)}, not {positions!r}")
    return ForcingPlan(sites=sites, positions=positions, steps=steps, description="explicit values")
