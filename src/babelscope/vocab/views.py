"""Views: which pooled response of a site a store array holds (METHODS §3).

A view is ``encoder`` (encoder-stream sites: pooled once per input over the valid positions of the
site's own time axis) or ``step=S/mean`` / ``step=S/last`` (decoder sites: the decoder positions of
generation step ``S``, averaged, or the last one). :class:`View` is a ``str`` — store keys, tables
and JSON hold it as the text above — that parses itself once and answers ``step``, ``pool`` and
``is_encoder``.
"""

from __future__ import annotations

import re

from babelscope.errors import ConfigError

ENCODER = "encoder"
#: poolings of a decoder step
POOLS = ("mean", "last")
_STEP = re.compile(r"step=(\d+)/(mean|last)")


class View(str):
    """``View("step=2/mean")``: a validated view name with its parts."""

    __slots__ = ()

    def __new__(cls, value: str) -> "View":
        if isinstance(value, View):
            return value
        text = str(value)
        if text != ENCODER and not _STEP.fullmatch(text):
            raise ConfigError(f"view {text!r} is not a view: expected 'encoder' or 'step=S/mean' / 'step=S/last' "
                              "with S a decoding step (e.g. 'step=2/mean')")
        return super().__new__(cls, text)

    @classmethod
    def step_view(cls, step: int, pool: str = "mean") -> "View":
        """The view of decoding step ``step`` pooled by ``pool``."""
        if pool not in POOLS:
            raise ConfigError(f"view pooling must be one of {list(POOLS)}, got {pool!r}")
        return cls(f"step={int(step)}/{pool}")

    @property
    def is_encoder(self) -> bool:
        return str.__eq__(self, ENCODER)

    @property
    def step(self) -> int | None:
        """The decoding step (None for ``encoder``)."""
        m = _STEP.fullmatch(self)
        return int(m.group(1)) if m else None

    @property
    def pool(self) -> str | None:
        """``mean`` or ``last`` (None for ``encoder``)."""
        m = _STEP.fullmatch(self)
        return m.group(2) if m else None

    def sort_key(self) -> tuple[int, int, str]:
        """``encoder`` first, then by step, then by pooling."""
        return (0, 0, "") if self.is_encoder else (1, int(self.step or 0), str(self.pool))


ENCODER_VIEW = View(ENCODER)
