"""The registered interventions against hand-written forward hooks on the same model: ``add``,
``scale`` and ``patch`` change exactly what they say, and a new intervention registered in the test
itself (the recipe of docs/architecture.md) runs through the spec, the hooks and generation."""

from __future__ import annotations

import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.errors import ConfigError
from babelscope.intervene import Forcing, forcing_hooks, plan_from_values, resolve
from babelscope.intervene.ops import INTERVENTIONS, Intervention, register_intervention
from babelscope.models.hooks_util import temporary_hooks
from babelscope.rank.select import NeuronSet, SetUnit

SITE = "text_decoder.layers.0.ffn.fc1"
UNITS = [1, 4, 9]


def _batch(adapter, corpus_dir, n=4):
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t"])[:n]
    return adapter.prepare(samples, [None] * len(samples))


def _expected(adapter, batch, change):
    """Greedy output and the site's per-position outputs with ``change(x)`` applied by a plain hook."""
    seen = []

    def hook(module, args, out):
        out = change(out.clone())
        seen.append(out.detach().clone())
        return out

    with temporary_hooks([(adapter.module(SITE), "forward", hook)]):
        seq = adapter.generate(batch, 8)
    return seq, torch.cat(seen, dim=1)


def _forced(adapter, batch, plan):
    seen = []

    def keep(module, args, out):
        seen.append(out.detach().clone())

    with forcing_hooks(adapter, plan, batch), temporary_hooks([(adapter.module(SITE), "forward", keep)]):
        seq = adapter.generate(batch, 8)
    return seq, torch.cat(seen, dim=1)


def _set(adapter, **stats):
    units = [SetUnit(SITE, u, ap=0.9, **{k: v + i for k, v in stats.items()}) for i, u in enumerate(UNITS)]
    return NeuronSet(model=adapter.name, analysis="target_language", label="deu", task="en2x_t2t", modality="text",
                     view="step=2/mean", component="text_decoder", k=len(units), mode="top", seed=None,
                     n_candidates=100, units=units)


def _stats():
    return {"on_p50": 2.0, "on_p90": 3.0, "off_p50": -1.0, "off_mean": -0.5}


@pytest.mark.parametrize("op,change", [
    ("add", lambda x: torch.cat([x[..., :1], x[..., 1:2] + 3.0, x[..., 2:4], x[..., 4:5] + 4.5,
                                 x[..., 5:9], x[..., 9:10] + 6.0, x[..., 10:]], dim=-1)),
    ("scale", lambda x: torch.cat([x[..., :1], x[..., 1:2] * 1.5, x[..., 2:4], x[..., 4:5] * 1.5,
                                   x[..., 5:9], x[..., 9:10] * 1.5, x[..., 10:]], dim=-1)),
])
def test_add_and_scale_equal_a_hand_written_hook(seamless, corpus_dir, op, change):
    batch = _batch(seamless, corpus_dir)
    # on_p50 of the three units: 2, 3, 4; add: (2, 3, 4) x 1.5; scale: x 1.5
    plan = resolve(Forcing(sets=(_set(seamless, **_stats()),), op=op, factor=1.5), seamless)
    want_seq, want = _expected(seamless, batch, change)
    got_seq, got = _forced(seamless, batch, plan)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert torch.equal(got_seq, want_seq)


def test_patch_writes_each_samples_own_values(seamless, corpus_dir):
    batch = _batch(seamless, corpus_dir)
    rows = torch.tensor([[0.5, -1.0, 2.0], [1.5, 0.0, -2.0], [3.0, 1.0, 0.25], [-0.5, -0.5, 4.0]])

    def change(x):
        x[:, :, UNITS] = rows[:, None, :].expand(-1, x.shape[1], -1)
        return x

    plan = plan_from_values(seamless, {SITE: UNITS}, {SITE: rows}, op="patch")
    want_seq, want = _expected(seamless, batch, change)
    got_seq, got = _forced(seamless, batch, plan)
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert torch.equal(got_seq, want_seq)
    with pytest.raises(ConfigError, match="from another input"):
        resolve(Forcing(sets=(_set(seamless, **_stats()),), op="patch"), seamless)


def test_unknown_op_lists_the_registered_ones(seamless):
    with pytest.raises(ConfigError, match=r"forcing op: expected one of \['add', 'patch', 'replace', 'scale'"):
        Forcing(sets=(_set(seamless, **_stats()),), op="steer")


def test_recipe_a_new_intervention_is_one_registered_class(seamless, corpus_dir):
    """docs/architecture.md, "add an intervention": a class with a name and ``apply``, registered; the
    forcing spec (JSON round trip included), the hooks and a baseline take it by name."""

    @register_intervention
    class Clamp(Intervention):
        """Clamp the units to at most their value."""

        name = "clamp_toy"

        def apply(self, x, units, mask, values):
            return self._where(x, units, mask, torch.minimum(x[:, :, units], values))

    try:
        batch = _batch(seamless, corpus_dir)
        forcing = Forcing(sets=(_set(seamless, on_p50=0.0, on_p90=0.0, off_p50=0.0, off_mean=0.0),), op="clamp_toy")
        again = Forcing.from_json(forcing.to_json())
        assert again.op == "clamp_toy" and "clamp_toy" in again.describe()
        plan = resolve(again, seamless)

        def change(x):  # the units' on_p50: 0, 1, 2
            x[:, :, UNITS] = torch.minimum(x[:, :, UNITS], torch.tensor([0.0, 1.0, 2.0]))
            return x

        want_seq, want = _expected(seamless, batch, change)
        got_seq, got = _forced(seamless, batch, plan)
        torch.testing.assert_close(got, want, rtol=0, atol=0)
        assert torch.equal(got_seq, want_seq)
    finally:
        INTERVENTIONS.pop("clamp_toy", None)
