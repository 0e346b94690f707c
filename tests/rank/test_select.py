"""Neuron-set selection, provenance and JSON round trips; a planted-effect recovery test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from babelscope.analysis import overlap
from babelscope.errors import ConfigError
from babelscope.rank import (ArrayStore, build_analysis, load_neuron_set, rank_store, save_neuron_set,
                             select_units)

from ._data import SITES, UNITS, make_samples


def _table(aps: list[tuple[str, int, float]], component="text_decoder", group="ffn") -> pd.DataFrame:
    rows = [{"site": s, "unit": u, "component": component, "group": group, "layer": 0, "view": "step=2/mean",
             "label": "deu", "ap": ap, "on_p50": ap + 1, "on_p90": ap + 2, "off_p50": ap - 1, "off_mean": ap - 2}
            for s, u, ap in aps]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def expertise(store, samples):
    an = build_analysis(samples, "source_language", modality="speech")
    return rank_store(store, an, view="step=2/mean", progress=False)


def test_modes_follow_the_total_order():
    t = _table([("b", 0, 0.5), ("a", 1, 0.9), ("a", 0, 0.5), ("c", 2, 0.1), ("a", 2, 0.5), ("b", 1, 0.2)])
    ids = lambda ns: [u.id for u in ns.units]  # noqa: E731
    # order: a#1 (0.9), then 0.5 ties by site then unit: a#0, a#2, b#0, then b#1 (0.2), c#2 (0.1)
    assert ids(select_units(t, "deu", k=3, mode="top")) == [("a", 1), ("a", 0), ("a", 2)]
    assert ids(select_units(t, "deu", k=2, mode="bottom")) == [("c", 2), ("b", 1)]
    assert ids(select_units(t, "deu", k=3, mode="bottom")) == [("c", 2), ("b", 1), ("b", 0)]
    both = select_units(t, "deu", k=5, mode="both")
    assert ids(both) == [("a", 1), ("a", 0), ("c", 2), ("b", 1), ("b", 0)]
    assert len(set(ids(select_units(t, "deu", k=6, mode="both")))) == 6  # disjoint halves
    u = select_units(t, "deu", k=1, mode="top").units[0]
    assert (u.on_p50, u.on_p90, u.off_p50, u.off_mean, u.ap) == pytest.approx((1.9, 2.9, -0.1, -1.1, 0.9))


def test_random_is_seeded_and_in_component(expertise):
    a = select_units(expertise, "deu", k=20, mode="random", component="decoder_ffn", seed=3)
    b = select_units(expertise, "deu", k=20, mode="random", component="decoder_ffn", seed=3)
    c = select_units(expertise, "deu", k=20, mode="random", component="decoder_ffn", seed=4)
    assert a == b and a.ids != c.ids and a.seed == 3
    assert {s for s, _ in a.ids} <= {"text_decoder.layers.0.ffn.fc1", "text_decoder.layers.1.ffn.fc1"}
    assert a.n_candidates == UNITS["text_decoder.layers.0.ffn.fc1"] + UNITS["text_decoder.layers.1.ffn.fc1"]


def test_components(expertise):
    attn = select_units(expertise, "fra", k=10, mode="top", component="decoder_attn")
    # decoder_attn and text_decoder are the decoder stream: the cross-attention K/V projection is not in them
    kv = "text_decoder.layers.0.cross_attention.k_proj"
    assert {s for s, _ in attn.ids} <= {"text_decoder.layers.0.self_attn.q_proj"}
    assert attn.n_candidates == UNITS["text_decoder.layers.0.self_attn.q_proj"]
    n_dec = sum(n for s, n in UNITS.items() if s.startswith("text_decoder."))
    dec = select_units(expertise, "fra", k=n_dec - UNITS[kv], mode="both", component="text_decoder")
    assert dec.n_candidates == n_dec - UNITS[kv] and kv not in {s for s, _ in dec.ids}
    kvs = select_units(expertise, "fra", k=UNITS[kv], mode="top", component="decoder_kv")
    assert {s for s, _ in kvs.ids} == {kv} and kvs.n_candidates == UNITS[kv]
    every = select_units(expertise, "fra", k=n_dec, mode="both", component="decoder_all")
    assert every.n_candidates == n_dec and kv in {s for s, _ in every.ids}
    with pytest.raises(ConfigError, match=f"k={n_dec} is larger than component 'text_decoder'.*{n_dec - UNITS[kv]}"):
        select_units(expertise, "fra", k=n_dec, mode="top")
    with pytest.raises(ConfigError, match="component='decoder'"):
        select_units(expertise, "fra", k=1, component="decoder")
    with pytest.raises(ConfigError, match="mode='best'"):
        select_units(expertise, "fra", k=1, mode="best")
    with pytest.raises(ConfigError, match="label='xxx'"):
        select_units(expertise, "xxx", k=1)
    with pytest.raises(ConfigError, match="k must be a positive"):
        select_units(expertise, "fra", k=0)


def test_provenance_and_json_roundtrip(expertise, tmp_path):
    ns = select_units(expertise, "jpn", k=12, mode="both", component="text_decoder")
    assert (ns.model, ns.analysis, ns.label, ns.task, ns.modality, ns.view, ns.k, ns.mode) == \
        ("fake-model", "source_language", "jpn", "s2t", "speech", "step=2/mean", 12, "both")
    path = save_neuron_set(ns, tmp_path / "set.json")
    assert [p.name for p in tmp_path.iterdir()] == ["set.json"]
    assert load_neuron_set(path) == ns
    # validation names what is wrong
    data = json.loads(path.read_text())
    for mutate, msg in [(lambda d: d["units"][3].pop("on_p50"), r"units\[3\]: missing field 'on_p50'"),
                        (lambda d: d["provenance"].update(k="12"), "field 'k' has type str"),
                        (lambda d: d["provenance"].update(mode="all"), "'mode' is 'all'"),
                        (lambda d: d.update(format="x"), "field 'format'"),
                        (lambda d: d["units"].pop(), "k=12 but the file lists 11"),
                        (lambda d: d["units"].__setitem__(1, d["units"][0]), "lists a unit twice")]:
        bad = json.loads(json.dumps(data))
        mutate(bad)
        (tmp_path / "bad.json").write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=msg):
            load_neuron_set(tmp_path / "bad.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_neuron_set(tmp_path / "bad.json")


def test_planted_units_are_recovered():
    """50 units get a known offset for one language: top-50 finds all, random-50 is near chance."""
    samples = make_samples(n_groups=40)
    n, units = len(samples), 2000
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, units)).astype(np.float32)
    planted = rng.choice(units, 50, replace=False)
    is_fra = (samples["src_lang"] == "fra").to_numpy()
    x[np.ix_(is_fra, planted)] += 1.5
    site = "text_decoder.layers.0.ffn.fc1"
    store = ArrayStore(samples, {(site, "step=2/mean"): x}, {site: SITES[site]})
    an = build_analysis(samples, "source_language", modality="text")
    exp = rank_store(store, an, view="step=2/mean", block_units=300, progress=False)
    truth = {(site, int(u)) for u in planted}
    top = select_units(exp, "fra", k=50, mode="top")
    assert top.ids == truth
    rand = select_units(exp, "fra", k=50, mode="random", seed=0)
    o = overlap(rand, truth, universe=units)
    assert o.chance == pytest.approx(50 * 50 / units)
    assert o.count <= 10
    assert overlap(top, truth).count == 50
    bottom = select_units(exp, "fra", k=50, mode="bottom")
    assert not (bottom.ids & truth)
