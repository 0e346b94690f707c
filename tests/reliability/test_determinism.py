"""Determinism: the same run config, run twice (``babelscope.pipeline.Run``; the second time in a fresh
process with another hash seed), gives identical artifacts: responses bit for bit, expertise tables,
neuron sets, analysis tables, generated text and intervention results.

The same run then gets its HTML report, from a corpus whose sentences and a config whose name hold
``<script>``: the report must show them as text (end to end; the escaping itself is unit-tested in
tests/report).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ._compare import assert_expertise_equal, assert_results_equal, assert_store_equal

EVIL = "<script>alert('x')</script>"

CONFIG = """
name = "det {evil}"
seed = 0
[model]
name = "tiny-random-seamless"
[corpus]
source = "{corpus}"
[record]
tasks = ["t2t", "s2t", "en2x_t2t", "en2x_s2t"]
steps = [2, 4]
sites = ["text_decoder"]
batch_size = 4
max_new_tokens = 6
[rank]
analyses = ["source_language", "target_language"]
block_units = 512
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
enabled = {report}
"""


@pytest.fixture(scope="module")
def det_corpus(tmp_path_factory) -> Path:
    from conftest import make_corpus

    folder = make_corpus(tmp_path_factory.mktemp("det-corpus"), n_groups=2, langs=("eng", "deu", "spa", "fra"))
    lines = [json.loads(l) for l in (folder / "manifest.jsonl").read_text("utf-8").splitlines()]
    first = lines[0]["group"]
    for r in lines:  # a sentence that would run a script if the report pasted it as HTML
        if r["group"] == first and r["lang"] in ("spa", "fra"):
            r["text"] = f"{r['text']} {EVIL} & <b>bold</b>"
    (folder / "manifest.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), "utf-8")
    return folder


def _config(tmp: Path, corpus: Path, report: bool) -> Path:
    path = tmp / f"det-{'report' if report else 'plain'}.toml"
    path.write_text(CONFIG.format(corpus=corpus, report=str(report).lower(), evil=EVIL))
    return path


@pytest.fixture(scope="module")
def two_runs(seamless, det_corpus, tmp_path_factory):
    from babelscope.config import load_config
    from babelscope.pipeline import Run

    root = tmp_path_factory.mktemp("det")
    cfg_path = _config(root, det_corpus, report=False)
    Run(load_config(cfg_path), root / "a", progress=False, log=lambda s: None).execute()
    code = ("import sys; from babelscope.config import load_config; from babelscope.pipeline import Run; "
            "Run(load_config(sys.argv[1]), sys.argv[2], progress=False, log=lambda s: None).execute()")
    env = dict(os.environ, PYTHONHASHSEED="12345")  # set and dict orders differ from this process's
    r = subprocess.run([sys.executable, "-c", code, str(cfg_path), str(root / "b")], env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return root / "a", root / "b", root


def _files(folder: Path, pattern: str) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.glob(pattern))


def test_same_config_twice_gives_identical_artifacts(two_runs):
    a, b, _ = two_runs
    assert_store_equal(a / "activations", b / "activations")  # responses bitwise, generated text
    exp = _files(a, "expertise/*.parquet")
    assert exp and exp == _files(b, "expertise/*.parquet")
    for f in exp:
        assert_expertise_equal(a / f, b / f)
    sets = _files(a, "sets/**/*.json")
    assert sets == _files(b, "sets/**/*.json")
    for f in sets:
        assert json.loads((a / f).read_text()) == json.loads((b / f).read_text()), f
    csvs = _files(a, "analysis/*.csv")
    assert csvs and csvs == _files(b, "analysis/*.csv")
    for f in csvs:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert_results_equal(a / "interventions" / "steer", b / "interventions" / "steer")
    assert (a / "interventions" / "index.json").read_text() == (b / "interventions" / "index.json").read_text()
    texts = pd.read_parquet(a / "interventions" / "steer" / "results.parquet")["text"]
    assert texts.str.len().gt(0).any()  # the comparison is not between empty outputs


def test_script_in_corpus_shows_as_text_in_report(two_runs, det_corpus):
    from babelscope.config import load_config
    from babelscope.pipeline import Run

    a, _, root = two_runs
    report = Run(load_config(_config(root, det_corpus, report=True)), a, progress=False,
                 log=lambda s: None).execute(stages=("report",))
    html = Path(report).read_text("utf-8")
    assert not re.search(r"<script", html, re.I)  # not one script element: no sentence or setting became markup
    shown = html.count("&lt;script&gt;alert(")
    assert shown >= 2, shown  # the config name, and the sentence as the reference of an example output
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html


def test_run_interrupted_by_sigint_exits_130_and_resumes_to_the_same_artifacts(two_runs, det_corpus):
    """`babelscope run` gets a real SIGINT while it ranks: exit 130, one line; the same command then
    finishes the run, and every artifact equals the uninterrupted run's."""
    import signal
    import time

    a, _, root = two_runs
    cfg_path = _config(root, det_corpus, report=False)
    out = root / "interrupted"
    cmd = [str(Path(sys.executable).parent / "babelscope"), "run", str(cfg_path), "--out", str(out), "--no-progress"]
    for attempt in range(3):
        if out.exists():
            shutil.rmtree(out)
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 600
        while not list(out.glob("expertise/*.parquet")):
            assert p.poll() is None and time.monotonic() < deadline, "the run ended before it could be interrupted"
            time.sleep(0.01)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=300)[1]
        if p.returncode == 0:
            continue  # the busy machine let it finish first: try again
        break
    assert p.returncode == 130, err[-2000:]
    assert "interrupted" in err.splitlines()[-1]
    assert not (out / "stages" / "intervene.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_store_equal(a / "activations", out / "activations")
    exp = _files(a, "expertise/*.parquet")
    assert exp == _files(out, "expertise/*.parquet")
    for f in exp:
        assert_expertise_equal(a / f, out / f)
    assert_results_equal(a / "interventions" / "steer", out / "interventions" / "steer")
