"""The Ray backends (issue 7) on a local 2-CPU Ray cluster with the tiny model: recording and ranking
give the local backend's artifacts (responses bitwise in float32, tables and manifests equal), and a
recording interrupted on one backend resumes on the other."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'babelscope[ray]' or '.[test]')")

from babelscope.corpus import build_task_samples, read_manifest  # noqa: E402
from babelscope.executor import Executor  # noqa: E402
from babelscope.rank import build_analysis, rank_store, read_expertise  # noqa: E402
from babelscope.record import RecordSettings, open_activations, record  # noqa: E402

pytestmark = pytest.mark.ray

SETTINGS = RecordSettings(steps=(1, 2, 5), batch_size=4, max_new_tokens=6,
                          sites=("text_decoder", "text_encoder.layers.0.*", "speech_encoder.encoder.layers.0.*"))


@pytest.fixture(scope="module")
def cluster():
    if ray.is_initialized():  # pragma: no cover - another module's cluster
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def samples(corpus_dir):
    return build_task_samples(read_manifest(corpus_dir), ["t2t", "s2t"], max_groups=2)  # 20 samples, 5 chunks


@pytest.fixture(scope="module")
def local_store(seamless, samples, tmp_path_factory):
    return record(seamless, samples, tmp_path_factory.mktemp("local") / "store", SETTINGS, progress=False)


@pytest.fixture(scope="module")
def ray_store(cluster, seamless, samples, tmp_path_factory):
    return record(seamless, samples, tmp_path_factory.mktemp("ray") / "store", SETTINGS, progress=False,
                  executor=Executor("ray", workers=2))


def assert_same_store(a, b) -> None:
    import zarr

    ra = zarr.open_group(str(Path(a.folder) / "responses.zarr"), mode="r")
    rb = zarr.open_group(str(Path(b.folder) / "responses.zarr"), mode="r")
    names = sorted(k for k, v in ra.members(max_depth=None) if isinstance(v, zarr.Array))
    assert names == sorted(k for k, v in rb.members(max_depth=None) if isinstance(v, zarr.Array))
    assert any(n.endswith("/values") for n in names)
    for n in names:
        x, y = np.asarray(ra[n][:]), np.asarray(rb[n][:])
        assert x.dtype == y.dtype and x.shape == y.shape, n
        if x.dtype == np.float32:
            np.testing.assert_array_equal(x.view(np.uint32), y.view(np.uint32), err_msg=n)  # bitwise, NaNs too
        else:
            np.testing.assert_array_equal(x, y, err_msg=n)
    assert a.samples.equals(b.samples)
    man_a = json.loads((Path(a.folder) / "manifest.json").read_text())
    man_b = json.loads((Path(b.folder) / "manifest.json").read_text())
    assert man_a == man_b  # the manifest holds no timings
    assert (Path(a.folder) / "record.json").read_text() == (Path(b.folder) / "record.json").read_text()
    chunks = sorted(p.name for p in (Path(a.folder) / "chunks").iterdir())
    assert chunks == sorted(p.name for p in (Path(b.folder) / "chunks").iterdir())
    for c in chunks:
        assert (Path(a.folder) / "chunks" / c).read_text() == (Path(b.folder) / "chunks" / c).read_text()


def test_record_ray_equals_local(local_store, ray_store):
    assert local_store.n_samples == 20
    assert_same_store(local_store, ray_store)
    assert ray_store.samples["n_output_tokens"].gt(0).all()


@pytest.mark.parametrize("threads", [1, 2])
def test_same_thread_count_gives_the_same_bits_on_both_backends(cluster, seamless, samples, tmp_path, threads):
    """The thread policy: whatever the driver's default or Ray's OMP_NUM_THREADS, both backends compute
    with the store's setting, so with the same setting the stores are bitwise equal."""
    settings = RecordSettings(**{**SETTINGS.__dict__, "threads": threads})
    a = record(seamless, samples, tmp_path / "local", settings, progress=False)
    b = record(seamless, samples, tmp_path / "ray", settings, progress=False, executor=Executor("ray", workers=2))
    assert_same_store(a, b)
    for st in (a, b):
        assert st.manifest["settings"]["threads"] == threads
        assert {json.loads(p.read_text())["threads"] for p in (Path(st.folder) / "chunks").iterdir()} == {threads}


def test_other_thread_counts_agree_within_tolerance_across_backends(cluster, seamless, samples, tmp_path):
    """Across thread counts the contract is the documented tolerance: the helper's measured maximum
    difference equals numpy's over every values array, and passes."""
    import zarr

    from babelscope.record import compare_stores

    a = record(seamless, samples, tmp_path / "local", RecordSettings(**{**SETTINGS.__dict__, "threads": 1}),
               progress=False)
    b = record(seamless, samples, tmp_path / "ray", RecordSettings(**{**SETTINGS.__dict__, "threads": 2}),
               progress=False, executor=Executor("ray", workers=2))
    res = compare_stores(a, b)
    assert res.ok, res.report_lines()
    assert res.threads == (1, 2)
    ra = zarr.open_group(str(Path(a.folder) / "responses.zarr"), mode="r")
    rb = zarr.open_group(str(Path(b.folder) / "responses.zarr"), mode="r")
    ref = max(float(np.nanmax(np.abs(np.asarray(ra[n][:], np.float64) - np.asarray(rb[n][:], np.float64)), initial=0))
              for n, v in ra.members(max_depth=None) if isinstance(v, zarr.Array) and n.endswith("/values"))
    assert res.max_abs == ref and ref < res.atol


class _Stop(Exception):
    pass


@pytest.mark.parametrize("first, second", [("local", "ray"), ("ray", "local")])
def test_interrupted_run_resumes_on_the_other_backend(cluster, seamless, samples, local_store, tmp_path,
                                                      first, second):
    out = tmp_path / "store"
    done: list[int] = []

    def stop_after_two(k: int) -> None:
        done.append(k)
        if len(done) == 2:
            raise _Stop

    with pytest.raises(_Stop):
        record(seamless, samples, out, SETTINGS, progress=False, executor=Executor(first, workers=1),
               on_chunk=stop_after_two)
    with pytest.raises(Exception, match="incomplete"):
        open_activations(out)
    finished = {int(p.stem.split("-")[1]) for p in (out / "chunks").glob("chunk-*.json")}
    import time

    time.sleep(1.0)  # no actor of the interrupted run writes anything after record() has returned
    assert finished == {int(p.stem.split("-")[1]) for p in (out / "chunks").glob("chunk-*.json")}
    assert len(finished) >= 1
    resumed: list[int] = []
    store = record(seamless, samples, out, SETTINGS, progress=False, executor=Executor(second, workers=2),
                   on_chunk=resumed.append)
    assert not finished & set(resumed), "chunks with a completion record were recomputed"
    assert sorted(finished | set(resumed)) == list(range(5))
    assert_same_store(local_store, store)


def test_rank_ray_equals_local(cluster, local_store, tmp_path):
    an = build_analysis(local_store.samples, "source_language", modality="text")
    for view, block in (("step=2/mean", 7), ("encoder", 50)):
        a = rank_store(local_store, an, view=view, block_units=block, out=tmp_path / "local.parquet",
                       progress=False)
        b = rank_store(local_store, an, view=view, block_units=block, out=tmp_path / "ray.parquet",
                       progress=False, executor=Executor("ray", workers=2))
        ta, tb = pq.read_table(a.path), pq.read_table(b.path)
        assert ta.num_rows > 0 and ta.equals(tb) and ta.schema.metadata == tb.schema.metadata
        assert pq.ParquetFile(a.path).num_row_groups == pq.ParquetFile(b.path).num_row_groups > 1
        assert read_expertise(a.path).meta == read_expertise(b.path).meta


def test_rank_ray_in_memory_store_equals_local(cluster):
    from rank._data import make_samples, make_store

    samples = make_samples()
    store = make_store(samples)
    for kind, kw in (("source_language", {"modality": "speech"}), ("modality", {"family": "x2en"})):
        an = build_analysis(samples, kind, **kw)
        a = rank_store(store, an, view="step=7/mean", block_units=8, progress=False)
        b = rank_store(store, an, view="step=7/mean", block_units=8, progress=False, executor=Executor("ray", workers=2))
        assert len(a.table) > 0 and a.meta == b.meta and a.dropped == b.dropped
        assert a.table.equals(b.table)


def test_cli_record_and_rank_with_ray_backend(cluster, corpus_dir, local_store, tmp_path):
    """The CLI's --backend ray joins the running cluster and writes the local backend's artifacts."""
    from typer.testing import CliRunner

    from babelscope.cli import app

    out = tmp_path / "cli-store"
    args = ["record", "--model", "tiny-random-seamless", "--corpus", str(corpus_dir), "--out", str(out),
            "--tasks", "t2t,s2t", "--max-groups", "2", "--steps", "1,2,5", "--sites",
            ",".join(SETTINGS.sites), "--batch-size", "4", "--max-new-tokens", "6", "--no-progress",
            "--backend", "ray", "--workers", "2"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, (res.output, res.exception)
    assert_same_store(local_store, open_activations(out))
    res = CliRunner().invoke(app, ["rank", str(out), "-a", "source_language", "--modality", "speech", "-v",
                                   "step=2/mean", "--block-units", "16", "--no-progress", "--backend", "ray",
                                   "-o", str(tmp_path / "e.parquet")])
    assert res.exit_code == 0, (res.output, res.exception)
    an = build_analysis(local_store.samples, "source_language", modality="speech")
    ref = rank_store(local_store, an, view="step=2/mean", block_units=16, progress=False)
    assert read_expertise(tmp_path / "e.parquet").table.equals(ref.table)


def test_bad_backend_and_workers_are_named(seamless, samples, tmp_path):
    from babelscope.errors import ConfigError

    with pytest.raises(ConfigError, match="backend"):
        record(seamless, samples, tmp_path / "s", SETTINGS, progress=False, executor=Executor("spark"))
    with pytest.raises(ConfigError, match="workers"):
        record(seamless, samples, tmp_path / "s", SETTINGS, progress=False, executor=Executor("ray", workers=0))
    assert not (tmp_path / "s").exists()


def test_worker_device(seamless):
    from babelscope.record.ray_backend import _model_spec

    assert _model_spec(seamless, 0, None, False) == {"name": "tiny-random-seamless", "dtype": "float32",
                                                    "device": "cpu", "seed": 0}
    assert _model_spec(seamless, 3, None, True)["device"] == "cuda"
    assert _model_spec(seamless, 0, "cuda:1", True)["device"] == "cuda"  # each GPU actor sees its GPU as cuda:0
