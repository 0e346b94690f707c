"""Adapter for SeamlessM4T v2 (``SeamlessM4Tv2Model``): speech and text encoders, one shared decoder.

The decoder starts from ``[</s>, __tgt__]`` (two start tokens), so decoding step ``s`` = 2 is the
state that emits the first content token.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Sequence

import numpy as np
import torch
from transformers import GenerationMixin

from babelscope.errors import ModelLoadError
from babelscope.models.base import ModelAdapter, PreparedBatch, load_weights
from babelscope.models.hooks_util import temporary_hooks


class SeamlessAdapter(ModelAdapter):
    family = "seamless"
    task_requests = {t: "tgt_lang: the target language's token starts the decoder"
                     for t in ("asr", "s2t", "t2t", "en2x_s2t", "en2x_t2t", "x2y_s2t", "x2y_t2t")}
    component_prefixes = {"speech_encoder.": "speech_encoder", "text_encoder.": "text_encoder",
                          "text_decoder.": "text_decoder"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.model.config
        # adaptor layers continue the conformer's layer numbering
        self.layer_offsets = {"speech_encoder.adapter.": cfg.speech_encoder_layers}
        self._lang_ids: dict[str, int] = dict(getattr(self.model.generation_config, "text_decoder_lang_to_code_id", None) or {})
        self.language_codes = {lang: lang for lang in self._lang_ids}

    # -- loading ---------------------------------------------------------------------------------
    @classmethod
    def hf_model_class(cls) -> type:
        from transformers import SeamlessM4Tv2Model

        return SeamlessM4Tv2Model

    @classmethod
    def load(cls, path: str, *, name: str, source: dict[str, Any], device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> "SeamlessAdapter":
        from transformers import SeamlessM4TFeatureExtractor, SeamlessM4TTokenizer, SeamlessM4Tv2Model

        try:
            model = load_weights(SeamlessM4Tv2Model, path, dtype=dtype)
        except OSError as exc:
            raise ModelLoadError(f"cannot load SeamlessM4T v2 weights from {path!r}: {exc}") from None
        # babelscope only generates text: drop the speech-generation parts to save memory
        model.t2u_model = None
        model.vocoder = None
        try:
            tok = SeamlessM4TTokenizer.from_pretrained(path)
        except OSError as exc:
            raise ModelLoadError(f"cannot load the SeamlessM4T tokenizer from {path!r}: {exc}") from None
        vocab = model.config.vocab_size
        if len(tok) < min(vocab // 2, 1000):
            raise ModelLoadError(
                f"the tokenizer loaded from {path!r} has only {len(tok)} tokens but the model's vocabulary has "
                f"{vocab}: its files (sentencepiece.bpe.model, tokenizer_config.json) are missing. Offline, "
                "transformers silently returns such a near-empty tokenizer for a hub id whose files are not "
                "cached; download the model first or pass a local directory that holds them.")
        try:
            fe = SeamlessM4TFeatureExtractor.from_pretrained(path)
        except OSError:
            fe = SeamlessM4TFeatureExtractor()
        if not getattr(model.generation_config, "text_decoder_lang_to_code_id", None):
            raise ModelLoadError(f"{path!r}: generation_config.json has no text_decoder_lang_to_code_id; "
                                 "the target-language tokens are unknown")
        model.to(device)
        return cls(model, tok, fe, name=name, source=source, device=device)

    # -- description -----------------------------------------------------------------------------
    @property
    def eos_token_id(self) -> int:
        return int(self.model.config.eos_token_id)

    @property
    def decoder_prompt_length(self) -> int:
        return 2

    def excluded_module(self, name: str) -> bool:
        leaf = name.rsplit(".", 1)[-1]
        if leaf in ("distance_embedding", "embed_positions"):
            return True  # relative/absolute position tables: not per-sample responses
        # the adaptor applies one GLU module to two different convolutions: not a single site
        if name.startswith("speech_encoder.adapter.") and leaf == "activation":
            return True
        return False

    def glu_units(self, name: str, module: torch.nn.Module) -> int:
        parent = self.model.get_submodule(name.rsplit(".", 1)[0])
        conv = getattr(parent, "pointwise_conv1", None)
        if conv is None:
            raise NotImplementedError(f"no unit count rule for GLU site {name!r}")
        return conv.out_channels // 2

    # -- inputs ----------------------------------------------------------------------------------
    def batch_key(self, sample) -> tuple:
        return (sample.modality,)

    def _sub_lengths(self, lengths: torch.Tensor, total: int) -> dict[int, torch.Tensor]:
        cfg = self.model.config
        k, stride = cfg.adaptor_kernel_size, cfg.adaptor_stride
        pad = k // 2
        out: dict[int, torch.Tensor] = {}
        cur, T = lengths.clone().double(), total
        for _ in range(cfg.num_adapter_layers if cfg.add_adapter else 0):
            cur = torch.floor((cur + 2 * pad - k) / stride) + 1
            T = math.floor((T + 2 * pad - k) / stride) + 1
            out[T] = cur.long()
        return out

    def prepare(self, samples: Sequence, audio: Sequence[np.ndarray | None]) -> PreparedBatch:
        modality = samples[0].modality
        for s in samples:
            self.model_lang(s.tgt_lang)
        tgt_ids = torch.tensor([self._lang_ids[s.tgt_lang] for s in samples], dtype=torch.long)
        if modality == "text":
            rows = []
            for s in samples:
                self.model_lang(s.src_lang)
                rows.append(self.tokenizer(s.text, src_lang=s.src_lang)["input_ids"])
            T = max(len(r) for r in rows)
            ids = torch.full((len(rows), T), self.tokenizer.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(rows), T), dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, : len(r)] = torch.tensor(r)
                mask[i, : len(r)] = 1
            inputs = {"input_ids": ids, "attention_mask": mask}
            lengths = {T: mask.sum(1)}
        else:
            feats = self.feature_extractor([a for a in audio], sampling_rate=self.sample_rate, padding=True,
                                           return_attention_mask=True, return_tensors="pt")
            x, mask = feats["input_features"], feats["attention_mask"].long()
            inputs = {"input_features": x.to(next(self.model.parameters()).dtype), "attention_mask": mask}
            lengths = {x.shape[1]: mask.sum(1)}
            lengths.update(self._sub_lengths(mask.sum(1), x.shape[1]))
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        return PreparedBatch(inputs=inputs, modality=modality, tgt_lang="+".join(sorted({s.tgt_lang for s in samples})),
                             task="+".join(sorted({s.task for s in samples})),
                             lengths_by_time={t: l.to(self.device) for t, l in lengths.items()},
                             extra={"decoder_input_ids": tgt_ids[:, None].to(self.device)})

    # -- generation ------------------------------------------------------------------------------
    def generate(self, batch: PreparedBatch, max_new_tokens: int) -> torch.Tensor:
        self.model.set_modality(batch.modality)
        kwargs = dict(batch.inputs)
        if batch.modality == "text":
            kwargs["input_features"] = None
        with torch.inference_mode(), self.batch_invariance(batch):
            out = GenerationMixin.generate(
                self.model, **kwargs, decoder_input_ids=batch.extra["decoder_input_ids"],
                max_new_tokens=max_new_tokens, do_sample=False, num_beams=1, num_return_sequences=1)
        return out if isinstance(out, torch.Tensor) else out.sequences

    def decoder_input_module(self) -> torch.nn.Module:
        return self.model.text_decoder.embed_tokens

    def batch_invariance(self, batch: PreparedBatch):
        """Zero padded frames before the adaptor's strided convolutions.

        ``SeamlessM4Tv2ConformerAdapterLayer`` convolves its input without masking, so in a padded
        batch the last valid output frame sees padded frames instead of the zeros it sees when the
        sample is alone. Zeroing them makes batched speech inputs compute exactly what each sample
        computes alone (batch parity); text inputs and unpadded speech are untouched.
        """
        if batch.modality != "speech" or not self.model.config.add_adapter:
            return contextlib.nullcontext()
        lengths = batch.lengths_by_time

        def pre_hook(module, args):
            (x,) = args[:1]  # [batch, channels, pos]
            T = x.shape[-1]
            if T not in lengths:
                return None
            valid = torch.arange(T, device=x.device)[None, :] < lengths[T][:, None]
            return (x * valid[:, None, :].to(x.dtype),) + tuple(args[1:])

        targets = []
        for layer in self.model.speech_encoder.adapter.layers:
            targets += [layer.residual_conv, layer.self_attn_conv]
        return temporary_hooks([(m, "forward_pre", pre_hook) for m in targets])
