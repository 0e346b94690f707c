"""Recording: hooks, step-aware pooling during generation, the activation store."""

from babelscope.record.recorder import RecordSettings, record
from babelscope.record.compare import TOLERANCE, StoreComparison, compare_stores  # noqa: E402 (uses the recorder)
from babelscope.record.store import Activations, open_activations

__all__ = ["RecordSettings", "record", "Activations", "open_activations", "compare_stores", "StoreComparison",
           "TOLERANCE"]
