"""run_intervention and the ``babelscope intervene`` CLI on a real (tiny) store and ranking."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from babelscope.corpus import build_task_samples, read_manifest


@pytest.fixture(scope="module")
def ranked(seamless, corpus_dir, tmp_path_factory):
    from babelscope.rank import build_analysis, rank_store, read_expertise, save_neuron_set, select_units
    from babelscope.record import RecordSettings, record

    root = tmp_path_factory.mktemp("intervene")
    samples = build_task_samples(read_manifest(corpus_dir), ["en2x_t2t"])
    store = record(seamless, samples, root / "store", RecordSettings(steps=(2,), sites=("text_decoder",),
                                                                      batch_size=8, max_new_tokens=8),
                   progress=False)
    an = build_analysis(store.samples, "target_language", modality="text")
    rank_store(store, an, view="step=2/mean", out=root / "exp.parquet", progress=False)
    exp = read_expertise(root / "exp.parquet")
    ns = select_units(exp, "deu", k=40, mode="top", component="decoder_ffn")
    save_neuron_set(ns, root / "deu.json")
    return root, store, exp, ns


def test_run_intervention_conditions_and_determinism(seamless, ranked, tmp_path):
    from babelscope.intervene import Forcing, read_results, run_intervention
    from babelscope.intervene.samples import samples_from_table, select_samples

    root, store, exp, ns = ranked
    samples = select_samples(samples_from_table(store.samples), tasks="en2x_t2t", exclude_tgt="deu")
    assert samples and all(s.tgt_lang != "deu" for s in samples)
    forcing = Forcing(sets=(ns,), factor=3.0, steps=(2, 8))
    a = run_intervention(seamless, samples, forcing, baseline_tables=[exp.table], steer_to="deu",
                         batch_size=8, max_new_tokens=8, out=tmp_path / "a", progress=False, n_boot=200)
    b = run_intervention(seamless, samples, forcing, baseline_tables=[exp.table], steer_to="deu",
                         batch_size=8, max_new_tokens=8, out=tmp_path / "b", progress=False, n_boot=200)
    t = a.table
    assert sorted(t["condition"].unique()) == ["baseline", "forced", "unforced"]
    assert (t.groupby("condition").size() == len(samples)).all()
    assert (t["expected_lang"] == "deu").all()
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.summary["effects"] == b.summary["effects"]
    # the unforced condition equals plain generation
    from babelscope.models.generation import generate_texts

    plain = generate_texts(seamless, samples, batch_size=8, max_new_tokens=8)
    assert t[t.condition == "unforced"]["text"].tolist() == [o["text"] for o in plain]
    # forcing at x3 the median changed some output, the baseline is a different unit set of the same size
    assert (t[t.condition == "forced"]["text"].to_numpy() != t[t.condition == "unforced"]["text"].to_numpy()).any()
    forcing_json = json.loads((tmp_path / "a" / "forcing.json").read_text())
    base_units = {(u["site"], u["unit"]) for u in forcing_json["baseline"]["sets"][0]["units"]}
    assert len(base_units) == len(ns) and base_units != set(ns.ids)
    back = read_results(tmp_path / "a")
    assert len(back.table) == 3 * len(samples)
    # effects are paired differences of per-sample metrics: check one against numpy
    f = t[t.condition == "forced"].set_index("sample_id").sort_index()
    u = t[t.condition == "unforced"].set_index("sample_id").sort_index()
    diff = (f["expected_prob"] - u["expected_prob"]).mean()
    assert np.isclose(a.summary["effects"]["forced-unforced"]["expected_prob"]["effect"], diff)


def test_intervene_cli(ranked, tmp_path):
    from babelscope.cli import main

    root, store, exp, ns = ranked
    out = tmp_path / "cli"
    base = ["intervene", "--store", str(root / "store"), "--set", str(root / "deu.json"), "--expertise",
            str(root / "exp.parquet"), "--steer-to", "deu", "--batch-size", "8", "--max-new-tokens", "6",
            "--no-progress"]
    main(base + ["--steps", "2:6", "--out", str(out)])
    table = pd.read_parquet(out / "results.parquet")
    assert set(table["condition"]) == {"unforced", "forced", "baseline"}
    summary = json.loads((out / "summary.json").read_text())
    assert {"forced-unforced", "forced-baseline"} <= set(summary["effects"])
    with pytest.raises(SystemExit) as exc:
        main(base + ["--steps", "6:2", "--out", str(tmp_path / "bad")])
    assert exc.value.code == 2 and not (tmp_path / "bad").exists()


def test_dose_response_sweep(seamless, ranked, tmp_path):
    """A sweep's point equals the single intervention at that k and factor; each point has its own
    seeded random baselines; the curve's numbers are the table's."""
    from babelscope.intervene import Forcing, run_intervention
    from babelscope.intervene.samples import samples_from_table, select_samples
    from babelscope.intervene.sweep import run_sweep
    from babelscope.rank import select_units

    root, store, exp, _ = ranked
    samples = select_samples(samples_from_table(store.samples), tasks="en2x_t2t", exclude_tgt="deu")
    res = run_sweep(seamless, samples, exp, label="deu", ks=[10, 40], factors=[1.0, 3.0], n_baselines=3, mode="top",
                    component="decoder_ffn", steps=(2, 8), steer_to="deu", batch_size=8, max_new_tokens=8,
                    n_boot=200, n_perm=500, headline=(40, 3.0), out=tmp_path / "sweep", progress=False)
    t = res.table
    n = len(samples)
    assert (t["condition"] == "unforced").sum() == n
    assert (t["condition"] == "forced").sum() == 4 * n and (t["condition"] == "baseline").sum() == 4 * 3 * n
    # point (k = 40, factor 1) is the single intervention with the same set, forcing and baseline seed 0
    ns = select_units(exp, "deu", k=40, mode="top", component="decoder_ffn")
    single = run_intervention(seamless, samples, Forcing(sets=(ns,), steps=(2, 8)), baseline_tables=[exp.table],
                              steer_to="deu", batch_size=8, max_new_tokens=8, progress=False, n_boot=200).table
    pt = t[(t["k"] == 40) & (t["factor"] == 1.0)]
    assert pt.loc[pt.condition == "forced", "text"].tolist() == single.loc[single.condition == "forced", "text"].tolist()
    b0 = pt[(pt.condition == "baseline") & (pt.baseline_seed == 0)]
    assert b0["text"].tolist() == single.loc[single.condition == "baseline", "text"].tolist()
    # the curve from the table, by pandas
    for p in res.summary["curve"]:
        rows = t[t["point"] == p["point"]]
        forced = rows[rows.condition == "forced"].set_index("sample_id")["is_expected"].astype(float)
        base = rows[rows.condition == "baseline"].groupby("sample_id")["is_expected"].mean()
        assert p["forced_share"] == pytest.approx(forced.mean())
        assert sorted(p["baseline_shares"]) == sorted(
            rows[rows.condition == "baseline"].groupby("baseline_seed")["is_expected"].mean().tolist())
        assert p["effect"] == pytest.approx((forced - base.loc[forced.index]).mean())
        assert 0 < p["p_value"] <= 1 and p["n"] == n
    forcing = json.loads((tmp_path / "sweep" / "forcing.json").read_text())["points"]
    seeds = [{(u["site"], u["unit"]) for u in b["sets"][0]["units"]} for b in forcing[0]["baselines"]]
    assert len({frozenset(s) for s in seeds}) == 3          # three different random draws
    assert res.summary["headline"] == {"k": 40, "factor": 3.0, "point": 3}
    assert set(res.summary["conditions"]) == {"unforced", "forced", "baseline"}
