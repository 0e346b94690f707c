"""Layer outputs (the residual stream after each transformer layer) as sites: recorded values equal the
hidden states transformers itself returns (``output_hidden_states=True`` of a plain forward pass over
the generated prefix), and the ``all`` / ``study`` presets and component names select what they say."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.corpus.audio import read_audio
from babelscope.record import RecordSettings, record
from babelscope.vocab.sites import select_sites

STEPS = (2, 3)


def _plain_hidden(adapter, sample, max_new_tokens):
    """Per stack, the hidden states of a plain forward pass over the greedy output's prefix."""
    audio = [read_audio(sample.audio, adapter.sample_rate) if sample.modality == "speech" else None]
    batch = adapter.prepare([sample], audio)
    seq = adapter.generate(batch, max_new_tokens)[0]
    # a copy: output_hidden_states makes transformers install its own capturing hooks for good, and
    # the session's model must stay free of hooks (other tests check that ours are all removed)
    model = copy.deepcopy(adapter.model)
    if hasattr(model, "set_modality"):
        model.set_modality(sample.modality)
    with torch.no_grad():
        out = model(**batch.inputs, decoder_input_ids=seq[None, :max(STEPS)], output_hidden_states=True)
    return out.encoder_hidden_states, out.decoder_hidden_states, batch


@pytest.mark.parametrize("family,task", [("seamless", "t2t"), ("seamless", "s2t"), ("whisper", "s2t")])
def test_layer_outputs_equal_the_hidden_states_of_a_plain_forward_pass(family, task, seamless, whisper, corpus_dir,
                                                                        tmp_path):
    adapter = seamless if family == "seamless" else whisper
    sample = build_task_samples(read_manifest(corpus_dir), [task], max_groups=1)[0]
    layers = [s for s in adapter.sites() if s.kind == "layer"]
    dec = [s for s in layers if s.stream == "decoder"]
    enc_prefix = {"t2t": "text_encoder.", "s2t": "speech_encoder.encoder."}[task] if family == "seamless" \
        else "model.encoder."
    enc = [s for s in layers if s.name.startswith(enc_prefix)]
    assert len(dec) == 2 and len(enc) == 2  # the tiny models have 2 layers per stack
    max_new = 4
    st = record(adapter, [sample], tmp_path / "s", RecordSettings(steps=STEPS, sites=tuple(s.name for s in dec + enc),
                                                                 batch_size=1, max_new_tokens=max_new), progress=False)
    enc_h, dec_h, batch = _plain_hidden(adapter, sample, max_new)
    # hidden_states[i + 1] is the output of layer i, except the last entry, taken after the final LayerNorm
    site = dec[0]
    for s in STEPS:
        want = dec_h[1][0, :s].mean(0).numpy()
        np.testing.assert_allclose(st.responses(site.name, f"step={s}/mean")[0], want, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(st.responses(site.name, f"step={s}/last")[0], dec_h[1][0, s - 1].numpy(),
                                   rtol=1e-4, atol=1e-5)
    # pooled over the input's valid positions (Whisper pads every input to 30 s)
    n_valid = int(batch.lengths_by_time[enc_h[1].shape[1]][0])
    want = enc_h[1][0, :n_valid].mean(0).numpy()
    np.testing.assert_allclose(st.responses(enc[0].name, "encoder")[0], want, rtol=1e-4, atol=1e-5)
    assert st.n_units(site.name) == dec_h[1].shape[-1] and st.site(site.name).group == "layer"


def test_presets_and_component_names(seamless):
    sites = seamless.sites()
    kinds = {s.name: s.kind for s in sites}
    every = select_sites(sites, ["all"])
    assert [s.name for s in every] == [s.name for s in select_sites(sites, ["speech_encoder", "text_encoder",
                                                                            "text_decoder"])]
    assert "layer" not in {s.kind for s in every}  # the paper's default: modules only
    assert len(every) + sum(k == "layer" for k in kinds.values()) == len(sites)
    study = select_sites(sites, "study")
    names = {s.name for s in study}
    want = {n for n, k in kinds.items() if k in ("post_act", "layer")}
    want |= {n for n in kinds if n.endswith(("self_attn.out_proj", "cross_attention.out_proj", "self_attn.linear_out",
                                             "cross_attention.k_proj", "cross_attention.v_proj"))}
    assert names == want
    assert "text_decoder.layers.1" in names and "text_decoder.layers.1.ffn.fc1" not in names
    # a glob matches layer outputs like any path
    assert "text_decoder.layers.0" in {s.name for s in select_sites(sites, "text_decoder.layers.*")}
