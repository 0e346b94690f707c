"""Out-of-core ranking through the store protocol equals ranking the whole matrix in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from babelscope.errors import ConfigError, LabelError, SiteError, StoreError
from babelscope.rank import (ArrayStore, build_analysis, forcing_stats, rank_store, read_expertise,
                             write_expertise)
from babelscope.rank.expertise import COLUMNS

from ._data import SITES, UNITS, make_store

STATS = ("ap", "on_p50", "on_p90", "off_p50", "off_mean")


def in_memory(store, an, site, view):
    """Independent reference: drop missing rows, rank the site's full matrix at once."""
    x = store.responses(site, view)[an.rows]
    ok = store.valid(site, view)[an.rows]
    res = forcing_stats(x[ok], an.labels[ok], len(an.label_names), threads=1)
    return res, int((~ok).sum())


@pytest.mark.parametrize("view", ["step=2/mean", "step=7/mean"])
@pytest.mark.parametrize("block", [7, 1000])
def test_blocked_equals_in_memory(store, samples, view, block):
    an = build_analysis(samples, "source_language", modality="speech")
    exp = rank_store(store, an, view=view, components=["text_decoder"], block_units=block, progress=False)
    t = exp.table
    assert list(t.columns) == list(COLUMNS)
    sites = [s for s in SITES if SITES[s]["component"] == "text_decoder"]
    assert list(dict.fromkeys(t["site"].astype(str))) == sites  # store order
    L = len(an.label_names)
    for site in sites:
        v = "encoder" if SITES[site]["group"] == "cross_attn" else view
        ref, dropped = in_memory(store, an, site, v)
        part = t[t["site"].astype(str) == site]
        assert len(part) == UNITS[site] * L
        assert (part["view"].astype(str) == v).all()
        np.testing.assert_array_equal(part["unit"].to_numpy(), np.repeat(np.arange(UNITS[site]), L))
        assert part["label"].astype(str).tolist() == list(an.label_names) * UNITS[site]
        for f in STATS:  # exact equality: blocks never change a bit
            np.testing.assert_array_equal(part[f].to_numpy(), ref[f].T.ravel())
        assert exp.dropped[site] == dropped
        assert exp.meta["sites"][site]["n_dropped"] == dropped
    n_missing = int((~store.valid("text_decoder.layers.0.ffn.fc1", view)[an.rows]).sum())
    assert exp.meta["n_dropped"] == n_missing
    assert (n_missing > 0) == (view == "step=7/mean")
    assert exp.meta["n_used"] + exp.meta["n_dropped"] == exp.meta["n_samples"] == an.n_samples
    assert exp.meta["model"] == "fake-model" and exp.meta["view"] == view


def test_float16_store_equals_float32_of_same_values(samples):
    s16 = make_store(samples, seed=3, dtype=np.float16)
    s32 = ArrayStore(samples, {k: v.astype(np.float32) for k, v in s16._arrays.items()}, SITES,
                     valid=s16._valid)
    an = build_analysis(samples, "target_language", modality="speech")
    a = rank_store(s16, an, view="step=2/last", block_units=13, progress=False).table
    b = rank_store(s32, an, view="step=2/last", block_units=1000, progress=False).table
    for f in STATS:
        np.testing.assert_array_equal(a[f].to_numpy(), b[f].to_numpy())


def test_parquet_streaming_roundtrip(store, samples, tmp_path):
    an = build_analysis(samples, "modality")
    out = tmp_path / "exp.parquet"
    exp = rank_store(store, an, view="step=7/mean", out=out, block_units=9, progress=False)
    assert exp.table is None and exp.path == out
    assert [p.name for p in tmp_path.iterdir()] == ["exp.parquet"]  # no temporary left behind
    back = read_expertise(out)
    mem = rank_store(store, an, view="step=7/mean", block_units=1000, progress=False)
    pd.testing.assert_frame_equal(back.table.astype({c: str for c in ("site", "component", "group", "view",
                                                                     "label")}),
                                  mem.table.astype({c: str for c in ("site", "component", "group", "view",
                                                                    "label")}))
    assert back.meta == exp.meta
    assert {k: v for k, v in mem.meta.items() if k != "settings"} == \
        {k: v for k, v in exp.meta.items() if k != "settings"}
    assert back.meta["analysis"]["labels"] == ["speech", "text"]
    assert set(back.meta["base_rates"]) == {"speech", "text"}
    assert "speech_encoder.layers.0.ffn.fc1" not in back.meta["sites"]  # no step view
    copy = write_expertise(mem, tmp_path / "copy.parquet")
    assert read_expertise(copy).meta == mem.meta


def test_sites_without_responses_are_skipped(store, samples):
    an = build_analysis(samples, "source_language", modality="text")
    exp = rank_store(store, an, view="encoder", progress=False)
    # text samples have no speech-encoder response: skipped; the K/V site is ranked at 'encoder'
    assert "speech_encoder.layers.0.ffn.fc1" in exp.meta["skipped_sites"]
    assert set(exp.table["site"].astype(str)) == {"text_decoder.layers.0.cross_attention.k_proj"}


def test_errors(store, samples, tmp_path):
    an = build_analysis(samples, "source_language", modality="speech")
    with pytest.raises(SiteError, match="'nope.*'"):
        rank_store(store, an, view="step=2/mean", patterns=["nope.*"], progress=False)
    with pytest.raises(StoreError, match="has no view 'step=2/mean'"):
        rank_store(store, an, view="step=2/mean", sites=["speech_encoder.layers.0.ffn.fc1"], progress=False)
    with pytest.raises(ConfigError, match="block_units"):
        rank_store(store, an, view="step=2/mean", block_units=0, progress=False)
    with pytest.raises(ConfigError, match="no site has view 'step=99/mean'"):
        rank_store(store, an, view="step=99/mean", progress=False)
    # NaN where the store claims a response: named with site and view
    arrays = dict(store._arrays)
    bad = arrays[("text_decoder.layers.1.ffn.fc1", "step=2/mean")].copy()
    bad[an.rows[3], 5] = np.nan
    arrays[("text_decoder.layers.1.ffn.fc1", "step=2/mean")] = bad
    broken = ArrayStore(samples, arrays, SITES, valid=store._valid)
    out = tmp_path / "x.parquet"
    with pytest.raises(StoreError, match="text_decoder.layers.1.ffn.fc1.*step=2/mean.*NaN"):
        rank_store(broken, an, view="step=2/mean", out=out, progress=False)
    assert not list(tmp_path.iterdir())  # failed run leaves nothing
    # a label losing all its positives to missing responses at one site of the view is named, and
    # left out at every site (a table ranks one label set); refused under strict
    from babelscope.rank.evidence import EvidenceWarning

    valid = dict(store._valid)
    ok = valid[("text_decoder.layers.0.ffn.fc1", "step=7/mean")].copy()
    ok[(samples["src_lang"] == "jpn").to_numpy()] = False
    valid[("text_decoder.layers.0.ffn.fc1", "step=7/mean")] = ok
    thin = ArrayStore(samples, store._arrays, SITES, valid=valid)
    with pytest.raises(LabelError, match="jpn: 0 positives and 49 negatives at step=7/mean"):
        rank_store(thin, an, view="step=7/mean", progress=False, strict=True)
    with pytest.warns(EvidenceWarning, match="jpn: 0 positives"):
        exp = rank_store(thin, an, view="step=7/mean", progress=False)
    assert "jpn" not in set(exp.table["label"].astype(str)) and len(exp.labels) == 5
