"""Recording: hooks, step-aware pooling during generation, the activation store."""

from babelscope.record.chunk import ChunkResult, ChunkSink, record_chunk
from babelscope.record.recorder import record
from babelscope.record.settings import RecordSettings
from babelscope.record.store import Activations, open_activations
from babelscope.record.compare import TOLERANCE, StoreComparison, compare_stores  # after the recorder it uses

__all__ = ["RecordSettings", "record", "record_chunk", "ChunkResult", "ChunkSink", "Activations", "open_activations",
           "compare_stores", "StoreComparison", "TOLERANCE"]

from babelscope.stage_module import make_stage_callable  # noqa: E402

make_stage_callable(__name__, "babelscope.api:record")  # babelscope.record(...) is babelscope.api.record(...)
