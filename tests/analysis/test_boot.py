"""The analysis stage's bootstraps over sentences (pipeline/analysis_boot.py): weighted AP equals
scikit-learn's, the group resampling keeps pairs together, and planted effects come out with
intervals that cover them while null data give intervals around 0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from babelscope.analysis.resample import SortedResponses, gini_rows, group_weights
from babelscope.pipeline import analysis_boot as ab
from babelscope.pipeline.analysis_stage import overlap_and_spearman
from babelscope.pipeline.rank_stage import RankJob
from babelscope.rank import ArrayStore, build_analysis, rank_store, read_expertise

from rank._data import make_samples  # tests/ is on sys.path (rootdir conftest)

DEC = "text_decoder.layers.0.ffn.fc1"


def test_weighted_ap_equals_sklearn_with_sample_weights_and_ties():
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=(60, 9)), 1)          # many ties
    x[:, 3] = 0.25                                      # a constant unit
    y = rng.random(60) < 0.3
    w = rng.integers(0, 4, size=(7, 60)).astype(float)
    got = SortedResponses(x).ap(y, w)
    want = np.array([[average_precision_score(y, x[:, j], sample_weight=w[b]) for j in range(9)] for b in range(7)])
    np.testing.assert_allclose(got, want, atol=1e-12)


def test_group_weights_resample_whole_groups():
    groups = np.repeat([f"g{i}" for i in range(8)], 5)
    w = np.concatenate(list(group_weights(groups, 30, seed=1)))
    assert w.shape == (30, 40)
    per = w.reshape(30, 8, 5)
    assert (per == per[:, :, :1]).all()                 # every sample of a group weighs the same
    assert (per[:, :, 0].sum(axis=1) == 8).all()        # 8 groups drawn per replicate
    assert len({tuple(r) for r in per[:, :, 0]}) > 20   # and the draws differ


def test_gini_rows_equals_the_formula():
    rng = np.random.default_rng(2)
    m = rng.random((4, 30))
    for row, g in zip(m, gini_rows(m)):
        x = np.sort(row)
        i = np.arange(1, 31)
        assert g == pytest.approx(((2 * i - 31) * x).sum() / (30 * x.sum()), rel=1e-12)


def _overlap_store(samples, shift_late_text: bool, strength: float, seed: int = 0) -> ArrayStore:
    """Decoder units 2i, 2i+1 fire for source language i at step 2 in both modalities; at step 5 the
    text-derived units move to 30 + 2i (planted overlap 1 → 0) or stay (null)."""
    rng = np.random.default_rng(seed)
    langs = sorted(samples["src_lang"].unique())
    lang_ix = samples["src_lang"].map({l: i for i, l in enumerate(langs)}).to_numpy()
    text = (samples["modality"] == "text").to_numpy()
    arrays = {}
    for view, move in (("step=2/mean", False), ("step=5/mean", shift_late_text)):
        x = rng.normal(size=(len(samples), 60))
        cols = 2 * lang_ix + np.where(text & move, 30, 0)
        for off in (0, 1):
            x[np.arange(len(samples)), cols + off] += strength
        arrays[(DEC, view)] = x.astype(np.float32)
    return ArrayStore(samples, arrays, {DEC: dict(component="text_decoder", group="ffn", layer=0, kind="linear")},
                      model="fake-model")


def _jobs(store, tmp_path, views=("step=2/mean", "step=5/mean")):
    jobs = {}
    for mod in ("speech", "text"):
        for view in views:
            job = RankJob("source_language", mod, view, ("text_decoder",))
            an = build_analysis(store.samples, "source_language", modality=mod)
            rank_store(store, an, view=view, components=["text_decoder"], out=tmp_path / job.file, progress=False)
            jobs[job] = read_expertise(tmp_path / job.file)
    return jobs


def test_overlap_boot_planted_fall_is_covered_and_matches_the_analysis_table(tmp_path):
    store = _overlap_store(make_samples(30), shift_late_text=True, strength=2.5)
    jobs = _jobs(store, tmp_path)
    t = ab.overlap_boot(jobs, store, k=2, mode="top", component="text_decoder", n_boot=100, seed=0, alpha=0.05)
    row = t.iloc[0]
    assert (row.step_a, row.step_b) == (2, 5)
    assert row.lo <= 1.0 <= row.hi and row.lo > 0.5     # planted: overlap 1 at step 2, 0 at step 5
    # the full-data values are the analysis table's (sets selected among all units, not the pool)
    ov, _ = overlap_and_spearman(jobs, k=2, mode="top", component="text_decoder")
    diag = ov[ov["speech_label"] == ov["text_label"]]
    for step, col in ((2, "value_a"), (5, "value_b")):
        d = diag[diag["step"] == step]
        assert row[col] == pytest.approx(float((d["count"] / d["k"]).mean()))


def test_overlap_boot_null_interval_covers_zero(tmp_path):
    store = _overlap_store(make_samples(30), shift_late_text=False, strength=1.0, seed=3)
    jobs = _jobs(store, tmp_path)
    row = ab.overlap_boot(jobs, store, k=4, mode="both", component="text_decoder", n_boot=100, seed=0,
                          alpha=0.05).iloc[0]
    assert row.lo <= 0 <= row.hi


def _encoder_store(samples, strengths, seed=0):
    rng = np.random.default_rng(seed)
    speech = (samples["modality"] == "speech").to_numpy()
    langs = sorted(samples["src_lang"].unique())
    lang_ix = samples["src_lang"].map({l: i for i, l in enumerate(langs)}).to_numpy()
    arrays, info, valid = {}, {}, {}
    for layer, s in enumerate(strengths):
        site = f"speech_encoder.layers.{layer}.ffn.fc1"
        x = rng.normal(size=(len(samples), 24))
        x[np.arange(len(samples)), lang_ix] += s           # unit i fires for language i
        x[~speech] = np.nan
        arrays[(site, "encoder")] = x
        valid[(site, "encoder")] = speech
        info[site] = dict(component="speech_encoder", group="ffn", layer=layer, kind="linear")
    return ArrayStore(samples, arrays, info, valid=valid, model="fake-model")


@pytest.mark.parametrize("strengths, falls", [((3.0, 1.5, 0.0), True), ((1.5, 1.5, 1.5), False)])
def test_encoder_depth_boot_slope(tmp_path, strengths, falls):
    store = _encoder_store(make_samples(30), strengths)
    job = RankJob("source_language", "speech", "encoder", ("speech_encoder",))
    an = build_analysis(store.samples, "source_language", modality="speech")
    rank_store(store, an, view="encoder", components=["speech_encoder"], out=tmp_path / job.file, progress=False)
    t = ab.encoder_depth_boot({job: read_expertise(tmp_path / job.file)}, store, n_boot=100, seed=0, alpha=0.05,
                              units_per_layer=24)
    r = t.iloc[0]
    assert r.n_layers == 3 and r.first_lo > 0
    assert bool(r.slope_hi < 0) is falls
    if not falls:
        assert r.slope_lo <= 0 <= r.slope_hi


def _conc_store(samples, asr_scale: float, speech_scale: float, seed=0):
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(len(samples), 200)))
    heavy = rng.pareto(1.5, size=200) + 0.1                    # a concentrated mass profile
    is_asr = (samples["task"] == "asr").to_numpy()
    speech = (samples["modality"] == "speech").to_numpy() & ~is_asr
    x[is_asr] *= heavy ** asr_scale
    x[speech] *= heavy ** speech_scale
    return ArrayStore(samples, {(DEC, "step=2/mean"): x.astype(np.float32)},
                      {DEC: dict(component="text_decoder", group="ffn", layer=0, kind="linear")}, model="fake-model")


def test_concentration_boot_pairs_within_task_family():
    samples = make_samples(30)
    # speech equals text in every task family; only asr (speech only) is concentrated
    t = ab.concentration_boot(_conc_store(samples, asr_scale=1.0, speech_scale=0.0), [2], n_boot=100, seed=0,
                              alpha=0.05).set_index("contrast")
    r = t.loc["speech - text"]
    assert r.n_cells == 2 * 6 and r.lo <= 0 <= r.hi          # asr never enters the speech side
    # planted: speech input concentrated in both families
    t = ab.concentration_boot(_conc_store(samples, asr_scale=0.0, speech_scale=0.5), [2], n_boot=100, seed=0,
                              alpha=0.05).set_index("contrast")
    assert t.loc["speech - text", "lo"] > 0


def test_overlap_boot_leaves_out_samples_without_a_response_at_a_step(tmp_path):
    """docs/run.md's study crashed here ("NaN among the responses to resample") when some outputs ended
    before step 5. Samples without a response must count as absent: the result equals the bootstrap on the
    store with those samples deleted (same sentence groups, so the same draws)."""
    samples = make_samples(30)
    full = _overlap_store(samples, shift_late_text=True, strength=2.5)
    rng = np.random.default_rng(7)
    gone = rng.random(len(samples)) < 0.15
    gone &= samples["group"].to_numpy() != samples["group"].iloc[0]  # every group keeps some sample
    arrays = {k: v.copy() for k, v in full._arrays.items()}
    arrays[(DEC, "step=5/mean")][gone] = np.nan
    valid = {(DEC, "step=2/mean"): np.ones(len(samples), bool), (DEC, "step=5/mean"): ~gone}
    info = {DEC: dict(component="text_decoder", group="ffn", layer=0, kind="linear")}
    holey = ArrayStore(samples, arrays, info, valid=valid, model="fake-model")
    # the same store without the samples that lack step 5 at step 5 ... and at step 2 (a sample is in or out)
    keep = ~gone
    cut = ArrayStore(samples[keep].reset_index(drop=True), {k: v[keep] for k, v in full._arrays.items()}, info,
                     model="fake-model")
    assert set(samples["group"][keep]) == set(samples["group"])
    a = ab.overlap_boot(_jobs(holey, tmp_path / "a"), holey, k=2, mode="top", component="text_decoder", n_boot=60,
                        seed=0, alpha=0.05)
    b = ab.overlap_boot(_jobs(cut, tmp_path / "b"), cut, k=2, mode="top", component="text_decoder", n_boot=60,
                        seed=0, alpha=0.05)
    assert a.iloc[0].value_b == pytest.approx(b.iloc[0].value_b)
    assert a.iloc[0].n_speech == b.iloc[0].n_speech and a.iloc[0].n_text == b.iloc[0].n_text


def test_a_label_skipped_at_a_later_step_is_left_out_of_the_cross_step_tables(tmp_path):
    """Found by review: at step 5 only 2 Mandarin outputs are long enough, so Mandarin is ranked at step 2
    and skipped at step 5 (thin evidence); the across-step table and the overlap bootstrap used to look
    it up at step 5 and fail. They now compare the labels ranked at every step."""
    import warnings

    from babelscope.pipeline.analysis_stage import across_steps

    rng = np.random.default_rng(0)
    langs = ["cmn", "deu", "fra", "jpn"]
    samples = pd.DataFrame([dict(sample_id=f"{t}-{g}-{l}", corpus_id=f"{g}-{l}-{m}", task=t, src_lang=l,
                                 tgt_lang="eng", modality=m, group=f"g{g}", text="x")
                            for t, m in (("s2t", "speech"), ("t2t", "text")) for g in range(10) for l in langs])
    late = ~((samples.src_lang == "cmn") & (samples.group.str[1:].astype(int) >= 2)).to_numpy()
    arrays, valid = {}, {}
    for view, ok in (("step=2/mean", np.ones(len(samples), bool)), ("step=5/mean", late)):
        x = rng.standard_normal((len(samples), 30))
        x[~ok] = np.nan
        arrays[(DEC, view)], valid[(DEC, view)] = x, ok
    store = ArrayStore(samples, arrays, {DEC: dict(component="text_decoder", group="ffn", layer=0)}, valid=valid)
    jobs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the EvidenceWarning for Mandarin at step 5
        for mod in ("speech", "text"):
            an = build_analysis(samples, "source_language", modality=mod)
            for view in ("step=2/mean", "step=5/mean"):
                job = RankJob("source_language", mod, view, ("text_decoder",))
                jobs[job] = rank_store(store, an, view=view, components=["text_decoder"], progress=False,
                                       min_positives=5, min_negatives=5)
    assert [e.skipped_labels.keys() for j, e in jobs.items() if j.view == "step=5/mean"] == [{"cmn": 0}.keys()] * 2
    t = across_steps(jobs, k=4, mode="both", component="text_decoder")
    assert set(t["label"]) == {"deu", "fra", "jpn"}
    boot = ab.overlap_boot(jobs, store, k=4, mode="both", component="text_decoder", n_boot=20, seed=0, alpha=0.05)
    assert boot.iloc[0].n_labels == 3


def test_encoder_depth_boot_ignores_a_label_skipped_for_thin_evidence():
    """Found by review: the depth bootstrap took each unit's best AP over every label of the analysis,
    so a skipped label (2 Mandarin samples whose signal grows with depth) made a rising slope that the
    table itself (ranked labels only) does not have. It now uses the ranked labels, as the table does."""
    import warnings

    from babelscope.pipeline.analysis_stage import encoder_depth

    rng = np.random.default_rng(0)
    rows = [dict(sample_id=f"{g}-{l}", corpus_id=f"{g}-{l}", task="s2t", src_lang=l, tgt_lang="eng",
                 modality="speech", group=f"g{g}", text="x")
            for g in range(20) for l in ("deu", "fra", "spa", "jpn")]
    rows += [dict(sample_id=f"{g}-cmn", corpus_id=f"{g}-cmn", task="s2t", src_lang="cmn", tgt_lang="eng",
                  modality="speech", group=f"g{g}", text="x") for g in range(2)]
    samples = pd.DataFrame(rows)
    cmn = (samples["src_lang"] == "cmn").to_numpy()
    arrays, info = {}, {}
    for layer in range(3):
        site = f"speech_encoder.layers.{layer}.ffn.fc1"
        arrays[(site, "encoder")] = rng.standard_normal((len(samples), 8)) + cmn[:, None] * 2.0 * layer
        info[site] = dict(component="speech_encoder", group="ffn", layer=layer)
    store = ArrayStore(samples, arrays, info)
    an = build_analysis(samples, "source_language", modality="speech")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exp = rank_store(store, an, view="encoder", components=["speech_encoder"], progress=False,
                         min_positives=5, min_negatives=5)
    assert list(exp.skipped_labels) == ["cmn"]
    jobs = {RankJob("source_language", "speech", "encoder", ("speech_encoder",)): exp}
    table = encoder_depth(jobs)
    assert table["chance_ap"].iloc[0] == pytest.approx(20 / 82)  # the ranked labels: 20 of the 82 samples
    r = ab.encoder_depth_boot(jobs, store, n_boot=50, seed=0, alpha=0.05, units_per_layer=8).iloc[0]
    assert r.slope < 0.05 and r.slope_lo < 0   # not the 0.30 the skipped label produced
