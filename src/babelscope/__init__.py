"""babelscope: neuron-level interpretability of multilingual speech-text models.

``import babelscope as bs`` gives the pipeline's stages as functions (:mod:`babelscope.api`):
``bs.load_model``, ``bs.demo_corpus`` / ``bs.load_corpus``, ``bs.samples``, ``bs.record`` (in memory with
``out=None``), ``bs.rank``, ``bs.select``, ``bs.generate``, ``bs.forcing`` (a context manager),
``bs.intervene``, ``bs.report`` and ``bs.open_activations``. They are imported on first use, so
``import babelscope`` itself stays light.
"""

from __future__ import annotations

from typing import Any

from babelscope.version import __version__

_API = ("load_model", "load_corpus", "demo_corpus", "samples", "record", "rank", "select", "generate", "forcing",
        "intervene", "report", "open_activations", "in_memory")

__all__ = ["__version__", *_API]


#: stage functions that share their name with the stage's package, which is made callable
#: (:mod:`babelscope.stage_module`): ``bs.rank(...)`` works whether or not ``babelscope.rank`` was imported
_STAGE_PACKAGES = ("record", "rank", "intervene", "report")


def __getattr__(name: str) -> Any:
    import importlib

    if name in _STAGE_PACKAGES:
        return importlib.import_module(f"babelscope.{name}")
    if name in _API:
        return getattr(importlib.import_module("babelscope.api"), name)
    raise AttributeError(f"module 'babelscope' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
