"""Whisper from CTranslate2 (faster-whisper) model folders, converted to transformers on load.

A CTranslate2 Whisper folder holds ``model.bin`` (CTranslate2's own binary format, read by
:mod:`babelscope.models.ct2_reader`), ``config.json`` (``lang_ids``, ``suppress_ids``,
``suppress_ids_begin``, ``alignment_heads`` — no ``model_type``), ``tokenizer.json`` and usually
``vocabulary.txt`` (or ``vocabulary.json``: one token per id).

* :func:`convert_ct2_to_transformers` writes an ordinary ``WhisperForConditionalGeneration`` folder
  (safetensors, config, generation config with the language maps, tokenizer, feature extractor);
* :func:`ct2_to_hf_cached` does that once per model into ``<cache>/ct2/<key>`` and reuses it;
  ``babelscope.models.load_model`` calls it for any CTranslate2 folder.

The real multilingual Whisper-base folder is assembled by :mod:`babelscope.models.whisper_base`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from babelscope.atomic import build_dir
from babelscope.errors import ModelLoadError
from babelscope.models.ct2_reader import CT2Model, read_ct2_model

#: bump when the conversion output changes: cached conversions under another version are not reused
CONVERTER_VERSION = "1"

_GELU = 3  # CTranslate2's Activation enum: RELU 0, GELUTanh 1, SWISH 2, GELU 3, ...
#: Whisper's special tokens that are not languages, in vocabulary order after the languages
_NON_LANG_SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>",
                      "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|nospeech|>", "<|notimestamps|>")


# ------------------------------------------------------------------------------------------------
# conversion to transformers
# ------------------------------------------------------------------------------------------------
def _layer_count(m: CT2Model, prefix: str) -> int:
    pat = re.compile(rf"^{prefix}/layer_(\d+)/")
    ids = {int(mm.group(1)) for n in list(m.variables) + list(m.aliases) if (mm := pat.match(n))}
    if not ids:
        raise ModelLoadError(f"model.bin has no {prefix} layers")
    if ids != set(range(len(ids))):
        raise ModelLoadError(f"model.bin: {prefix} layers are not numbered 0..{len(ids) - 1}: {sorted(ids)}")
    return len(ids)


def ct2_whisper_state_dict(m: CT2Model) -> tuple[dict, dict]:
    """Map a CTranslate2 ``WhisperSpec`` to a transformers ``WhisperForConditionalGeneration`` state
    dict. Returns ``(state_dict, shape_info)``; ``proj_out.weight`` is included only when the output
    projection is not tied to the token embeddings.

    CTranslate2 fuses self-attention q/k/v into ``linear_0`` (k's bias is stored as zeros: the key
    projection has no bias in Whisper, and a key bias would not change attention anyway since it adds
    the same amount to every key's score) and cross-attention k/v into ``linear_1``.
    """
    if m.spec != "WhisperSpec":
        raise ModelLoadError(f"CTranslate2 model of spec {m.spec or '(unnamed)'!r}: only WhisperSpec "
                             f"(faster-whisper) models can be converted")
    for name, want, what in (("decoder/activation", _GELU, "activation GELU"), ("decoder/pre_norm", 1, "pre-norm"),
                             ("decoder/alibi", 0, "no ALiBi"), ("decoder/scale_embeddings", 0, "unscaled embeddings"),
                             ("decoder/start_from_zero_embedding", 0, "standard embeddings")):
        got = m.scalar(name)
        if got is not None and int(got) != want:
            raise ModelLoadError(f"model.bin: {name} = {got}, but Whisper uses {what} ({name} = {want})")

    t = m.to_torch
    sd: dict = {}

    def linear(dst: str, src: str, bias: bool = True) -> None:
        sd[f"{dst}.weight"] = t(f"{src}/weight")
        if bias:
            sd[f"{dst}.bias"] = t(f"{src}/bias")

    def norm(dst: str, src: str) -> None:
        sd[f"{dst}.weight"] = t(f"{src}/gamma")
        sd[f"{dst}.bias"] = t(f"{src}/beta")

    def split(src: str, parts: int, d: int):
        w, b = t(f"{src}/weight"), t(f"{src}/bias")
        if w.shape[0] != parts * d or b.shape[0] != parts * d:
            raise ModelLoadError(f"model.bin: {src} has {w.shape[0]} output rows, expected {parts} x {d}")
        return list(zip(w.split(d, 0), b.split(d, 0)))

    def self_attn(dst: str, src: str, d: int) -> None:
        (qw, qb), (kw, _kb), (vw, vb) = split(f"{src}/linear_0", 3, d)
        sd[f"{dst}.q_proj.weight"], sd[f"{dst}.q_proj.bias"] = qw.clone(), qb.clone()
        sd[f"{dst}.k_proj.weight"] = kw.clone()
        sd[f"{dst}.v_proj.weight"], sd[f"{dst}.v_proj.bias"] = vw.clone(), vb.clone()
        linear(f"{dst}.out_proj", f"{src}/linear_1")

    def ffn(dst: str, src: str) -> None:
        linear(f"{dst}.fc1", f"{src}/linear_0")
        linear(f"{dst}.fc2", f"{src}/linear_1")
        norm(f"{dst}.final_layer_norm", f"{src}/layer_norm")

    conv1 = t("encoder/conv1/weight")
    d_model, n_mels = int(conv1.shape[0]), int(conv1.shape[1])
    n_enc, n_dec = _layer_count(m, "encoder"), _layer_count(m, "decoder")

    for conv in ("conv1", "conv2"):
        linear(f"model.encoder.{conv}", f"encoder/{conv}")
    sd["model.encoder.embed_positions.weight"] = t("encoder/position_encodings/encodings")
    for i in range(n_enc):
        src, dst = f"encoder/layer_{i}", f"model.encoder.layers.{i}"
        self_attn(f"{dst}.self_attn", f"{src}/self_attention", d_model)
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        ffn(dst, f"{src}/ffn")
    norm("model.encoder.layer_norm", "encoder/layer_norm")

    sd["model.decoder.embed_tokens.weight"] = t("decoder/embeddings/weight")
    sd["model.decoder.embed_positions.weight"] = t("decoder/position_encodings/encodings")
    for i in range(n_dec):
        src, dst = f"decoder/layer_{i}", f"model.decoder.layers.{i}"
        self_attn(f"{dst}.self_attn", f"{src}/self_attention", d_model)
        norm(f"{dst}.self_attn_layer_norm", f"{src}/self_attention/layer_norm")
        linear(f"{dst}.encoder_attn.q_proj", f"{src}/attention/linear_0")
        (kw, _kb), (vw, vb) = split(f"{src}/attention/linear_1", 2, d_model)
        sd[f"{dst}.encoder_attn.k_proj.weight"] = kw.clone()
        sd[f"{dst}.encoder_attn.v_proj.weight"], sd[f"{dst}.encoder_attn.v_proj.bias"] = vw.clone(), vb.clone()
        linear(f"{dst}.encoder_attn.out_proj", f"{src}/attention/linear_2")
        norm(f"{dst}.encoder_attn_layer_norm", f"{src}/attention/layer_norm")
        ffn(dst, f"{src}/ffn")
    norm("model.decoder.layer_norm", "decoder/layer_norm")

    tied = m.resolve("decoder/projection/weight") == m.resolve("decoder/embeddings/weight")
    if not tied:
        sd["proj_out.weight"] = t("decoder/projection/weight")
        if "decoder/projection/bias" in m and bool(t("decoder/projection/bias").abs().max() > 0):
            raise ModelLoadError("model.bin: the output projection has a bias; transformers' Whisper has none")
    info = {
        "d_model": d_model, "num_mel_bins": n_mels, "encoder_layers": n_enc, "decoder_layers": n_dec,
        "encoder_ffn_dim": int(sd["model.encoder.layers.0.fc1.weight"].shape[0]),
        "decoder_ffn_dim": int(sd["model.decoder.layers.0.fc1.weight"].shape[0]),
        "vocab_size": int(sd["model.decoder.embed_tokens.weight"].shape[0]),
        "max_source_positions": int(sd["model.encoder.embed_positions.weight"].shape[0]),
        "max_target_positions": int(sd["model.decoder.embed_positions.weight"].shape[0]),
        "encoder_attention_heads": int(m.scalar("encoder/num_heads", 0) or max(d_model // 64, 1)),
        "decoder_attention_heads": int(m.scalar("decoder/num_heads", 0) or max(d_model // 64, 1)),
        "tie_word_embeddings": tied,
    }
    for k in ("encoder_attention_heads", "decoder_attention_heads"):
        if d_model % info[k]:
            raise ModelLoadError(f"model.bin: d_model {d_model} is not divisible by {k} = {info[k]}")
    return sd, info


def _vocabulary(ct2_dir: Path, spec: dict) -> list[str]:
    """Token of every id: vocabulary.txt / vocabulary.json if present, else tokenizer.json (+ timestamps)."""
    if (ct2_dir / "vocabulary.json").is_file():
        return list(json.loads((ct2_dir / "vocabulary.json").read_text(encoding="utf-8")))
    if (ct2_dir / "vocabulary.txt").is_file():
        lines = (ct2_dir / "vocabulary.txt").read_text(encoding="utf-8").split("\n")
        return lines[:-1] if lines and lines[-1] == "" else lines
    by_id = {i: tok for tok, i in spec["model"]["vocab"].items()}
    by_id.update({a["id"]: a["content"] for a in spec.get("added_tokens", [])})
    return [by_id[i] for i in range(max(by_id) + 1)] if by_id else []


def build_whisper_tokenizer_from_ct2(ct2_dir: Path, vocab_size: int):
    """A transformers Whisper tokenizer (fast, ``tokenizers``-backed) from a CTranslate2 folder's
    ``tokenizer.json``: the byte-level BPE, Whisper's special tokens at their ids, and the timestamp
    tokens (``<|0.00|>`` ...) that faster-whisper's ``tokenizer.json`` leaves out. Every id is checked
    against the folder's vocabulary list."""
    from transformers import WhisperTokenizerFast

    spec = json.loads((ct2_dir / "tokenizer.json").read_text(encoding="utf-8"))
    model = spec.get("model", {})
    if model.get("type") != "BPE":
        raise ModelLoadError(f"{ct2_dir / 'tokenizer.json'}: expected a BPE tokenizer, got {model.get('type')!r}")
    merges = [tuple(x) if isinstance(x, list) else tuple(x.split(" ")) for x in model["merges"]]
    tok = WhisperTokenizerFast(vocab=dict(model["vocab"]), merges=merges)
    added = sorted(spec.get("added_tokens", []), key=lambda a: a["id"])
    specials = [a["content"] for a in added if a.get("special", True) and a["content"] != "<|endoftext|>"]
    tok.add_special_tokens({"additional_special_tokens": specials})
    vocab = _vocabulary(ct2_dir, spec)
    if len(vocab) < vocab_size:  # e.g. no vocabulary file: fill in Whisper's timestamp tokens
        vocab = vocab + ["<|%.2f|>" % (i * 0.02) for i in range(vocab_size - len(vocab))]
    if len(tok) < len(vocab):
        tok.add_tokens(vocab[len(tok):])
    got = tok.convert_ids_to_tokens(list(range(len(vocab))))
    bad = [(i, g, w) for i, (g, w) in enumerate(zip(got, vocab)) if g != w]
    if bad:
        i, g, w = bad[0]
        raise ModelLoadError(f"{ct2_dir}: tokenizer.json disagrees with the vocabulary at {len(bad)} ids "
                             f"(first: id {i} is {g!r} in the tokenizer, {w!r} in the vocabulary)")
    if len(tok) != vocab_size:
        raise ModelLoadError(f"{ct2_dir}: the tokenizer has {len(tok)} tokens, the model's vocabulary {vocab_size}")
    return tok


def _generation_config(tok, ct2_cfg: dict, vocab_size: int, n_dec_layers: int, n_dec_heads: int,
                       max_target: int) -> dict:
    vocab = tok.get_vocab()
    need = {"eot": "<|endoftext|>", "sot": "<|startoftranscript|>", "transcribe": "<|transcribe|>",
            "translate": "<|translate|>", "notimestamps": "<|notimestamps|>"}
    missing = [v for v in need.values() if v not in vocab]
    if missing:
        raise ModelLoadError(f"tokenizer.json lacks Whisper's special tokens {', '.join(missing)}")
    found = {k: int(vocab[v]) for k, v in need.items()}
    lang_ids = ct2_cfg.get("lang_ids")
    if lang_ids is None:  # older conversions: every special token between sot and translate is a language
        lang_ids = list(range(found["sot"] + 1, found["translate"]))
    lang_to_id = {}
    for i in lang_ids:
        token = tok.convert_ids_to_tokens(int(i))
        if not re.fullmatch(r"<\|[a-z]{2,3}\|>", token or ""):
            raise ModelLoadError(f"config.json lang_ids: id {i} is {token!r}, not a language token")
        lang_to_id[token] = int(i)
    alignment = ct2_cfg.get("alignment_heads") or [[l, h] for l in range(n_dec_layers // 2, n_dec_layers)
                                                   for h in range(n_dec_heads)]
    cfg = {
        "alignment_heads": [list(map(int, x)) for x in alignment],
        "begin_suppress_tokens": [int(x) for x in ct2_cfg.get(
            "suppress_ids_begin", ([vocab["Ġ"]] if "Ġ" in vocab else []) + [found["eot"]])],
        "suppress_tokens": [int(x) for x in ct2_cfg.get("suppress_ids", [])],
        "bos_token_id": found["eot"], "eos_token_id": found["eot"], "pad_token_id": found["eot"],
        "decoder_start_token_id": found["sot"],
        "is_multilingual": bool(lang_to_id),
        "lang_to_id": lang_to_id,
        "task_to_id": {"transcribe": found["transcribe"], "translate": found["translate"]},
        "no_timestamps_token_id": found["notimestamps"],
        "max_initial_timestamp_index": 50,
        "max_length": max_target,
        "return_timestamps": False,
    }
    if "<|startofprev|>" in vocab:
        cfg["prev_sot_token_id"] = int(vocab["<|startofprev|>"])
    return cfg


def convert_ct2_to_transformers(ct2_dir: str | Path, out_dir: str | Path) -> Path:
    """Convert a CTranslate2 Whisper folder into a transformers Whisper folder at ``out_dir``
    (created; must not exist or be empty). Returns ``out_dir``."""
    import torch
    from safetensors.torch import save_file
    from transformers import WhisperConfig, WhisperFeatureExtractor

    ct2_dir, out_dir = Path(ct2_dir), Path(out_dir)
    missing = [f for f in ("model.bin", "tokenizer.json") if not (ct2_dir / f).is_file()]
    if missing:
        raise ModelLoadError(f"{ct2_dir}: not a complete CTranslate2 Whisper folder (missing {', '.join(missing)})")
    ct2_cfg = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8")) if (ct2_dir / "config.json").is_file() else {}
    m = read_ct2_model(ct2_dir / "model.bin")
    sd, info = ct2_whisper_state_dict(m)
    tok = build_whisper_tokenizer_from_ct2(ct2_dir, info["vocab_size"])
    gen = _generation_config(tok, ct2_cfg, info["vocab_size"], info["decoder_layers"],
                             info["decoder_attention_heads"], info["max_target_positions"])
    float_dtypes = {v.dtype for v in sd.values()}
    dtype = {torch.float16: "float16", torch.bfloat16: "bfloat16"}.get(next(iter(float_dtypes)), "float32") \
        if len(float_dtypes) == 1 else "float32"
    config = WhisperConfig(
        **info, dtype=dtype,
        pad_token_id=gen["pad_token_id"], bos_token_id=gen["bos_token_id"], eos_token_id=gen["eos_token_id"],
        decoder_start_token_id=gen["decoder_start_token_id"],
        # suppress lists live in generation_config.json only (in both, transformers warns on every generate)
        suppress_tokens=None, begin_suppress_tokens=None, activation_function="gelu", scale_embedding=False,
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, encoder_layerdrop=0.0, decoder_layerdrop=0.0)
    config.architectures = ["WhisperForConditionalGeneration"]

    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()):
        raise ModelLoadError(f"output folder {out_dir} is not empty")
    save_file({k: v.contiguous() for k, v in sd.items()}, str(out_dir / "model.safetensors"),
              metadata={"format": "pt", "source": "ctranslate2", "ct2_spec": f"{m.spec} r{m.revision}"})
    config.save_pretrained(str(out_dir))
    gen_path = out_dir / "generation_config.json"
    gen.pop("_from_model_config", None)  # with it, transformers rebuilds the config and drops lang_to_id
    gen_path.write_text(json.dumps(gen, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tok.save_pretrained(str(out_dir))
    WhisperFeatureExtractor(feature_size=info["num_mel_bins"]).save_pretrained(str(out_dir))
    return out_dir


# ------------------------------------------------------------------------------------------------
# cache
# ------------------------------------------------------------------------------------------------
def ct2_cache_key(ct2_dir: str | Path) -> str:
    """Hash of the converter version, ``model.bin``'s size and its first MiB."""
    f = Path(ct2_dir) / "model.bin"
    h = hashlib.sha256(f"babelscope-ct2-whisper-v{CONVERTER_VERSION}:{f.stat().st_size}:".encode())
    with f.open("rb") as fh:
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:20]


def ct2_to_hf_cached(ct2_dir: str | Path) -> Path:
    """The transformers conversion of a CTranslate2 Whisper folder, made once (atomically) into
    ``<cache>/ct2/<key>`` and reused afterwards."""
    from babelscope.models.builtin import cache_dir

    ct2_dir = Path(ct2_dir)
    if not (ct2_dir / "model.bin").is_file():
        raise ModelLoadError(f"{ct2_dir}: no model.bin (not a CTranslate2 model folder)")
    folder = cache_dir() / "ct2" / ct2_cache_key(ct2_dir)
    return build_dir(folder, lambda tmp: convert_ct2_to_transformers(ct2_dir, tmp), marker=".complete",
                     marker_text=json.dumps({"source": str(ct2_dir.resolve()),
                                             "converter_version": CONVERTER_VERSION}) + "\n")
