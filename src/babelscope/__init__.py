"""babelscope: neuron-level interpretability of multilingual speech-text models."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "open_activations"]


def open_activations(path):
    """Open an activation store written by ``babelscope record`` (see :mod:`babelscope.record.store`)."""
    from babelscope.record.store import open_activations as _open

    return _open(path)
