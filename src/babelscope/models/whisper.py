"""Adapter for Whisper (``WhisperForConditionalGeneration``): speech input only.

How each task of the task table is asked (the decoder starts from ``[<|startoftranscript|>, <|xx|>,
<|task|>, <|notimestamps|>]``, four start tokens):

============  ===================================  ============
task          language token ``<|xx|>``             task token
============  ===================================  ============
``asr``       the source language                   transcribe
``s2t``       the source language                   translate (Whisper translates into English only)
``en2x_s2t``  the target language X                 transcribe
``x2y_s2t``   the target language Y                 transcribe
============  ===================================  ============

``en2x_s2t`` and ``x2y_s2t`` are Whisper's control tasks: speech with another language's token,
which real Whisper follows part of the time (it then writes that language, or mixes it with the
spoken one) — the language token is its only output-language control, and the target-language
analysis finds the units that carry it.
Whisper pads every input to 30 s; encoder responses are pooled over the frames of the real audio only.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from babelscope.errors import ConfigError, ModelLoadError
from babelscope.models.base import ModelAdapter, PreparedBatch, load_weights
from babelscope.vocab.languages import WHISPER_CODES

#: task -> (the sample column whose language token is given, Whisper's task token)
_REQUEST = {"asr": ("src_lang", "transcribe"), "s2t": ("src_lang", "translate"),
            "en2x_s2t": ("tgt_lang", "transcribe"), "x2y_s2t": ("tgt_lang", "transcribe")}


class WhisperAdapter(ModelAdapter):
    family = "whisper"
    task_requests = {t: f"language token = {'source' if col == 'src_lang' else 'target'} language, {tok}"
                     for t, (col, tok) in _REQUEST.items()}
    input_modalities = ("speech",)
    component_prefixes = {"model.encoder.": "speech_encoder", "model.decoder.": "text_decoder"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lang_to_id = getattr(self.model.generation_config, "lang_to_id", None) or {}
        known = {k.strip("<|>") for k in lang_to_id}
        self.language_codes = {iso: wc for iso, wc in WHISPER_CODES.items() if wc in known}

    @classmethod
    def hf_model_class(cls) -> type:
        from transformers import WhisperForConditionalGeneration

        return WhisperForConditionalGeneration

    @classmethod
    def load(cls, path: str, *, name: str, source: dict[str, Any], device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> "WhisperAdapter":
        from transformers import WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

        try:
            model = load_weights(WhisperForConditionalGeneration, path, dtype=dtype)
            tok = WhisperTokenizer.from_pretrained(path)
            fe = WhisperFeatureExtractor.from_pretrained(path)
        except OSError as exc:
            raise ModelLoadError(f"cannot load Whisper from {path!r}: {exc}") from None
        if len(tok) < min(model.config.vocab_size // 2, 1000):
            raise ModelLoadError(f"the tokenizer loaded from {path!r} has {len(tok)} tokens for a model vocabulary "
                                 f"of {model.config.vocab_size}: tokenizer files are missing")
        if not getattr(model.generation_config, "lang_to_id", None):
            raise ModelLoadError(f"{path!r}: generation_config.json has no lang_to_id (not a multilingual Whisper?)")
        model.to(device)
        return cls(model, tok, fe, name=name, source=source, device=device)

    @property
    def eos_token_id(self) -> int:
        return int(self.model.generation_config.eos_token_id)

    @property
    def decoder_prompt_length(self) -> int:
        return 4

    def excluded_module(self, name: str) -> bool:
        return name.rsplit(".", 1)[-1] == "embed_positions"

    def batch_key(self, sample) -> tuple:
        # one language token and one task token per generate call
        return (sample.modality, getattr(sample, _REQUEST.get(sample.task, ("src_lang",))[0]), sample.task)

    def prepare(self, samples: Sequence, audio: Sequence[np.ndarray | None]) -> PreparedBatch:
        s0 = samples[0]
        if s0.modality != "speech":
            raise ConfigError(f"Whisper takes speech input only; task {s0.task!r} gives it text")
        if s0.task not in _REQUEST:
            raise ConfigError(f"Whisper supports the tasks {', '.join(_REQUEST)}, not {s0.task!r}")
        if s0.task == "s2t" and s0.tgt_lang != "eng":
            raise ConfigError("Whisper translates into English only: s2t needs the pivot language 'eng'")
        col, task_token = _REQUEST[s0.task]
        feats = self.feature_extractor([a for a in audio], sampling_rate=self.sample_rate, return_tensors="pt",
                                       return_attention_mask=True)
        x, mask = feats["input_features"], feats["attention_mask"].long()
        n = mask.sum(1)
        T = x.shape[-1]
        conv2 = self.model.model.encoder.conv2
        T2 = (T + 2 * conv2.padding[0] - conv2.kernel_size[0]) // conv2.stride[0] + 1
        n2 = (n + 2 * conv2.padding[0] - conv2.kernel_size[0]) // conv2.stride[0] + 1
        inputs = {"input_features": x.to(self.device, next(self.model.parameters()).dtype),
                  "attention_mask": mask.to(self.device)}
        return PreparedBatch(inputs=inputs, modality="speech", tgt_lang=s0.tgt_lang, task=s0.task,
                             lengths_by_time={T: n.to(self.device), T2: n2.clamp(min=1).to(self.device)},
                             extra={"language": self.model_lang(getattr(s0, col)), "task": task_token})

    def generate(self, batch: PreparedBatch, max_new_tokens: int) -> torch.Tensor:
        with torch.inference_mode():
            out = self.model.generate(batch.inputs["input_features"], attention_mask=batch.inputs["attention_mask"],
                                      language=batch.extra["language"], task=batch.extra["task"],
                                      max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                                      return_timestamps=False)
        seq = out if isinstance(out, torch.Tensor) else out.sequences
        return self._with_prompt(seq, batch)

    def _with_prompt(self, seq: torch.Tensor, batch: PreparedBatch) -> torch.Tensor:
        """Whisper's ``generate`` may return the sequence without its start tokens; put them back so
        every adapter returns ``[prompt, generated...]`` (HF ``generate`` convention)."""
        gc = self.model.generation_config
        prompt = torch.tensor([gc.decoder_start_token_id, gc.lang_to_id[f"<|{batch.extra['language']}|>"],
                               gc.task_to_id[batch.extra["task"]], gc.no_timestamps_token_id],
                              dtype=seq.dtype, device=seq.device)
        P = len(prompt)
        if seq.shape[1] >= P and bool((seq[:, :P] == prompt).all()):
            return seq
        return torch.cat([prompt[None, :].expand(seq.shape[0], -1), seq], dim=1)

    def decoder_input_module(self) -> torch.nn.Module:
        return self.model.model.decoder.embed_tokens
