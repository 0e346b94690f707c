"""Forcing hooks: identity forcing is invisible, forced values reach the recorder, hooks never leak."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.errors import ConfigError
from babelscope.intervene import Forcing, forcing_hooks, plan_from_values
from babelscope.models.generation import generate_texts, iter_batches
from babelscope.models.hooks_util import temporary_hooks
from babelscope.rank.select import NeuronSet, SetUnit
from conftest import no_hooks


def _samples(corpus_dir, modality, n=6):
    corpus = read_manifest(corpus_dir)
    task = "t2t" if modality == "text" else "s2t"
    return build_task_samples(corpus, [task])[:n]


def _site_choice(adapter, modality):
    names = {s.name: s for s in adapter.sites()}
    want = ["text_decoder.layers.0.ffn.fc1", "text_decoder.layers.1.self_attn.out_proj",
            "text_decoder.layers.0.cross_attention.k_proj"]
    want += ["text_encoder.layers.0.ffn.fc1"] if modality == "text" else \
        ["speech_encoder.encoder.layers.0.ffn1.intermediate_dense"]
    missing = [w for w in want if w not in names]
    assert not missing, f"sites renamed? {missing}"
    return [names[w] for w in want]


class _Recorder:
    """Plain forward hooks that keep each site's full output per absolute position (test's own code)."""

    def __init__(self, sites):
        self.sites = sites
        self.calls = {s.name: [] for s in sites}

    def specs(self, adapter):
        def make(site):
            def hook(module, args, out):
                x = out if site.channel_axis == -1 else out.transpose(1, 2)
                self.calls[site.name].append(x.detach().clone())
            return hook
        return [(adapter.module(s.name), "forward", make(s)) for s in self.sites]

    def per_position(self, name):
        return torch.cat(self.calls[name], dim=1)  # [batch, all positions, d]


UNITS = [0, 3, 5, 17]


@pytest.mark.parametrize("modality", ["text", "speech"])
def test_identity_forcing_leaves_tokens_unchanged(seamless, corpus_dir, modality):
    adapter = seamless
    samples = _samples(corpus_dir, modality)
    sites = _site_choice(adapter, modality)
    plain = generate_texts(adapter, samples, batch_size=8, max_new_tokens=12)
    for start, sub in iter_batches(adapter, samples, 8):
        from babelscope.corpus.audio import read_audio

        audio = [read_audio(s.audio, adapter.sample_rate) if s.audio and s.modality == "speech" else None
                 for s in sub]
        batch = adapter.prepare(sub, audio)
        rec = _Recorder(sites)
        with temporary_hooks(rec.specs(adapter)):
            seq_plain = adapter.generate(batch, 12)
        seen = {s.name: rec.per_position(s.name) for s in sites}
        assert all(v.shape[1] > 0 for v in seen.values()), "a chosen site never fired"

        def value_fn(site, positions, b):
            return seen[site.name][:, positions][:, :, UNITS]

        plan = plan_from_values(adapter, {s.name: UNITS for s in sites}, {s.name: value_fn for s in sites})
        with forcing_hooks(adapter, plan, batch):
            seq_identity = adapter.generate(batch, 12)
        assert torch.equal(seq_plain, seq_identity)

        # the same machinery with values that differ must change something: the test can fail
        shifted = plan_from_values(adapter, {sites[0].name: list(range(sites[0].n_units))},
                                   {sites[0].name: lambda site, pos, b: seen[site.name][:, pos] + 25.0})
        with forcing_hooks(adapter, shifted, batch):
            seq_shifted = adapter.generate(batch, 12)
        assert not torch.equal(seq_plain, seq_shifted)
    assert [o["tokens"] for o in plain] == [o["tokens"] for o in generate_texts(adapter, samples, batch_size=8,
                                                                                max_new_tokens=12)]


def test_hooks_removed_after_run_and_after_error(seamless, corpus_dir):
    adapter = seamless
    samples = _samples(corpus_dir, "text", n=4)
    site = "text_decoder.layers.0.ffn.fc1"
    plan = plan_from_values(adapter, {site: [1, 2]}, {site: [0.5, -0.5]})
    generate_texts(adapter, samples, batch_size=4, max_new_tokens=6,
                   context=lambda sub, batch: forcing_hooks(adapter, plan, batch))
    assert no_hooks(adapter.model)

    calls = [0]

    def exploding(site_, positions, b):
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("boom inside generation")
        return torch.zeros(b, len(positions), 2)

    bad = plan_from_values(adapter, {site: [1, 2]}, {site: exploding})
    with pytest.raises(RuntimeError, match="boom"):
        generate_texts(adapter, samples, batch_size=4, max_new_tokens=6,
                       context=lambda sub, batch: forcing_hooks(adapter, bad, batch))
    assert calls[0] == 3
    assert no_hooks(adapter.model)


def test_forced_values_reach_the_recorder(seamless, corpus_dir, tmp_path):
    from babelscope.record import RecordSettings, open_activations, record

    adapter = seamless
    samples = _samples(corpus_dir, "text", n=6)
    site = "text_decoder.layers.0.ffn.fc1"
    units = [2, 9, 40]
    settings = RecordSettings(steps=(1, 2, 3, 4, 5), sites=(site,), batch_size=6, max_new_tokens=8)
    plain = record(adapter, samples, tmp_path / "plain", settings, progress=False)
    plan = plan_from_values(adapter, {site: units}, {site: [7.0, -3.0, 11.5]}, steps=(3, 5))
    forced = record(adapter, samples, tmp_path / "forced", settings, progress=False, forcing=plan)
    assert forced.manifest["forcing"]
    for step in (1, 2, 3, 4, 5):
        a = plain.responses(site, f"step={step}/last")
        b = forced.responses(site, f"step={step}/last")
        ok = forced.valid(site, f"step={step}/last")
        if step in (3, 4):  # inside [3, 5): the forced value at the forced units
            np.testing.assert_array_equal(b[ok][:, units], np.tile([7.0, -3.0, 11.5], (ok.sum(), 1)))
        elif step < 3:  # before the range: exactly the unforced model
            np.testing.assert_array_equal(a, b)
        else:  # after the range: the unit's own (computed, not forced) value
            assert not np.isclose(b[ok][:, units], [7.0, -3.0, 11.5]).any()
    assert no_hooks(adapter.model)


def _set(adapter, site, units, label="deu"):
    return NeuronSet(model=adapter.name, analysis="target_language", label=label, task="en2x_t2t",
                     modality="text", view="step=2/mean", component="text_decoder", k=len(units), mode="top",
                     seed=None, n_candidates=128,
                     units=tuple(SetUnit(site, u, 0.9, 1.5, 2.0, 0.1, 0.2) for u in units))


def test_forcing_spec_errors_and_roundtrip(seamless):
    with pytest.raises(ConfigError, match="empty"):
        Forcing(sets=(_set(seamless, "text_decoder.layers.0.ffn.fc1", []),))
    with pytest.raises(ConfigError, match="at least one"):
        Forcing(sets=())
    f = Forcing(sets=(_set(seamless, "text_decoder.layers.0.ffn.fc1", [1, 2]),), value="on_p90", factor=2.0,
                steps=(2, 7))
    g = Forcing.from_json(f.to_json())
    assert g == f
    from babelscope.errors import SiteError
    from babelscope.intervene import resolve

    with pytest.raises(SiteError, match="does not exist"):
        resolve(Forcing(sets=(_set(seamless, "text_decoder.layers.9.ffn.fc1", [1]),)), seamless)
    plan = resolve(f, seamless)
    np.testing.assert_allclose(plan.sites["text_decoder.layers.0.ffn.fc1"].values.numpy(), [4.0, 4.0])
    with pytest.raises(ConfigError, match="different"):
        resolve(Forcing(sets=(_set(seamless, "text_decoder.layers.0.ffn.fc1", [1]),
                              NeuronSet(**{**_set(seamless, "text_decoder.layers.0.ffn.fc1", [1]).__dict__,
                                           "label": "spa", "units": (SetUnit("text_decoder.layers.0.ffn.fc1", 1,
                                                                             0.9, 9.0, 9.0, 0, 0),)}))), seamless)


def test_step_range_refuses_encoder_stream_units(seamless):
    """Cross-attention K/V units have one value per input: a step range cannot hold for them, so
    forcing them under one is an error unless asked for (METHODS §5 streams)."""
    from babelscope.intervene import resolve

    kv = next(s.name for s in seamless.sites() if s.name.endswith("cross_attention.k_proj"))
    ffn = "text_decoder.layers.0.ffn.fc1"
    mixed = (_set(seamless, ffn, [1, 2]), _set(seamless, kv, [0, 3]))
    with pytest.raises(ConfigError, match=r"2 of its units sit at encoder-stream sites.*step range \[2, 7\)"):
        resolve(Forcing(sets=mixed, steps=(2, 7)), seamless)
    allowed = Forcing(sets=mixed, steps=(2, 7), allow_encoder_stream=True)
    assert Forcing.from_json(allowed.to_json()) == allowed
    assert resolve(allowed, seamless).n_units == 4
    assert resolve(Forcing(sets=mixed), seamless).n_units == 4  # no step range: every step, as documented
    assert resolve(Forcing(sets=mixed[:1], steps=(2, 7)), seamless).n_units == 2  # decoder stream only
