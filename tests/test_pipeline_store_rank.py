"""record -> rank -> select -> compare on a real store (tiny model), through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from babelscope.cli import main
from babelscope.corpus import build_task_samples, read_manifest
from babelscope.record import RecordSettings, open_activations, record


def test_rank_real_store_matches_sklearn(seamless, corpus_dir, tmp_path, capsys):
    samples = build_task_samples(read_manifest(corpus_dir), ["en2x_t2t"], max_groups=4)
    store_dir = tmp_path / "store"
    record(seamless, samples, store_dir, RecordSettings(steps=(2, 4), sites=("text_decoder.layers.*.ffn.*",),
                                                        batch_size=6, max_new_tokens=4), progress=False)
    exp = tmp_path / "exp.parquet"
    try:
        main(["rank", str(store_dir), "-a", "target_language", "-v", "step=4/mean", "--modality", "text",
              "--out", str(exp), "--no-progress"])
    except SystemExit as e:
        assert e.code in (0, None)
    table = pd.read_parquet(exp)
    act = open_activations(store_dir)
    site = "text_decoder.layers.1.ffn.fc1"
    x = act.responses(site, "step=4/mean")
    tgt = act.samples["tgt_lang"].to_numpy()
    for label in ["deu", "jpn"]:
        want = [average_precision_score(tgt == label, x[:, u]) for u in range(x.shape[1])]
        got = table[(table.site == site) & (table.label == label)].sort_values("unit")["ap"].to_numpy()
        np.testing.assert_allclose(got, want, atol=1e-9)
    out = tmp_path / "deu.json"
    try:
        main(["select", str(exp), "-l", "deu", "-k", "20", "--mode", "both", "-o", str(out)])
    except SystemExit as e:
        assert e.code in (0, None)
    ns = json.loads(out.read_text())
    assert len(ns["units"]) == 20
    assert ns["provenance"]["label"] == "deu" and ns["provenance"]["view"] == "step=4/mean"
