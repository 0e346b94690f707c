"""Built-in models: tiny random-weight models built in code (for tests and quick runs).

A built-in model is materialised once into the cache directory (``$BABELSCOPE_CACHE`` or
``~/.cache/babelscope``) as an ordinary Hugging Face model folder — safetensors weights, tokenizer
files, generation config — and then loaded through exactly the same code path as a downloaded
checkpoint. Building is deterministic: the same seed gives the same weights and tokenizer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable

import torch

from babelscope.atomic import build_dir

BUILD_VERSION = "2"
DEMO_LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")


#: SeamlessM4T v2 config for the speech-generation parts (text-to-unit model, vocoder): babelscope
#: only generates text, so small models keep these minimal
MINIMAL_SPEECH_GENERATION = dict(
    t2u_vocab_size=32, char_vocab_size=32, t2u_encoder_layers=1, t2u_decoder_layers=1,
    t2u_encoder_ffn_dim=32, t2u_decoder_ffn_dim=32, t2u_encoder_attention_heads=2,
    t2u_decoder_attention_heads=2, t2u_max_position_embeddings=64, t2u_variance_predictor_embed_dim=64,
    t2u_variance_predictor_hidden_dim=16, upsample_initial_channel=32, upsample_rates=[2, 2],
    upsample_kernel_sizes=[4, 4], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
    unit_hifi_gan_vocab_size=16, unit_embed_dim=16, lang_embed_dim=8, spkr_embed_dim=8,
    vocoder_num_langs=4, vocoder_num_spkrs=2)


def cache_dir() -> Path:
    root = os.environ.get("BABELSCOPE_CACHE") or Path.home() / ".cache" / "babelscope"
    return Path(root)


def seed_texts() -> list[str]:
    """The project's own parallel seed sentences (all six demo languages)."""
    data = resources.files("babelscope.corpus").joinpath("data/seed_sentences.jsonl").read_text("utf-8")
    rows = [json.loads(l) for l in data.splitlines() if l.strip()]
    return [row[lang] for row in rows for lang in DEMO_LANGS]


def write_generation_config(folder: Path, extra: dict) -> None:
    path = folder / "generation_config.json"
    cfg = json.loads(path.read_text()) if path.exists() else {}
    cfg.update(extra)
    # with _from_model_config transformers rebuilds the config on reload and drops language maps
    cfg.pop("_from_model_config", None)
    path.write_text(json.dumps(cfg, indent=2, sort_keys=True))


def _save_seamless(model, tok, out: Path) -> None:
    """Weights, feature extractor and generation config of a built SeamlessM4T v2 model."""
    from transformers import SeamlessM4TFeatureExtractor

    model.save_pretrained(str(out))
    SeamlessM4TFeatureExtractor().save_pretrained(str(out))
    write_generation_config(out, {
        "text_decoder_lang_to_code_id": {l: tok.convert_tokens_to_ids(f"__{l}__") for l in DEMO_LANGS},
        "decoder_start_token_id": tok.eos_token_id, "eos_token_id": tok.eos_token_id,
        "pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id})


def build_tiny_seamless(out: Path, seed: int = 0) -> None:
    from transformers import SeamlessM4Tv2Config, SeamlessM4Tv2Model

    from babelscope.models.tokenizer_build import build_seamless_tokenizer

    tok = build_seamless_tokenizer(seed_texts(), DEMO_LANGS, out)
    cfg = SeamlessM4Tv2Config(
        vocab_size=len(tok), hidden_size=64, encoder_layers=2, decoder_layers=2, encoder_ffn_dim=128,
        decoder_ffn_dim=128, encoder_attention_heads=4, decoder_attention_heads=4, speech_encoder_layers=2,
        speech_encoder_attention_heads=4, speech_encoder_intermediate_size=128, conv_depthwise_kernel_size=7,
        max_position_embeddings=256, max_new_tokens=64, initializer_range=0.1,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id,
        encoder_layerdrop=0.0, decoder_layerdrop=0.0, speech_encoder_layerdrop=0.0, dropout=0.0,
        attention_dropout=0.0, adaptor_dropout=0.0, speech_encoder_dropout=0.0,
        **MINIMAL_SPEECH_GENERATION)
    torch.manual_seed(seed)
    model = SeamlessM4Tv2Model(cfg).eval()
    _save_seamless(model, tok, out)


def build_large_seamless(out: Path, seed: int = 0) -> None:
    """The real SeamlessM4T v2 *large* architecture (transformers' ``SeamlessM4Tv2Config()`` defaults:
    hidden 1024, 24 speech-encoder + 24 text-encoder + 24 decoder layers, FFN 8192) with random
    weights, the demo tokenizer (so a small vocabulary) and minimal speech-generation parts: what a
    study's recording costs at real size, for benchmarks. About 1.7 B parameters; saved in float16
    (3.5 GB in the cache), loaded in float32 like any checkpoint. Never shipped."""
    from transformers import SeamlessM4Tv2Config, SeamlessM4Tv2Model

    from babelscope.models.tokenizer_build import build_seamless_tokenizer

    tok = build_seamless_tokenizer(seed_texts(), DEMO_LANGS, out)
    cfg = SeamlessM4Tv2Config(vocab_size=len(tok), pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
                              eos_token_id=tok.eos_token_id, decoder_start_token_id=tok.eos_token_id,
                              **MINIMAL_SPEECH_GENERATION)
    torch.manual_seed(seed)
    model = SeamlessM4Tv2Model(cfg).eval().half()
    _save_seamless(model, tok, out)


def build_tiny_whisper(out: Path, seed: int = 0) -> None:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration

    from babelscope.vocab.languages import WHISPER_CODES
    from babelscope.models.tokenizer_build import build_whisper_tokenizer

    wl = [WHISPER_CODES[l] for l in DEMO_LANGS]
    tok = build_whisper_tokenizer(seed_texts(), wl, out)
    ids = tok.convert_tokens_to_ids
    eot = ids("<|endoftext|>")
    cfg = WhisperConfig(
        vocab_size=len(tok), d_model=64, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
        decoder_attention_heads=4, encoder_ffn_dim=128, decoder_ffn_dim=128, num_mel_bins=80,
        max_source_positions=1500, max_target_positions=128, init_std=0.1,
        pad_token_id=eot, bos_token_id=eot, eos_token_id=eot, decoder_start_token_id=ids("<|startoftranscript|>"),
        begin_suppress_tokens=None, suppress_tokens=None)
    torch.manual_seed(seed)
    model = WhisperForConditionalGeneration(cfg).eval()
    model.save_pretrained(str(out))
    WhisperFeatureExtractor(feature_size=80).save_pretrained(str(out))
    write_generation_config(out, {
        "lang_to_id": {f"<|{c}|>": ids(f"<|{c}|>") for c in wl},
        "task_to_id": {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        "no_timestamps_token_id": ids("<|notimestamps|>"), "is_multilingual": True,
        "decoder_start_token_id": ids("<|startoftranscript|>"), "eos_token_id": eot, "pad_token_id": eot,
        "bos_token_id": eot, "suppress_tokens": [], "begin_suppress_tokens": [eot],
        "forced_decoder_ids": None})


def build_tiny_speech_encoder_decoder(out: Path, seed: int = 0) -> None:
    """wav2vec2 encoder (3 convolutions, 3 transformer layers) + mBART decoder (2 layers), hidden 64,
    the output language forced as the decoder's first token (``__xxx__``)."""
    from transformers import (MBartConfig, SpeechEncoderDecoderConfig, SpeechEncoderDecoderModel, Wav2Vec2Config,
                              Wav2Vec2FeatureExtractor)

    from babelscope.models.tokenizer_build import build_bos_tokenizer

    tok = build_bos_tokenizer(seed_texts(), DEMO_LANGS, out)
    ids = tok.convert_tokens_to_ids
    enc = Wav2Vec2Config(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, intermediate_size=128,
                         conv_dim=(32, 32, 32), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), feat_extract_norm="layer",
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, do_stable_layer_norm=True,
                         hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, feat_proj_dropout=0.0,
                         layerdrop=0.0, mask_time_prob=0.0, initializer_range=0.1)
    # encoder_layers is unused by the decoder but is MBartConfig's num_hidden_layers, which sizes the cache
    dec = MBartConfig(vocab_size=len(tok), d_model=64, decoder_layers=2, decoder_attention_heads=4,
                      decoder_ffn_dim=128, encoder_layers=2, encoder_attention_heads=4, encoder_ffn_dim=128,
                      max_position_embeddings=128, dropout=0.0, attention_dropout=0.0, activation_dropout=0.0,
                      decoder_layerdrop=0.0, init_std=0.1, pad_token_id=ids("<pad>"), bos_token_id=ids("<s>"),
                      eos_token_id=ids("</s>"), decoder_start_token_id=ids("</s>"), is_decoder=True,
                      add_cross_attention=True, scale_embedding=True)
    cfg = SpeechEncoderDecoderConfig.from_encoder_decoder_configs(enc, dec)
    cfg.decoder_start_token_id = ids("</s>")
    cfg.pad_token_id = ids("<pad>")
    cfg.eos_token_id = ids("</s>")
    torch.manual_seed(seed)
    model = SpeechEncoderDecoderModel(config=cfg).eval()
    model.save_pretrained(str(out))
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(str(out))
    write_generation_config(out, {
        "lang_to_id": {f"__{l}__": ids(f"__{l}__") for l in DEMO_LANGS},
        "decoder_start_token_id": ids("</s>"), "eos_token_id": ids("</s>"), "pad_token_id": ids("<pad>"),
        "bos_token_id": ids("<s>")})


@dataclass(frozen=True)
class Builtin:
    name: str
    family: str
    description: str
    build: Callable[[Path, int], None] | None  # None: shipped inside the package
    shipped: str | None = None


BUILTINS: dict[str, Builtin] = {
    "tiny-random-seamless": Builtin("tiny-random-seamless", "seamless",
                                    "SeamlessM4T v2 architecture, random weights (hidden 64, 2+2+2 layers); for tests",
                                    build_tiny_seamless),
    "large-random-seamless": Builtin("large-random-seamless", "seamless",
                                     "the real SeamlessM4T v2 large architecture (hidden 1024, 24+24+24 layers, "
                                     "1.7 B parameters), random weights, built on first use (about a minute, 3.5 GB "
                                     "cached); for real-size benchmarks", build_large_seamless),
    "tiny-random-whisper": Builtin("tiny-random-whisper", "whisper",
                                   "Whisper architecture, random weights (d_model 64, 2+2 layers); for tests",
                                   build_tiny_whisper),
    "tiny-random-speech-encoder-decoder": Builtin(
        "tiny-random-speech-encoder-decoder", "speech_encoder_decoder",
        "SpeechEncoderDecoderModel (wav2vec2 encoder + mBART decoder), random weights (hidden 64, 3+2 layers), "
        "output language by forced first token; for tests", build_tiny_speech_encoder_decoder),
    "babel-mini": Builtin("babel-mini", "seamless",
                          "SeamlessM4T v2 architecture trained by babelscope on its demo corpus (6 languages, "
                          "speech and text; 7.6 M parameters); see its model card", None,
                          shipped="zoo/babel-mini"),
}


def builtin_path(name: str, seed: int = 0) -> Path:
    """Folder of a built-in model, building it on first use (atomically: a crash leaves no half folder)."""
    spec = BUILTINS[name]
    if spec.shipped:
        path = Path(str(resources.files("babelscope.models").joinpath(spec.shipped)))
        if not (path / "config.json").is_file():
            from babelscope.errors import ModelLoadError

            raise ModelLoadError(f"built-in model {name!r}: its shipped files are missing from {path} "
                                 "(reinstall babelscope, or train it with `babelscope zoo train-mini`)")
        return path
    import transformers

    folder = cache_dir() / "builtin" / f"{name}-s{seed}-v{BUILD_VERSION}-tf{transformers.__version__}"
    return build_dir(folder, lambda tmp: spec.build(tmp, seed))
