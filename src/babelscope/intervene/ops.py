"""What forcing does to a unit: one small class per intervention, registered by name (METHODS §7).

An intervention changes the chosen channels of a site's output ``x`` ``[batch, pos, d]`` where
``mask`` ``[batch, pos]`` is true, given one number per unit and position, ``values``
``[batch, pos, k]`` (from the neuron set's statistics, or recorded from another input):

==========  ===================================  ==============================================
name        ``apply``                            a unit's number (:meth:`unit_value`)
==========  ===================================  ==============================================
``replace`` ``x[..., u] = v``                    its ``value`` statistic × ``factor`` (METHODS
                                                 §7's median replacement: ``on_p50`` × 1)
``add``     ``x[..., u] += v``                   its ``value`` statistic × ``factor``
``scale``   ``x[..., u] *= v``                   ``factor``
``patch``   ``x[..., u] = v``                    given per sample: values recorded from another
                                                 input (:func:`~babelscope.intervene.spec.plan_from_values`)
==========  ===================================  ==============================================

A new intervention is a subclass with a ``name`` and ``apply`` (and ``unit_value`` when a unit's
number is not its statistic × factor), decorated with :func:`register_intervention`; the forcing
spec (``Forcing(op=...)``), the run config (``op = ...``) and the CLI (``--op``) then accept it.
See docs/architecture.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from babelscope.errors import ConfigError


class Intervention:
    """Base class: ``apply`` writes the forced units; ``unit_value`` gives a unit its number."""

    name: ClassVar[str]
    #: whether a unit's number comes from a statistic of its neuron set (the forcing's ``value``)
    uses_statistic: ClassVar[bool] = True
    #: whether a neuron set can drive it (False: its values come from elsewhere, e.g. another input)
    from_set: ClassVar[bool] = True

    def unit_value(self, unit: Any, kind: str, factor: float) -> float:
        """The number of one set unit (a :class:`~babelscope.rank.select.SetUnit`) for the forcing's
        ``value`` kind (``zero`` is 0) and ``factor``."""
        return 0.0 if kind == "zero" else float(getattr(unit, kind)) * factor

    def apply(self, x: torch.Tensor, units: torch.Tensor, mask: torch.Tensor,
              values: torch.Tensor) -> torch.Tensor:
        """``x`` ``[batch, pos, d]`` (a copy the caller owns) with ``units`` ``[k]`` changed where
        ``mask`` ``[batch, pos]`` holds, from ``values`` ``[batch, pos, k]``."""
        raise NotImplementedError

    @staticmethod
    def _where(x: torch.Tensor, units: torch.Tensor, mask: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        x[:, :, units] = torch.where(mask[:, :, None], new, x[:, :, units])
        return x


#: name -> the registered intervention
INTERVENTIONS: dict[str, Intervention] = {}


def register_intervention(cls: type[Intervention]) -> type[Intervention]:
    """Class decorator: make ``cls`` available by its ``name`` everywhere a forcing is given."""
    if not getattr(cls, "name", None):
        raise ConfigError(f"intervention class {cls.__name__} has no name")
    INTERVENTIONS[cls.name] = cls()
    return cls


def get_intervention(name: str) -> Intervention:
    if name not in INTERVENTIONS:
        raise ConfigError(f"forcing op: expected one of {sorted(INTERVENTIONS)}, got {name!r}")
    return INTERVENTIONS[name]


@register_intervention
class Replace(Intervention):
    """Set the units to their values (median replacement with ``on_p50``)."""

    name = "replace"

    def apply(self, x, units, mask, values):
        return self._where(x, units, mask, values)


@register_intervention
class Add(Intervention):
    """Add the values to the units (steering by a shift)."""

    name = "add"

    def apply(self, x, units, mask, values):
        return self._where(x, units, mask, x[:, :, units] + values)


@register_intervention
class Scale(Intervention):
    """Multiply the units by ``factor`` (``factor`` 0 ablates them)."""

    name = "scale"
    uses_statistic = False

    def unit_value(self, unit, kind, factor):
        return float(factor)

    def apply(self, x, units, mask, values):
        return self._where(x, units, mask, x[:, :, units] * values)


@register_intervention
class Patch(Replace):
    """Set the units to values recorded from another input (one row per sample of the batch)."""

    name = "patch"
    uses_statistic = False
    from_set = False

    def unit_value(self, unit, kind, factor):
        raise ConfigError("forcing op 'patch' takes its values from another input, not from a neuron set: build "
                          "the plan with plan_from_values(..., op='patch')")
