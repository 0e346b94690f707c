"""The project's vocabulary, in one place: every other module imports its names from here.

* :mod:`.components` — components, streams, modalities, set components;
* :mod:`.languages` — one row per language with every code (model, FLEURS, language identifier,
  espeak-ng voice, script);
* :mod:`.tasks` — the task table (modality and direction of every task);
* :mod:`.views` — the typed :class:`~babelscope.vocab.views.View` (``encoder``, ``step=S/mean``);
* :mod:`.sites` — the typed :class:`~babelscope.vocab.sites.Site` and the site-selection grammar.

These modules import nothing of babelscope but :mod:`babelscope.errors` (a test checks it).
"""

from babelscope.vocab.components import (COMPONENT_NAMES, COMPONENTS, ENCODER_STREAM_COMPONENTS, MODALITIES,
                                         SET_COMPONENTS, SITE_KINDS, STREAMS)
from babelscope.vocab.languages import LANGUAGES, Language, is_known_language, language_name, to_iso639_3
from babelscope.vocab.sites import Site, is_kv_site, select_sites, site_stream
from babelscope.vocab.tasks import TASKS, Task, get_task
from babelscope.vocab.views import ENCODER_VIEW, View

__all__ = ["COMPONENTS", "COMPONENT_NAMES", "ENCODER_STREAM_COMPONENTS", "ENCODER_VIEW", "LANGUAGES", "Language",
           "MODALITIES", "SET_COMPONENTS", "SITE_KINDS", "STREAMS", "Site", "TASKS", "Task", "View",
           "get_task", "is_known_language", "is_kv_site", "language_name", "select_sites", "site_stream",
           "to_iso639_3"]
