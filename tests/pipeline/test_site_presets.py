"""Site presets in the dry run: the values per sample it prints for a selection are what recording that
selection stores, and the store on disk stays within the size it announces."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from babelscope.config import load_config, parse_config
from babelscope.corpus import build_task_samples, read_manifest
from babelscope.pipeline import dry_run
from babelscope.record import RecordSettings, record

CONFIG = """
name = "presets"
[model]
name = "tiny-random-seamless"
[corpus]
source = "demo"
max_groups = 6
[record]
steps = [2, 4]
max_new_tokens = 6
sites = ["study"]
[report]
enabled = false
"""


def test_dry_run_sizes_equal_what_recording_stores(seamless, corpus_dir, tmp_path):
    cfg = parse_config(tomllib.loads(CONFIG))
    d = dry_run(cfg)
    assert set(d["selections"]) == {"this config", "all", "study"}
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t", "s2t"], max_groups=2)
    for name in ("all", "study"):
        st = record(seamless, samples, tmp_path / name, RecordSettings(steps=tuple(cfg.record.steps), sites=(name,),
                                                                      batch_size=4, max_new_tokens=6), progress=False)
        got = sum(lay.total for lay in st.layout.values())  # values per sample of the recorded store
        sel = d["selections"][name]
        assert sel["values_per_sample"] == got, name
        assert sel["units"] == sum(st.n_units(s) for s in st.sites) and sel["sites"] == len(st.sites)
        on_disk = sum(f.stat().st_size for f in (tmp_path / name / "responses.zarr").rglob("*") if f.is_file()
                      and "values" in f.parts)
        assert on_disk <= sel["bytes_per_sample"] * len(samples), name  # float32 here; an upper bound
    assert d["selections"]["study"]["units"] < d["selections"]["all"]["units"]


def test_dry_run_prints_every_preset_for_the_large_architecture(monkeypatch):
    from babelscope.cli import app

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = Path(__file__).resolve().parents[2] / "configs" / "seamless-m4t-v2-large-fleurs.toml"
    d = dry_run(load_config(path))
    sel = d["selections"]
    # 24 decoder layers: study = per layer fc1 post-activation (8192), 2 attention outputs, K and V and the
    # layer output (1024 each); the encoders add theirs
    dec_layer = 8192 + 5 * 1024
    assert sel["study"]["units"] > 24 * dec_layer and sel["study"]["units"] < sel["all"]["units"]
    res = CliRunner().invoke(app, ["run", str(path), "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "site selections" in res.output and "study" in res.output and "per sample" in res.output
