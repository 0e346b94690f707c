"""The store as users see it: our reader, plain xarray, float16, and the samples table."""

from __future__ import annotations

import numpy as np
import xarray as xr

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.record import RecordSettings, open_activations, record


def test_store_reads_with_plain_xarray_and_float16(seamless, corpus_dir, tmp_path):
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t", "s2t"], max_groups=2)
    s32 = record(seamless, samples, tmp_path / "f32", RecordSettings(steps=(2, 3), sites=("text_decoder.layers.1.*",),
                                                                     batch_size=5, max_new_tokens=4), progress=False)
    s16 = record(seamless, samples, tmp_path / "f16", RecordSettings(steps=(2, 3), sites=("text_decoder.layers.1.*",),
                                                                     batch_size=5, max_new_tokens=4, dtype="float16"),
                 progress=False)
    site = "text_decoder.layers.1.ffn.fc1"
    a = s32.responses(site, "step=3/mean")
    b = s16.responses(site, "step=3/mean")
    assert a.dtype == np.float32 and b.dtype == np.float16
    np.testing.assert_allclose(b.astype(np.float32), a, rtol=2e-3, atol=2e-3)

    tree = xr.open_datatree(tmp_path / "f32" / "responses.zarr", engine="zarr", consolidated=False)
    ds = tree["step=3/mean"].to_dataset().assign_coords(tree.ds.coords)
    i = ds.site.values.tolist().index(site)
    da = ds["values"].where(ds.unit_site_index == i, drop=True)
    assert da.dims == ("sample", "unit") and da.shape == a.shape
    assert (da.unit_index.values == np.arange(a.shape[1])).all()
    off, n = int(ds.site_offset[i]), int(ds.site_units[i])
    np.testing.assert_array_equal(ds["values"].isel(unit=slice(off, off + n)).values, a)
    assert set(ds.site_component.values.tolist()) == {"text_decoder"}
    assert ds.site_kind.values.tolist() == [s32.site(x).kind for x in ds.site.values]
    assert ds.site_group.values.tolist() == [s32.site(x).group for x in ds.site.values]
    assert (ds.unit_layer.values == 1).all() and (ds.site_layer.values == 1).all()
    # the decoder's cross-attention k/v projections see only the encoder output: pooled per sample
    enc = tree["encoder"].to_dataset()
    assert set(enc.site.values[enc.unit_site_index.values].tolist()) == {
        "text_decoder.layers.1.cross_attention.k_proj", "text_decoder.layers.1.cross_attention.v_proj"}
    assert np.bincount(enc.unit_site_index.values).tolist() == [s32.n_units(x) for x in enc.site.values]
    np.testing.assert_array_equal(da.values, a)
    deu = da.where(da.src_lang == "deu", drop=True)
    want = [i for i, s in enumerate(samples) if s.src_lang == "deu"]
    np.testing.assert_array_equal(deu.values, a[want])
    assert list(da.sample.values) == [s.sample_id for s in samples]
    assert set(da.modality.values.tolist()) == {"speech", "text"}

    via_api = s32.to_xarray(site, "step=3/mean")
    np.testing.assert_array_equal(via_api.sel(sample=samples[0].sample_id).values, a[0])
    df = open_activations(tmp_path / "f32").samples
    assert list(df["sample_id"]) == [s.sample_id for s in samples]
    assert {"task", "src_lang", "tgt_lang", "modality", "output_tokens", "output_text"} <= set(df.columns)
