"""``babelscope run CONFIG --dry-run --calibrate``: a measured time estimate (issue 7)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from babelscope.config import parse_config
from babelscope.corpus import build_task_samples, read_manifest
from babelscope.pipeline.estimate import _calls, estimate_time, format_seconds

SITES = ["text_decoder.layers.0.*", "speech_encoder.encoder.layers.0.ffn1.*"]


def _cfg(corpus_dir, model="tiny-random-seamless"):
    return parse_config({"name": "est", "model": {"name": model},
                         "corpus": {"source": str(corpus_dir)},
                         "record": {"tasks": ["t2t", "s2t"], "steps": [2, 5], "sites": SITES, "batch_size": 8,
                                    "max_new_tokens": 6},
                         "rank": {"analyses": ["source_language"]}}, "est.toml")


def test_estimate_time_from_calibration(seamless, corpus_dir):
    cfg = _cfg(corpus_dir)
    est = estimate_time(cfg, calibration_samples=6)
    run = build_task_samples(read_manifest(corpus_dir), ["t2t", "s2t"])
    assert est["n_samples"] == len(run)
    rec = est["record"]
    assert rec["samples"] == 6 and set(rec["fit"]) == {"speech", "text"}
    assert rec["calls"] == len(_calls(seamless, run, 8)) and rec["seconds"] > 0
    assert abs(rec["seconds"] - rec["seconds_per_sample"] * len(run)) < 1e-6
    # speech and text x 2 steps, and the speech encoder at view "encoder" (no text-encoder site recorded)
    assert est["rank"]["jobs"] == 5 and est["rank"]["seconds"] > 0
    assert est["total_seconds"] == rec["seconds"] + est["rank"]["seconds"]


def test_estimate_skipped_when_the_model_cannot_load(corpus_dir, tmp_path):
    folder = tmp_path / "bert"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    est = estimate_time(_cfg(corpus_dir, model=str(folder)))
    assert "cannot be loaded" in est["skipped"] and "bert" in est["skipped"]


def test_cli_dry_run_calibrate(seamless, corpus_dir, tmp_path):
    from babelscope.cli import app

    toml = tmp_path / "est.toml"
    sites = ", ".join(f'"{s}"' for s in SITES)
    toml.write_text(f'name = "est"\n[model]\nname = "tiny-random-seamless"\n[corpus]\nsource = "{corpus_dir}"\n'
                    f'[record]\ntasks = ["t2t"]\nsteps = [2]\nsites = [{sites}]\nmax_new_tokens = 4\n')
    res = CliRunner().invoke(app, ["run", str(toml), "--dry-run", "--calibrate", "--calibration-samples", "3"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "time estimate" in res.output and "per sample" in res.output
    assert not (tmp_path / "runs").exists()


def test_format_seconds():
    assert format_seconds(None) == "unknown"
    assert format_seconds(3.21) == "3.2 s" and format_seconds(90) == "90 s"
    assert format_seconds(600) == "10 min" and format_seconds(36000) == "10.0 h"


def test_steps_most_outputs_never_reach_are_refused(corpus_dir, tmp_path):
    """Issue 18: docs/run.md's steps 2, 7, 12 passed the dry run, then the rank stage found no response at
    step 12. `--calibrate` records a few samples anyway: a step that fewer than half of them reach is an
    error naming the counts (babel-mini writes the seed sentences in well under 18 tokens)."""
    from babelscope.cli import app
    from babelscope.pipeline.estimate import step_reach_problem

    toml = tmp_path / "long.toml"
    toml.write_text(f'name = "long"\n[model]\nname = "babel-mini"\n[corpus]\nsource = "{corpus_dir}"\n'
                    '[record]\ntasks = ["t2t"]\nsteps = [2, 20]\nsites = ["text_decoder.layers.0.ffn.fc1"]\n'
                    'max_new_tokens = 24\n[rank]\nanalyses = ["source_language"]\n')
    res = CliRunner().invoke(app, ["run", str(toml), "--dry-run", "--calibrate", "--calibration-samples", "6"])
    assert res.exit_code != 0 and "step 2: 5 of 5" in res.output, res.output
    assert "fewer than 50% of the calibration samples reach step 20: 0 of 5" in str(res.exception)
    assert step_reach_problem({"steps_reached": {2: (8, 8), 7: (4, 8)}}) is None
    assert "reach step 7: 3 of 8" in step_reach_problem({"steps_reached": {2: (8, 8), 7: (3, 8)}})
