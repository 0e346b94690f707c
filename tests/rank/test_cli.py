"""The rank / select / compare / concentration commands over an in-memory store."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import babelscope
from babelscope.cli.rank_cmds import register
from babelscope.rank import read_expertise

from ._data import UNITS


@pytest.fixture()
def app(store, monkeypatch):
    monkeypatch.setattr(babelscope, "open_activations", lambda path: store)
    app = typer.Typer()
    register(app)
    return app


def _ok(result):
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_rank_select_compare(app, tmp_path):
    run = CliRunner().invoke
    for modality in ("speech", "text"):
        _ok(run(app, ["rank", "STORE", "-a", "source_language", "--modality", modality, "-v", "step=2/mean",
                      "--components", "text_decoder", "--block-units", "8", "--no-progress",
                      "-o", str(tmp_path / f"{modality}.parquet")]))
    exp = read_expertise(tmp_path / "speech.parquet")
    assert exp.meta["analysis"]["modality"] == "speech" and len(exp.table) == 97 * 6
    out = _ok(run(app, ["select", str(tmp_path / "speech.parquet"), "-l", "deu", "-k", "10", "--mode", "top",
                        "-o", str(tmp_path / "a.json")]))
    # text_decoder is the decoder stream: every decoder unit except the cross-attention K/V projections
    sites = exp.table.drop_duplicates(["site", "unit"])["site"].astype(str)
    n_stream = int((~sites.str.contains(r"cross_attention\.[kv]_proj$")).sum())
    assert 0 < n_stream < 97
    assert f"selected 10 of {n_stream} " in out
    _ok(run(app, ["select", str(tmp_path / "text.parquet"), "-l", "deu", "-k", "10", "--mode", "random",
                  "--seed", "1", "-o", str(tmp_path / "b.json")]))
    assert json.loads((tmp_path / "b.json").read_text())["provenance"]["seed"] == 1
    _ok(run(app, ["compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "-o", str(tmp_path / "o.csv")]))
    assert pd.read_csv(tmp_path / "o.csv")["size_a"].tolist() == [10]
    out = _ok(run(app, ["compare", str(tmp_path / "speech.parquet"), str(tmp_path / "text.parquet"),
                        "-k", "6", "--by", "layer", "-o", str(tmp_path / "m.csv")]))
    assert "Spearman" in out
    m = pd.read_csv(tmp_path / "m.csv", index_col=0)
    assert m.shape == (6, 6)
    _ok(run(app, ["compare", str(tmp_path / "speech.parquet"), str(tmp_path / "text.parquet"), "-l", "fra",
                  "-k", "6"]))


def test_concentration_and_help(app, tmp_path):
    run = CliRunner().invoke
    _ok(run(app, ["concentration", "STORE", "-v", "step=2/mean", "--scope", "layer", "--tasks", "s2t,t2t",
                  "--no-progress", "-o", str(tmp_path / "c.csv")]))
    t = pd.read_csv(tmp_path / "c.csv")
    # the cross-attention K/V projections (encoder stream) are their own scope, decoder_kv
    assert set(t["scope"]) == {"text_decoder:0", "text_decoder:1", "decoder_kv:0"} and len(t) == 3 * 6 * 2
    assert set(t.loc[t["scope"] == "decoder_kv:0", "n_units"]) == {UNITS["text_decoder.layers.0.cross_attention.k_proj"]}
    for cmd in ("rank", "select", "compare", "concentration"):
        assert "Usage" in _ok(run(app, [cmd, "--help"]))
