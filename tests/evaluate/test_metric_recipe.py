"""docs/architecture.md, "add a metric": one ``register_metric`` call made inside this test. The results
column, the per-condition summary, the paired effects, the report's ``interventions.csv`` record and the
CLI's summary table follow from the registry; each is checked against numpy/pandas on the outputs."""

from __future__ import annotations

import numpy as np
import pytest

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.evaluate.metrics import METRICS, Metric, register_metric
from babelscope.rank.select import NeuronSet, SetUnit

SITE = "text_decoder.layers.0.ffn.fc1"


def _set(adapter, units):
    us = [SetUnit(SITE, u, ap=0.9, on_p50=3.0, on_p90=4.0, off_p50=-1.0, off_mean=-0.5) for u in units]
    return NeuronSet(model=adapter.name, analysis="target_language", label="deu", task="en2x_t2t", modality="text",
                     view="step=2/mean", component="text_decoder", k=len(us), mode="top", seed=None,
                     n_candidates=100, units=us)


@pytest.fixture
def toy_metric():
    """Characters per output: a metric that needs nothing but the generated text."""
    m = register_metric(Metric("n_chars_toy", "mean_chars_toy", "characters", fmt=".1f",
                               compute=lambda t: t["text"].str.len().to_numpy(dtype=float)))
    try:
        yield m
    finally:
        METRICS.pop(m.name)


def test_recipe_a_new_metric_is_one_registered_object(seamless, corpus_dir, toy_metric, tmp_path, capsys, monkeypatch):
    from babelscope.cli.intervene_cmds import print_summary
    from babelscope.intervene import Forcing, read_results, run_intervention
    from babelscope.report.data import Intervention
    from babelscope.report.sections_interventions import _flat_record

    samples = build_task_samples(read_manifest(corpus_dir), ["en2x_t2t"])[:10]
    forced = Forcing(sets=(_set(seamless, range(0, 40)),), factor=4.0)
    baseline = Forcing(sets=(_set(seamless, range(60, 100)),), factor=4.0)
    res = run_intervention(seamless, samples, forced, baseline=baseline, steer_to="deu", batch_size=5,
                           max_new_tokens=8, n_boot=200, out=tmp_path / "iv", progress=False)

    # the results column: the characters of each output, recomputed from the text
    t = read_results(tmp_path / "iv").table
    assert "n_chars_toy" in t.columns
    np.testing.assert_array_equal(t["n_chars_toy"].to_numpy(), np.array([len(x) for x in t["text"]], float))
    by = {c: g.set_index("sample_id").sort_index() for c, g in t.groupby("condition")}
    lengths = {c: np.array([len(x) for x in g["text"]], float) for c, g in by.items()}
    assert not np.array_equal(lengths["forced"], lengths["unforced"])  # the forcing changed some output

    # the per-condition summary: the mean over samples
    for c, v in lengths.items():
        assert res.summary["conditions"][c]["mean_chars_toy"] == pytest.approx(v.mean())
        for lang, g in t[t.condition == c].groupby("tgt_lang"):
            assert res.summary["by_tgt_lang"][lang][c]["mean_chars_toy"] == pytest.approx(g["text"].str.len().mean())

    # the paired effects: mean of the per-sample differences, with an interval around it
    for a, b in (("forced", "unforced"), ("forced", "baseline"), ("baseline", "unforced")):
        e = res.summary["effects"][f"{a}-{b}"]["n_chars_toy"]
        d = lengths[a] - lengths[b]
        assert e["effect"] == pytest.approx(d.mean()) and e["n"] == len(d)
        assert e["ci95"][0] <= e["effect"] <= e["ci95"][1]

    # the report's flat record (one row of tables/interventions.csv)
    rec = _flat_record(Intervention("iv", {"kind": "steer"}, res.summary, t), len(samples))
    assert rec["forced_mean_chars_toy"] == pytest.approx(lengths["forced"].mean())
    assert rec["forced-unforced_n_chars_toy"] == pytest.approx((lengths["forced"] - lengths["unforced"]).mean())
    assert {"forced-baseline_n_chars_toy_lo", "forced-baseline_n_chars_toy_hi"} <= set(rec)

    # the CLI's summary table has the metric's column, formatted as declared
    from babelscope.cli import intervene_cmds

    monkeypatch.setattr(intervene_cmds.console, "width", 200)
    print_summary(res.summary)
    out = capsys.readouterr().out
    assert "characters" in out and f"{lengths['forced'].mean():.1f}" in out


def test_a_second_headline_metric_is_refused(toy_metric):
    from babelscope.errors import ConfigError

    with pytest.raises(ConfigError, match="already registered"):
        register_metric(Metric("n_chars_toy", "x", "x"))
    with pytest.raises(ConfigError, match="only the headline metric"):
        register_metric(Metric("other_toy", "y", "y", ci=True))
    assert "other_toy" not in METRICS
