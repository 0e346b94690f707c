"""Adapter for ``SpeechEncoderDecoderModel``: a speech encoder (wav2vec2, w2v-BERT, HuBERT, ...) with a
text decoder (mBART, BART, ...) attending to it; speech input only.

The output language is the decoder's first token after the start token (a *forced BOS* token), so
the decoder starts from ``[decoder_start_token_id, <lang>]`` (two start tokens) for every task;
the input is speech in the task's source language. Language tokens come from the generation config's
``lang_to_id`` (``{"__deu__": id, ...}``, as the built-in writes it) or from the tokenizer's
``lang_code_to_id`` (mBART-50: ``de_DE``, ...). The encoder's convolutional feature extractor
shortens the waveform layer by layer; each of its time axes gets its own valid lengths.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

import numpy as np
import torch

from babelscope.errors import ConfigError, ModelLoadError
from babelscope.models.base import ModelAdapter, PreparedBatch, load_weights
from babelscope.vocab.languages import FROM_WHISPER, ISO639_1_TO_3


def _iso3(token: str) -> str | None:
    """ISO 639-3 code of a language token (``__deu__``, ``de_DE``, ``<|de|>``), or None."""
    m = re.fullmatch(r"__([a-z]{3}(?:_[A-Za-z]{4})?)__", token)
    if m:
        return m.group(1)
    m = re.fullmatch(r"([a-z]{2})_[A-Z]{2}", token)  # mBART-50: ISO 639-1 and a region
    if m:
        return ISO639_1_TO_3.get(m.group(1))
    m = re.fullmatch(r"<\|([a-z]{2,3})\|>", token)  # Whisper's own codes
    return FROM_WHISPER.get(m.group(1)) if m else None


class SpeechEncoderDecoderAdapter(ModelAdapter):
    family = "speech_encoder_decoder"
    task_requests = {t: "forced first token = the target language's token"
                     for t in ("asr", "s2t", "en2x_s2t", "x2y_s2t")}
    input_modalities = ("speech",)
    component_prefixes = {"encoder.": "speech_encoder", "decoder.": "text_decoder"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        gc = self.model.generation_config
        table = dict(getattr(gc, "lang_to_id", None) or getattr(self.tokenizer, "lang_code_to_id", None) or {})
        self._lang_ids = {iso: int(i) for tok, i in table.items() if (iso := _iso3(tok))}
        self.language_codes = {lang: lang for lang in self._lang_ids}

    @classmethod
    def hf_model_class(cls) -> type:
        from transformers import SpeechEncoderDecoderModel

        return SpeechEncoderDecoderModel

    @classmethod
    def load(cls, path: str, *, name: str, source: dict[str, Any], device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> "SpeechEncoderDecoderAdapter":
        from transformers import AutoFeatureExtractor, AutoTokenizer

        try:
            model = load_weights(cls.hf_model_class(), path, dtype=dtype)
            tok = AutoTokenizer.from_pretrained(path)
            fe = AutoFeatureExtractor.from_pretrained(path)
        except OSError as exc:
            raise ModelLoadError(f"cannot load the speech encoder-decoder model from {path!r}: {exc}") from None
        adapter = cls(model, tok, fe, name=name, source=source, device=device)
        if not adapter._lang_ids:
            raise ModelLoadError(f"{path!r}: no language tokens (generation_config.json lang_to_id or the "
                                 "tokenizer's lang_code_to_id): the output language cannot be forced")
        model.to(device)
        return adapter

    # -- description -----------------------------------------------------------------------------
    @property
    def eos_token_id(self) -> int:
        return int(self.model.config.decoder.eos_token_id)

    @property
    def decoder_prompt_length(self) -> int:
        return 2

    def excluded_module(self, name: str) -> bool:
        leaf = name.rsplit(".", 1)[-1]
        # position tables; the output projection (one unit per vocabulary entry); the positional
        # convolution, whose output is one frame longer than its input before it is trimmed
        return leaf in ("embed_positions", "lm_head") or ".pos_conv_embed." in f".{name}."

    # -- inputs ----------------------------------------------------------------------------------
    def batch_key(self, sample) -> tuple:
        return (sample.modality,)

    def _conv_lengths(self, n: torch.Tensor, total: int) -> dict[int, torch.Tensor]:
        """Valid length of every feature-extractor layer's output axis: ``floor((L - k) / s) + 1``."""
        cfg = self.model.config.encoder
        out: dict[int, torch.Tensor] = {}
        cur, T = n.clone(), total
        for k, s in zip(cfg.conv_kernel, cfg.conv_stride):
            cur = torch.div(cur - k, s, rounding_mode="floor") + 1
            T = (T - k) // s + 1
            out[T] = cur.clamp(min=1)
        return out

    def prepare(self, samples: Sequence, audio: Sequence[np.ndarray | None]) -> PreparedBatch:
        s0 = samples[0]
        if s0.modality != "speech":
            raise ConfigError(f"{self.name} takes speech input only; task {s0.task!r} gives it text")
        for s in samples:
            self.model_lang(s.tgt_lang)
        feats = self.feature_extractor([a for a in audio], sampling_rate=self.sample_rate, padding=True,
                                       return_attention_mask=True, return_tensors="pt")
        x, mask = feats["input_values"], feats["attention_mask"].long()
        n = mask.sum(1)
        lengths = {x.shape[1]: n, **self._conv_lengths(n, x.shape[1])}
        start = int(self.model.config.decoder_start_token_id)
        prompt = torch.tensor([[start, self._lang_ids[s.tgt_lang]] for s in samples], dtype=torch.long)
        inputs = {"input_values": x.to(self.device, next(self.model.parameters()).dtype),
                  "attention_mask": mask.to(self.device)}
        return PreparedBatch(inputs=inputs, modality="speech", tgt_lang="+".join(sorted({s.tgt_lang for s in samples})),
                             task="+".join(sorted({s.task for s in samples})),
                             lengths_by_time={t: l.to(self.device) for t, l in lengths.items()},
                             extra={"decoder_input_ids": prompt.to(self.device)})

    def generate(self, batch: PreparedBatch, max_new_tokens: int) -> torch.Tensor:
        with torch.inference_mode():
            out = self.model.generate(**batch.inputs, decoder_input_ids=batch.extra["decoder_input_ids"],
                                      max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
        return out if isinstance(out, torch.Tensor) else out.sequences

    def decoder_input_module(self) -> torch.nn.Module:
        return self.model.decoder.get_input_embeddings()
