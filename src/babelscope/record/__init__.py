"""Recording: hooks, step-aware pooling during generation, the activation store."""

from babelscope.record.recorder import RecordSettings, record
from babelscope.record.store import Activations, open_activations
from babelscope.record.compare import TOLERANCE, StoreComparison, compare_stores  # after the recorder it uses

__all__ = ["RecordSettings", "record", "Activations", "open_activations", "compare_stores", "StoreComparison",
           "TOLERANCE"]
