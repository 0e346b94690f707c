"""``babelscope run``: config validation, a whole small run, resume/skip, and the dry run."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from babelscope.config import load_config, parse_config
from babelscope.errors import ConfigError

TINY = """
name = "tiny"
[model]
name = "tiny-random-seamless"
[corpus]
source = "demo"
max_groups = 6
[record]
steps = [2, 4]
max_new_tokens = 6
sites = ["text_decoder", "speech_encoder.encoder.layers.*.ffn1.intermediate_dense", "text_encoder.layers.*.ffn.fc1"]
[select]
k = 10
[intervene]
max_new_tokens = 6
n_boot = 200
[[intervene.runs]]
name = "steer"
label = "deu"
k = 10
steps = [2, 6]
[report]
enabled = false
"""


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"record\.stepz: unknown key"):
        parse_config({"record": {"stepz": [2]}})
    with pytest.raises(ConfigError, match=r"intervene\.runs\[0\]\.steps"):
        parse_config({"intervene": {"runs": [{"name": "a", "label": "deu", "steps": [7, 2]}]}})
    with pytest.raises(ConfigError, match="select_step 5 is not a recorded step"):
        parse_config({"intervene": {"runs": [{"name": "a", "label": "deu", "select_step": 5}]}})
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nname = 1")
    with pytest.raises(ConfigError, match="bad.toml: not valid TOML"):
        load_config(bad)


def test_shipped_configs_validate():
    from pathlib import Path

    from babelscope.config import demo_config

    demo_config()
    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.toml"))
    assert any("seamless-m4t-v2-large" in f.read_text() for f in files)
    for f in files:
        load_config(f)


def test_small_run_end_to_end_and_resume(tmp_path):
    from babelscope.pipeline import Run

    cfg_path = tmp_path / "tiny.toml"
    cfg_path.write_text(TINY)
    cfg = load_config(cfg_path)
    logs: list[str] = []
    Run(cfg, tmp_path / "run", progress=False, log=logs.append).execute()
    run = tmp_path / "run"
    for name in ("ap_summary", "top_units_location", "overlap", "spearman", "across_steps", "encoder_depth",
                 "modality_units", "concentration", "lorenz"):
        assert (run / "analysis" / f"{name}.csv").is_file(), name
    ov = pd.read_csv(run / "analysis" / "overlap.csv")
    assert set(ov["step"]) == {2, 4} and (ov["count"] <= ov["k"]).all()
    idx = json.loads((run / "interventions" / "index.json").read_text())
    assert idx[0]["name"] == "steer" and idx[0]["steer_to"] == "deu"
    res = pd.read_parquet(run / "interventions" / "steer" / "results.parquet")
    assert set(res["condition"]) == {"unforced", "forced", "baseline"} and (res["tgt_lang"] != "deu").all()
    prov = json.loads((run / "run.json").read_text())
    assert prov["model"]["name"] == "tiny-random-seamless" and "record" in prov["stages"]
    # the record stage says how many samples lack each step (the store's own count), and the analysis the
    # evidence every ranking had
    man = json.loads((run / "activations" / "manifest.json").read_text())
    want = ", ".join(f"step {k}: {v} of {man['n_samples']}" for k, v in sorted(man["steps_missing"].items()))
    assert f"[record] samples whose output ended before a step (no response there): {want}" in logs
    ev = pd.read_csv(run / "analysis" / "evidence.csv")
    for f in (run / "expertise").glob("*.parquet"):
        from babelscope.rank import read_expertise

        meta = read_expertise(f).meta
        rows = ev[(ev["analysis"] == meta["analysis"]["analysis"])]
        assert meta["n_used"] in set(rows["n_used"]) and meta["n_samples"] in set(rows["n_samples"])

    # the config checks' limit on [select] k is the number of text_decoder units the rank stage ranked
    from babelscope.vocab.sites import select_sites
    from babelscope.pipeline.checks import config_problems
    from babelscope.pipeline.dryrun import meta_adapter

    exp = pd.read_parquet(run / "expertise" / "source_language-text-step2-mean.parquet")
    first = exp[exp["label"].astype(str) == str(exp["label"].iloc[0])]
    # [select] component text_decoder is the decoder stream: every decoder unit but the cross-attention K/V
    kv = first["site"].astype(str).str.contains(r"cross_attention\.[kv]_proj$")
    n_dec = int(((first["component"].astype(str) == "text_decoder") & ~kv).sum())
    assert 0 < n_dec < int((first["component"].astype(str) == "text_decoder").sum())
    meta = meta_adapter("tiny-random-seamless")
    sites = select_sites(meta.sites(), list(cfg.record.sites))
    at = cfg.model_copy(update={"select": cfg.select.model_copy(update={"k": n_dec})})
    over = cfg.model_copy(update={"select": cfg.select.model_copy(update={"k": n_dec + 1})})
    assert not any(p.startswith("select:") for p in config_problems(at, sites, meta))
    assert any(f"k={n_dec + 1} is larger than component 'text_decoder' ({n_dec} units" in p
               for p in config_problems(over, sites, meta))

    # a second run skips everything
    logs.clear()
    Run(cfg, run, progress=False, log=logs.append).execute()
    assert sum("up to date" in l for l in logs) == 6 and not any("running" in l for l in logs)

    # changing only the intervention reruns intervene (and report), not record or rank
    cfg_path.write_text(TINY.replace("k = 10\nsteps = [2, 6]", "k = 12\nsteps = [2, 6]"))
    logs.clear()
    Run(load_config(cfg_path), run, progress=False, log=logs.append).execute()
    ran = [l.split("]")[0][1:] for l in logs if l.endswith("running")]
    assert ran == ["intervene", "report"]
    assert json.loads((run / "interventions" / "index.json").read_text())[0]["k"] == 12


def test_dry_run_of_the_large_config_offline(monkeypatch):
    from pathlib import Path

    from babelscope.pipeline import dry_run

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "seamless-m4t-v2-large-fleurs.toml")
    d = dry_run(cfg)
    assert d["n_units"] > 1_000_000
    # the FFN of each stack has 24 layers x 8192 units (METHODS: 196,608 per stack)
    fc1 = [s for s in d["sites"] if s[0].startswith("text_decoder.layers.") and s[0].endswith("ffn.fc1")]
    assert len(fc1) == 24 and all(s[2] == 8192 for s in fc1)
    assert d["stages"][0] == "corpus" and d["by_component"]["text_decoder"]["units"] > 0


def _problems(text: str) -> list[str]:
    from babelscope.vocab.sites import select_sites
    from babelscope.pipeline.checks import config_problems
    from babelscope.pipeline.dryrun import meta_adapter

    cfg = parse_config(__import__("tomllib").loads(text))
    meta = meta_adapter(cfg.model.name)
    return config_problems(cfg, select_sites(meta.sites(), list(cfg.record.sites)), meta)


def test_config_checks_find_what_would_fail_later():
    assert _problems(TINY) == []
    # one language besides the pivot: every language analysis has a single label
    single = _problems(TINY.replace("max_groups = 6", 'max_groups = 6\nlangs = ["eng", "deu"]'))
    assert sum("has a single label 'deu'" in p for p in single) == 4, single  # 2 analyses x 2 modalities
    assert any("steer" in p and "no en2x_t2t sample is left" in p for p in single), single
    # a step the generation never reaches; forcing steps past the intervention's generation
    late = _problems(TINY.replace("steps = [2, 4]", "steps = [2, 9]").replace("steps = [2, 6]", "steps = [8, 9]"))
    assert any(p.startswith("record.steps: step 9 is beyond the longest decoded prefix (7 = 2 start tokens") for p in late), late
    assert any("steps [8, 9] start beyond the longest decoded prefix (7 = 2 start tokens" in p for p in late), late
    # an intervention without its tasks, an explicit analysis without its tasks, an unknown label
    tasks = _problems(TINY.replace("[record]", '[record]\ntasks = ["s2t", "t2t"]')
                      .replace("[select]", '[rank]\nanalyses = ["source_language", "target_language"]\n[select]')
                      .replace('label = "deu"', 'label = "xho"'))
    assert any("a steering run from speech to text needs task(s) ['en2x_s2t or x2y_s2t', 'en2x_t2t or x2y_t2t']" in p for p in tasks), tasks
    assert any(p.startswith("rank.analyses: 'target_language' needs task(s) en2x_s2t or en2x_t2t") for p in tasks)
    assert any("label 'xho' is not a language of this run's samples" in p for p in tasks), tasks
    # no decoder site, though the analyses rank decoder units
    enc = _problems(TINY.replace('sites = ["text_decoder", ', "sites = ["))
    assert any(p.startswith("record.sites: the analyses rank decoder units") for p in enc), enc


def test_run_fails_before_recording_when_the_config_must_fail(tmp_path):
    from babelscope.pipeline import Run

    cfg = parse_config(__import__("tomllib").loads(TINY.replace("max_groups = 6", 'max_groups = 6\nlangs = ["eng", "deu"]')))
    with pytest.raises(ConfigError, match=r"problem\(s\) found before running:\n  - rank\.analyses: 'source_language'"):
        Run(cfg, tmp_path / "run", progress=False, log=lambda m: None).execute()
    assert not (tmp_path / "run" / "corpus").exists() and not (tmp_path / "run" / "activations").exists()


def test_dry_run_checks_the_evidence_the_config_allows(tmp_path):
    """Issue: docs/run.md's study config failed only after recording ("a single label 'deu'"). The config
    alone fixes the labels when [corpus] langs is given, and the corpus's size bounds every label's
    positives: both are problems before anything runs."""
    from babelscope.pipeline.checks import config_problems
    from babelscope.pipeline.dryrun import meta_adapter
    from babelscope.vocab.sites import select_sites

    meta = meta_adapter("tiny-random-seamless")

    def problems(extra: dict) -> list[str]:
        base = {"name": "t", "model": {"name": "tiny-random-seamless"},
                "record": {"tasks": ["t2t", "en2x_t2t"], "steps": [2], "sites": ["text_decoder"]}}
        cfg = parse_config({**base, **extra})
        return config_problems(cfg, select_sites(meta.sites(), list(cfg.record.sites)), meta)

    # a corpus folder not on this machine, whose languages the config names: one language besides the pivot
    away = {"corpus": {"source": str(tmp_path / "not-here"), "langs": ["eng", "deu"]}}
    got = problems(away)
    for an in ("source_language", "target_language"):
        assert (f"rank.analyses: {an!r} compares the languages other than the pivot 'eng', and [corpus] langs "
                "leaves 1 (deu): it needs at least two") in got
    # the demo corpus cut to 3 sentence groups: 3 positives per language, below a minimum of 5
    thin = problems({"corpus": {"source": "demo", "max_groups": 3}, "rank": {"min_positives": 5, "min_negatives": 5}})
    assert any("rank: analysis 'source_language' (text): 5 label(s) below the minimum of 5 positives and 5 negatives"
               in p and "cmn (3 samples, 12 others)" in p and "no label would be left to rank" in p for p in thin), thin
    assert not [p for p in problems({"corpus": {"source": "demo", "max_groups": 5},
                                     "rank": {"min_positives": 5, "min_negatives": 5}}) if p.startswith("rank:")]
    # one thin label (Mandarin in 2 of 5 groups): skipped with a warning at rank time, refused under strict
    from conftest import make_corpus

    folder = make_corpus(tmp_path / "c", n_groups=5)
    lines = (folder / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    keep = [l for l in lines if not ('"lang": "cmn"' in l and not any(f'"s00{g}' in l for g in (1, 2)))]
    (folder / "manifest.jsonl").write_text("\n".join(keep) + "\n", encoding="utf-8")
    one = {"corpus": {"source": str(folder)}, "rank": {"min_positives": 5, "min_negatives": 5}}
    assert not [p for p in problems(one) if p.startswith("rank:")]
    one["rank"]["strict"] = True
    got = [p for p in problems(one) if p.startswith("rank:")]
    assert got and all("1 label(s) below the minimum" in p and "cmn (2 samples" in p
                       and "[rank] strict refuses the ranking" in p for p in got), got
