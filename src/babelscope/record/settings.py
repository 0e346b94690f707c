"""What to record: :class:`RecordSettings`, built from a run config by :meth:`RecordSettings.from_config`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from babelscope.errors import ConfigError
from babelscope.record.capture import DECODER_VIEWS, ENCODER_POOLINGS
from babelscope.threads import check_threads

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.models.base import ModelAdapter


@dataclass
class RecordSettings:
    """What to record. ``sites`` are globs/regexes/component names (see ``select_sites``).

    The defaults are the run config's (``[record]``, :class:`babelscope.config.schema.RecordCfg`)
    except ``sites``: here the decoder only, in a study config all three components.

    ``threads``: torch intra-op threads of every process that computes chunks (the local recorder,
    each Ray actor); ``None`` is torch's default in the calling process, resolved to a number in the
    store's ``record.json`` (see :mod:`babelscope.threads`).
    """

    steps: tuple[int, ...] = (2, 7, 12)
    sites: tuple[str, ...] = ("text_decoder",)
    encoder_pooling: str = "mean"
    decoder_views: tuple[str, ...] = DECODER_VIEWS
    batch_size: int = 16
    dtype: str = "float32"
    max_new_tokens: int = 24
    threads: int | None = None

    @classmethod
    def from_config(cls, r: Any) -> "RecordSettings":
        """The settings of a run config's ``[record]`` table (:class:`babelscope.config.schema.RecordCfg`)."""
        return cls(steps=tuple(r.steps), sites=tuple(r.sites), batch_size=r.batch_size, dtype=r.dtype,
                   max_new_tokens=r.max_new_tokens, threads=r.threads)

    def validate(self, adapter: "ModelAdapter") -> None:
        if not self.steps:
            raise ConfigError("steps: give at least one decoding step")
        if any((not isinstance(s, int)) or s < 1 for s in self.steps):
            raise ConfigError(f"steps: every step must be an integer >= 1, got {list(self.steps)}")
        adapter.check_generation_length(self.max_new_tokens)
        limit = adapter.decoder_prompt_length + self.max_new_tokens - 1
        if max(self.steps) > limit:
            raise ConfigError(f"steps: step {max(self.steps)} is beyond the longest decoded prefix ({limit} = "
                              f"{adapter.decoder_prompt_length} start tokens + max_new_tokens {self.max_new_tokens} - 1); "
                              "raise max_new_tokens or lower the step")
        if self.encoder_pooling not in ENCODER_POOLINGS:
            raise ConfigError(f"encoder_pooling: choose from {ENCODER_POOLINGS}, not {self.encoder_pooling!r}")
        bad = set(self.decoder_views) - set(DECODER_VIEWS)
        if bad or not self.decoder_views:
            raise ConfigError(f"decoder_views: choose from {DECODER_VIEWS}, got {list(self.decoder_views)}")
        if self.batch_size < 1:
            raise ConfigError("batch_size must be >= 1")
        if self.dtype not in ("float16", "float32"):
            raise ConfigError(f"dtype: the store holds float16 or float32, not {self.dtype!r}")
        check_threads(self.threads)
