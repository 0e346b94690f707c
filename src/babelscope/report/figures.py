"""How the report's figures name and order what they show: languages by name (``deu`` → German)
in their usual order, components in model order, analyses by a short name; other labels as they
are.

The figures themselves are one function per figure, each taking the table(s) it shows and an
output PNG path and returning that path, grouped by family: :mod:`.figures_selectivity` (where the
neurons sit), :mod:`.figures_overlap` (cross-modal overlap and rank agreement),
:mod:`.figures_concentration`, :mod:`.figures_interventions` and :mod:`.figures_dose`; the shared
drawing helpers are in :mod:`.plotting`.
"""

from __future__ import annotations

from typing import Any

from babelscope.report.data import COMPONENT_NAMES, LANG_NAMES
from babelscope.vocab.components import COMPONENTS

LANG_ORDER = tuple(LANG_NAMES)
COMPONENT_ORDER = COMPONENTS


def order_labels(labels) -> list[str]:
    """Known language codes in their usual order, then the rest sorted."""
    labels = {str(x) for x in labels}
    known = [c for c in LANG_ORDER if c in labels]
    return known + sorted(labels - set(known))


def components(values) -> list[str]:
    """The distinct components among ``values``: known ones in model order, then the rest sorted."""
    values = {str(v) for v in values}
    return [c for c in COMPONENT_ORDER if c in values] + sorted(values - set(COMPONENT_ORDER))


def component_name(c: Any) -> str:
    """A component's display name (``speech_encoder`` → speech encoder)."""
    return COMPONENT_NAMES.get(str(c), str(c))


def short_analysis(a: str) -> str:
    """An analysis's display name in panel titles and row labels."""
    return {"source_language": "source language", "target_language": "target language",
            "language_x_modality": "language × modality", "multimodal_language": "multimodal language"
            }.get(a, a.replace("_", " "))
