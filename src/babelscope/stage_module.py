"""Stage packages that are also their stage's function: ``bs.record(...)``, ``bs.rank(...)``,
``bs.intervene(...)``, ``bs.report(...)``.

``import babelscope as bs`` offers the pipeline's stages as functions (:mod:`babelscope.api`), and four of
them share their name with the stage's package (``babelscope.record``, ...). Python sets a package's
attribute to a subpackage as soon as that is imported, so the package itself is made callable: calling
``babelscope.rank`` calls :func:`babelscope.api.rank`, while ``babelscope.rank.select_units``,
``import babelscope.rank.expertise as e`` and every other import keep working as before.
"""

from __future__ import annotations

import importlib
import sys
from types import ModuleType
from typing import Any


class StageModule(ModuleType):
    """A package whose call is the stage function named by its ``__stage__`` (``"module:function"``)."""

    __stage__: str

    def _function(self) -> Any:
        module, name = self.__stage__.split(":")
        return getattr(importlib.import_module(module), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._function()(*args, **kwargs)


def make_stage_callable(package: str, function: str) -> None:
    """Make the (already imported) ``package`` callable as ``function`` (``"module:function"``)."""
    mod = sys.modules[package]
    mod.__class__ = StageModule
    mod.__stage__ = function
