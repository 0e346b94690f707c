"""Store locations given as URLs (docs/scale.md): ``file://`` URLs work everywhere a store path does;
other schemes are refused with a message naming the alternative, before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.errors import StoreError
from babelscope.record import RecordSettings, open_activations, record
from babelscope.record.store import local_path


def test_local_path_forms(tmp_path):
    assert local_path(f"file://{tmp_path}/a%20b") == tmp_path / "a b"
    assert local_path(Path(f"file://{tmp_path}/x")) == tmp_path / "x"  # pathlib's "file:/..." form
    assert local_path(f"file://localhost{tmp_path}") == tmp_path
    assert local_path("runs/x:1") == Path("runs/x:1")
    for bad in ("s3://bucket/store", Path("gs://bucket/store"), "file://otherhost/store"):
        with pytest.raises(StoreError):
            local_path(bad)


def test_record_and_open_with_file_url(seamless, corpus_dir, tmp_path):
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=1)
    settings = RecordSettings(steps=(2,), max_new_tokens=4, batch_size=4)
    url = f"file://{tmp_path}/store"
    store = record(seamless, samples, url, settings, progress=False)
    assert store.folder == tmp_path / "store" and (tmp_path / "store" / "manifest.json").is_file()
    again = open_activations(url)
    site = again.sites[0]
    np.testing.assert_array_equal(again.responses(site, "step=2/mean"), store.responses(site, "step=2/mean"))
    with pytest.raises(StoreError, match="s3://"):
        record(seamless, samples, "s3://bucket/store", settings, progress=False)
    assert not Path("s3:").exists()
