"""Defaults shared by a stage's Python API, its CLI options and the run config (a leaf: the CLI reads
them without importing the stage).

``MIN_POSITIVES`` / ``MIN_NEGATIVES``: the fewest positives and negatives a label needs among the samples
with a response at the ranked view (:mod:`babelscope.rank.evidence`). The environment variables
``BABELSCOPE_MIN_POSITIVES`` and ``BABELSCOPE_MIN_NEGATIVES`` change the defaults (the test suite's
two-sentence corpora set them to 1); the values a ranking used are in its expertise table's settings.
"""

from __future__ import annotations

import os


def _env_count(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        from babelscope.errors import ConfigError

        raise ConfigError(f"environment variable {name}: expected a whole number >= 1, got {raw!r}")
    return int(raw)


MIN_POSITIVES = _env_count("BABELSCOPE_MIN_POSITIVES", 5)
MIN_NEGATIVES = _env_count("BABELSCOPE_MIN_NEGATIVES", 5)
