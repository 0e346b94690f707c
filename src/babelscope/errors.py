"""Exception types. Every error a user can cause is a ``BabelscopeError`` whose message names the
file, line, field or setting at fault; the CLI prints it without a traceback."""

from __future__ import annotations


class BabelscopeError(Exception):
    """Base class of every error babelscope raises on purpose."""


class ManifestError(BabelscopeError, ValueError):
    """A corpus manifest record is malformed (message names file, line and field)."""


class AudioError(BabelscopeError, ValueError):
    """An audio file is missing, unreadable or unusable."""


class ModelLoadError(BabelscopeError, RuntimeError):
    """A model or its tokenizer could not be loaded (or loaded incomplete)."""


class SiteError(BabelscopeError, ValueError):
    """A site pattern matched nothing, or a site is unknown to the model."""


class ConfigError(BabelscopeError, ValueError):
    """A setting is invalid (message names the setting)."""


class StoreError(BabelscopeError, RuntimeError):
    """An activation store is missing, incomplete or does not match the requested settings."""


class LabelError(BabelscopeError, ValueError):
    """A label set is unusable for ranking (e.g. a label with no positive or no negative)."""


class BabelscopeWarning(UserWarning):
    """Something a result depends on is weaker than asked for (the CLI prints it as ``warning: ...``)."""
