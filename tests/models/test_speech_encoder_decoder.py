"""The SpeechEncoderDecoderModel family (wav2vec2 encoder + mBART decoder, output language by forced
first token), checked against plain transformers calls, then through the whole pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.corpus.audio import read_audio
from babelscope.record import RecordSettings, record

STEPS = (2, 3, 5)


@pytest.fixture(scope="module")
def sed():
    from babelscope.models import load_model

    return load_model("tiny-random-speech-encoder-decoder")


@pytest.fixture(scope="module")
def sed_store(sed, corpus_dir, tmp_path_factory):
    samples = build_task_samples(read_manifest(corpus_dir), ["asr", "s2t", "en2x_s2t"], max_groups=2)
    st = record(sed, samples, tmp_path_factory.mktemp("sed") / "store",
                RecordSettings(steps=STEPS, sites=("*",), batch_size=4, max_new_tokens=8), progress=False)
    return samples, st


def _plain(adapter, s, max_new_tokens=8):
    """transformers' own API, batch 1: the language forced with ``forced_bos_token_id``."""
    m, tok = adapter.model, adapter.tokenizer
    f = adapter.feature_extractor([read_audio(s.audio, 16000)], sampling_rate=16000, return_tensors="pt",
                                  return_attention_mask=True)
    lang = tok.convert_tokens_to_ids(f"__{s.tgt_lang}__")
    with torch.no_grad():
        out = m.generate(f["input_values"], attention_mask=f["attention_mask"], forced_bos_token_id=lang,
                         max_new_tokens=max_new_tokens + 1, do_sample=False, num_beams=1)
    return f, out[0]


def test_sites_streams_and_tokens(sed):
    sites = sed.sites()
    comps = {s.component for s in sites}
    assert comps == {"speech_encoder", "text_decoder"}
    kv = [s.name for s in sites if s.name.endswith(("encoder_attn.k_proj", "encoder_attn.v_proj"))]
    assert len(kv) == 4 and all(s.stream == "encoder" for s in sites if s.name in kv)
    assert not any(s.name.endswith(("lm_head", "embed_positions")) or "pos_conv_embed" in s.name for s in sites)
    assert sed.languages == ("cmn", "deu", "eng", "fra", "jpn", "spa")
    assert sed.input_modalities == ("speech",)


def test_recording_is_invisible(sed, sed_store):
    samples, st = sed_store
    assert set(st.samples["task"]) == {"asr", "s2t", "en2x_s2t"}
    for i, s in enumerate(samples):
        _, seq = _plain(sed, s)
        gen = seq.tolist()[2:]  # [</s>, <lang>, tokens...]
        assert seq.tolist()[1] == sed.tokenizer.convert_tokens_to_ids(f"__{s.tgt_lang}__")
        gen = gen[: gen.index(sed.eos_token_id)] if sed.eos_token_id in gen else gen[:8]
        assert list(st.samples["output_tokens"][i]) == gen, s.sample_id


def test_decoder_steps_match_a_fresh_forward_per_prefix(sed, sed_store):
    samples, st = sed_store
    m = sed.model
    dec = [n for n in st.sites if st.site(n).stream == "decoder"]
    checked = 0
    for i in (0, len(samples) - 1):
        f, seq = _plain(sed, samples[i])
        for step in STEPS:
            if step > len(seq):
                continue
            got = {}
            hs = [m.get_submodule(n).register_forward_hook(
                (lambda n: lambda mod, a, o: got.__setitem__(n, o.detach().float()[0]))(n)) for n in dec]
            with torch.no_grad():
                m(input_values=f["input_values"], attention_mask=f["attention_mask"], decoder_input_ids=seq[None, :step])
            for h in hs:
                h.remove()
            for n in dec:
                np.testing.assert_allclose(st.responses(n, f"step={step}/mean")[i], got[n].mean(0).numpy(),
                                           atol=1e-4, rtol=0, err_msg=f"{n} step {step}")
                np.testing.assert_allclose(st.responses(n, f"step={step}/last")[i], got[n][step - 1].numpy(),
                                           atol=1e-4, rtol=0)
                checked += 1
    assert checked > 100


def test_encoder_pooling_over_each_convolution_axis(sed, sed_store):
    """Every feature-extractor layer shortens the time axis; each site is pooled over its own valid
    frames: equal to the mean of a batch-1 forward pass of the unpadded waveform."""
    samples, st = sed_store
    enc = [n for n in st.sites if st.site(n).component == "speech_encoder"]
    lengths = {len(read_audio(s.audio, 16000)) for s in samples[:4]}
    assert len(lengths) > 1  # the batch was padded
    for i in range(4):
        f = sed.feature_extractor([read_audio(samples[i].audio, 16000)], sampling_rate=16000, return_tensors="pt",
                                  return_attention_mask=True)
        got = {}
        hs = [sed.model.get_submodule(n).register_forward_hook(
            (lambda n: lambda mod, a, o: got.__setitem__(n, o.detach().float()[0]))(n)) for n in enc]
        with torch.no_grad():
            sed.model.encoder(f["input_values"], attention_mask=f["attention_mask"])
        for h in hs:
            h.remove()
        for n in enc:
            x = got[n].T if st.site(n).channel_axis == 1 else got[n]
            np.testing.assert_allclose(st.responses(n, "encoder")[i], x.mean(0).numpy(), atol=2e-4, rtol=0,
                                       err_msg=n)


def test_the_whole_study_runs_on_it(corpus_dir, tmp_path):
    """record → rank → analysis → intervene → report, through the task table: target-language
    (control) expertise, a steering sweep with random baselines, median replacement, and claims
    that say why speech-vs-text is not testable."""
    from babelscope.config import parse_config
    from babelscope.pipeline import run_pipeline
    from babelscope.report.claims import evaluate_claims
    from babelscope.report.data import load_run

    cfg = parse_config({
        "name": "sed", "model": {"name": "tiny-random-speech-encoder-decoder"},
        "corpus": {"source": str(corpus_dir)},
        "record": {"tasks": ["s2t", "en2x_s2t"], "steps": [2, 3], "sites": ["text_decoder", "speech_encoder"],
                   "batch_size": 8, "max_new_tokens": 6},
        "rank": {"analyses": ["source_language", "target_language"]},
        "select": {"k": 10, "mode": "both", "component": "text_decoder"},
        "intervene": {"batch_size": 8, "max_new_tokens": 6, "n_boot": 100, "runs": [
            {"name": "steer-deu", "label": "deu", "source_modality": "speech", "target_modality": "speech",
             "select_step": 2, "k": 200, "mode": "both", "steps": [1, 8], "sweep_k": [50, 200], "n_baselines": 2},
            {"name": "median-deu", "kind": "median_replacement", "label": "deu", "source_modality": "speech",
             "target_modality": "speech", "select_step": 2, "k": 50, "mode": "both"}]},
    }, "test")
    out = tmp_path / "run"
    assert run_pipeline(cfg, out, progress=False, log=lambda m: None) == out / "report" / "report.html"
    assert (out / "report" / "report.html").is_file()
    exp = pd.read_parquet(out / "expertise" / "target_language-speech-step2-mean.parquet")
    samples = pd.read_parquet(out / "activations" / "samples.parquet")
    assert set(exp["label"].astype(str)) == set(samples.loc[samples["task"] == "en2x_s2t", "tgt_lang"])
    res = pd.read_parquet(out / "interventions" / "steer-deu" / "results.parquet")
    assert (res["tgt_lang"] != "deu").all() and len(res)
    assert (out / "interventions" / "median-deu" / "results.parquet").is_file()
    claims = {c.number: c for c in evaluate_claims(load_run(out))}
    for n in (1, 2, 4):
        assert claims[n].verdict == "not testable here" and "no text input" in claims[n].reason
