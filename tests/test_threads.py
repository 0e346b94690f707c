"""The thread policy (issue 11): one torch thread count per recording, applied while the model runs,
stated by the store; and the store comparison under the documented tolerance, checked against
numpy on perturbed copies of a real store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.errors import ConfigError, StoreError
from babelscope.record import TOLERANCE, RecordSettings, compare_stores, open_activations, record
from babelscope.threads import torch_threads

SETTINGS = RecordSettings(steps=(1, 2), batch_size=4, max_new_tokens=4, sites=("text_decoder", "text_encoder"))


@pytest.fixture(scope="module")
def samples(corpus_dir):
    return build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=2)  # 12 samples, 3 chunks


@pytest.fixture(scope="module")
def store(seamless, samples, tmp_path_factory):
    return record(seamless, samples, tmp_path_factory.mktemp("t") / "store", SETTINGS, progress=False)


def _copy(store, tmp_path: Path, name: str = "copy"):
    dst = tmp_path / name
    shutil.copytree(getattr(store, "folder", store), dst)
    return dst


def _values(folder: Path, view: str):
    import zarr

    return zarr.open_group(str(folder / "responses.zarr"), mode="r+")[f"{view}/values"]


def test_generation_runs_with_the_setting_and_the_store_states_it(seamless, samples, tmp_path, monkeypatch):
    seen: list[int] = []
    plain = type(seamless).generate

    def spy(self, batch, max_new_tokens):
        seen.append(torch.get_num_threads())
        return plain(self, batch, max_new_tokens)

    monkeypatch.setattr(type(seamless), "generate", spy)
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    st = record(seamless, samples, tmp_path / "s", RecordSettings(**{**SETTINGS.__dict__, "threads": want}),
                progress=False)
    assert seen and set(seen) == {want}  # every generate call ran with the setting
    assert torch.get_num_threads() == before  # and the caller's setting is restored
    assert json.loads((tmp_path / "s" / "record.json").read_text())["settings"]["threads"] == want
    assert st.manifest["settings"]["threads"] == want
    chunks = [json.loads(p.read_text()) for p in sorted((tmp_path / "s" / "chunks").iterdir())]
    assert [c["threads"] for c in chunks] == [want] * 3


def test_default_is_resolved_to_the_callers_count(store):
    got = json.loads((Path(store.folder) / "record.json").read_text())["settings"]["threads"]
    assert got == torch.get_num_threads() and isinstance(got, int)


def test_resume_with_another_thread_count_is_refused_by_name(seamless, samples, store, tmp_path):
    out = _copy(store, tmp_path)
    (out / "manifest.json").unlink()  # an interrupted store
    other = torch.get_num_threads() + 1
    with pytest.raises(StoreError, match=rf"torch threads.*--threads {torch.get_num_threads()}"):
        record(seamless, samples, out, RecordSettings(**{**SETTINGS.__dict__, "threads": other}), progress=False)
    # a chunk that states another count is not silently finalized
    chunk = out / "chunks" / "chunk-000001.json"
    rec = json.loads(chunk.read_text())
    chunk.write_text(json.dumps({**rec, "threads": other}))
    with pytest.raises(StoreError, match="chunk 1 was computed with"):
        record(seamless, samples, out, SETTINGS, progress=False)


def test_a_complete_store_is_returned_whatever_the_thread_count(seamless, samples, store):
    other = torch.get_num_threads() + 1
    again = record(seamless, samples, store.folder, RecordSettings(**{**SETTINGS.__dict__, "threads": other}),
                   progress=False)
    assert again.manifest["settings"]["threads"] == torch.get_num_threads()  # nothing recomputed; it says so


@pytest.mark.parametrize("bad", [0, -2, "2", 1.5, True])
def test_bad_thread_counts_are_named(seamless, samples, tmp_path, bad):
    with pytest.raises(ConfigError, match="threads"):
        record(seamless, samples, tmp_path / "s", RecordSettings(**{**SETTINGS.__dict__, "threads": bad}),
               progress=False)
    assert not (tmp_path / "s").exists()


def test_config_key_threads_is_validated():
    from pydantic import ValidationError

    from babelscope.config.schema import RecordCfg

    assert RecordCfg(threads=3).threads == 3 and RecordCfg().threads is None
    with pytest.raises(ValidationError, match="threads"):
        RecordCfg(threads=0)


def test_torch_threads_restores_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError):
        with torch_threads(1 if before != 1 else 2):
            raise RuntimeError
    assert torch.get_num_threads() == before


# -- compare_stores ----------------------------------------------------------------------------------

def test_identical_stores_compare_exactly(store, tmp_path):
    res = compare_stores(store.folder, _copy(store, tmp_path), exact=True)
    assert res.ok and res.max_abs == 0 and not res.problems and res.views
    assert {v.view for v in res.views} == set(store.manifest["layout"])


def test_max_difference_and_verdict_equal_numpy(store, tmp_path):
    out = _copy(store, tmp_path)
    rtol, atol = TOLERANCE["float32"]
    arr = _values(out, "step=2/mean")
    x = np.asarray(arr[:])
    rng = np.random.default_rng(0)
    noise = rng.uniform(-0.5, 0.5, x.shape).astype(np.float32) * (atol + rtol * np.abs(x))  # within tolerance
    arr[:] = x + noise
    ref = np.nanmax(np.abs(np.asarray(arr[:], dtype=np.float64) - x.astype(np.float64)))
    res = compare_stores(store.folder, out)
    assert res.ok and not res.problems
    assert res.max_abs == pytest.approx(ref, rel=1e-12) and 0 < res.max_abs
    assert 0 < res.used <= 1
    assert not compare_stores(store.folder, out, exact=True).ok
    # one element beyond the tolerance fails, and is located
    i, j = np.argwhere(~np.isnan(x))[7]
    y = np.asarray(arr[:])
    y[i, j] = x[i, j] + 3 * (atol + rtol * abs(x[i, j]))
    arr[:] = y
    res = compare_stores(store.folder, out)
    view = next(v for v in res.views if v.view == "step=2/mean")
    assert not res.ok and view.n_over == 1 and view.worst == (i, j)
    assert all(v.n_over == 0 for v in res.views if v.view != "step=2/mean")


def test_infinities_must_match(store, tmp_path):
    out = _copy(store, tmp_path)
    arr = _values(out, "step=1/mean")
    y = np.asarray(arr[:])
    i, j = np.argwhere(np.isfinite(y))[3]
    y[i, j] = np.inf
    arr[:] = y
    for kw in ({}, {"exact": True}, {"rtol": 0.0}):
        res = compare_stores(store.folder, out, **kw)
        assert not res.ok and any("infinite" in p and f"row {i}" in p for p in res.problems), kw
    same = _copy(Path(out), tmp_path, "same")  # the same infinity on both sides is equal
    assert compare_stores(out, same, exact=True).ok
    with pytest.raises(StoreError, match="exact"):
        compare_stores(out, same, exact=True, rtol=1e-3)


def test_missing_responses_settings_and_outputs_are_problems(store, seamless, samples, tmp_path):
    import pandas as pd

    out = _copy(store, tmp_path, "nan")
    arr = _values(out, "encoder")
    y = np.asarray(arr[:])
    i, j = np.argwhere(~np.isnan(y))[0]
    y[i, j] = np.nan
    arr[:] = y
    res = compare_stores(store.folder, out)
    assert not res.ok and any("NaN" in p for p in res.problems)

    other = record(seamless, samples, tmp_path / "steps", RecordSettings(**{**SETTINGS.__dict__, "steps": (1, 3)}),
                   progress=False)
    res = compare_stores(store, other)
    assert not res.ok and "settings.steps" in res.problems[0]

    out = _copy(store, tmp_path, "tokens")
    table = pd.read_parquet(out / "samples.parquet")
    table.at[2, "output_tokens"] = list(table.at[2, "output_tokens"]) + [5]
    table.to_parquet(out / "samples.parquet", index=False)
    res = compare_stores(store.folder, out)
    assert not res.ok and res.divergent == [2] and "generated other tokens" in res.problems[0]
    res = compare_stores(store.folder, out, allow_divergent=True)
    assert res.ok and res.divergent == [2]


def test_other_thread_count_agrees_within_the_documented_tolerance(seamless, samples, store, tmp_path):
    n = torch.get_num_threads()
    other = record(seamless, samples, tmp_path / "other",
                   RecordSettings(**{**SETTINGS.__dict__, "threads": 1 if n != 1 else 2}), progress=False)
    res = compare_stores(store, other)
    assert res.ok, res.report_lines()
    assert res.threads == (n, 1 if n != 1 else 2)
    print("\n".join(res.report_lines()))


def test_cli_diff_stores_exit_codes(store, tmp_path):
    from typer.testing import CliRunner

    from babelscope.cli import app

    out = _copy(store, tmp_path)
    res = CliRunner().invoke(app, ["diff-stores", str(store.folder), str(out), "--exact"])
    assert res.exit_code == 0 and "(exact): equal" in res.output
    arr = _values(out, "step=1/last")
    y = np.asarray(arr[:])
    y[np.isfinite(y)] += 1.0
    arr[:] = y
    res = CliRunner().invoke(app, ["diff-stores", str(store.folder), str(out)])
    assert res.exit_code == 1 and "NOT within tolerance" in res.output
    assert open_activations(out).n_samples == store.n_samples
