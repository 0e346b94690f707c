"""The HTML report: self-contained, escaped, a verdict per claim, honest degradation when files are
missing, deterministic output, the CLI, and a real headless-browser load."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import shutil

import pandas as pd
import pytest

from babelscope.report import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, build_report, evaluate_claims, load_run
from babelscope.report import claims as C

from .conftest import AMP_LABEL, check_page

N_FIGURES = 13
EXPECTED = {1: SUPPORTED, 2: SUPPORTED, 3: NOT_SUPPORTED, 4: SUPPORTED, 5: SUPPORTED}


@pytest.fixture(scope="session")
def built(synthetic_run, tmp_path_factory):
    """The report of the synthetic run, built through the CLI; (report path, CLI stdout)."""
    from babelscope.cli import main

    out = tmp_path_factory.mktemp("report")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(["report", str(synthetic_run), "--out", str(out)])
    return out / "report.html", buf.getvalue()


def test_cli_prints_report_path_last(built):
    path, stdout = built
    assert stdout.strip().splitlines()[-1] == str(path.resolve())
    assert "claim 3: not supported" in stdout


def test_report_is_self_contained(built):
    path, _ = built
    html = path.read_text("utf-8")
    imgs = re.findall(r"<img\b[^>]*>", html)
    assert len(imgs) == N_FIGURES
    assert all('src="data:image/png;base64,' in i for i in imgs)
    assert 'src="http' not in html and "url(" not in html
    assert not re.search(r'\b(?:src|href)="(?!data:image/png;base64,|#)', html), "a non-embedded reference"
    assert not re.search(r"https?://", html)
    assert "<link" not in html
    assert "failed:" not in html  # no figure failed
    # the embedded image is the PNG written beside the report
    first = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    pngs = {p.read_bytes() for p in (path.parent / "figures").glob("*.png")}
    assert len(pngs) == N_FIGURES and base64.b64decode(first) in pngs
    for name in ("claims", "interventions", "overlap", "ap_summary", "modality_enrichment"):
        assert (path.parent / "tables" / f"{name}.csv").is_file(), name


def test_every_value_is_escaped(built):
    html = built[0].read_text("utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<script", html, re.I)
    assert "R&amp;D &lt;i&gt;" in html and AMP_LABEL not in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html and "<b>bold</b>" not in html
    assert "reference 0 &amp; &lt;ref&gt;" in html


def test_each_claim_has_a_verdict(built, synthetic_run):
    claims = evaluate_claims(load_run(synthetic_run))
    assert [c.number for c in claims] == [1, 2, 3, 4, 5]
    assert {c.number: c.verdict for c in claims} == EXPECTED
    html = built[0].read_text("utf-8")
    for c in claims:
        block = re.search(rf'<div class="claim" id="claim-{c.number}">(.*?)</div>', html, re.S).group(1)
        assert 'badge' in block and c.verdict in block
        assert "Rule:" in block and c.numbers
    table = pd.read_csv(built[0].parent / "tables" / "claims.csv")
    assert list(table["verdict"]) == [EXPECTED[i] for i in range(1, 6)]


def test_sections(built):
    html = built[0].read_text("utf-8")
    for anchor in ("summary", "location", "overlap", "agreement", "concentration", "interventions", "claims",
                   "provenance"):
        assert f'id="{anchor}"' in html
    assert "not run" not in html.replace("not run or unreadable", "")
    assert "babel-mini" in html and "Mandarin (cmn)" in html and "10 min 11 s" in html


def test_missing_files_degrade_to_not_run(run_copy, tmp_path):
    (run_copy / "analysis" / "overlap.csv").unlink()
    (run_copy / "analysis" / "concentration.csv").unlink()
    shutil.rmtree(run_copy / "interventions")
    # a table without a required column is unreadable, not half-used
    pd.read_csv(run_copy / "analysis" / "encoder_depth.csv").drop(columns="share_selective").to_csv(
        run_copy / "analysis" / "encoder_depth.csv", index=False)
    path = build_report(run_copy, tmp_path / "rep")
    html = path.read_text("utf-8")
    claims = {c.number: c for c in evaluate_claims(load_run(run_copy))}
    assert [claims[i].verdict for i in (1, 2, 3, 5)] == [NOT_TESTABLE] * 4
    assert claims[4].verdict == SUPPORTED
    assert "not run: analysis/overlap.csv is missing" in html
    assert "not run: interventions/index.json is missing" in html
    assert "not run: analysis/concentration.csv is missing" in html
    assert "lacks column(s) share_selective" in html
    for section in ("overlap", "interventions", "concentration"):
        body = html.split(f'id="{section}"', 1)[1].split("<h2", 1)[0]
        assert "not run" in body, section
    assert not (path.parent / "figures" / "overlap.png").exists()
    assert len(re.findall(r"<img\b", html)) == N_FIGURES - 5  # overlap, gini, 2 interventions, depth


def test_empty_run_folder(tmp_path):
    """A run folder with nothing but run.json (the first file a run writes): every claim not testable."""
    run = tmp_path / "RUN"
    run.mkdir()
    (run / "run.json").write_text("not json")
    html = build_report(run).read_text("utf-8")
    assert (run / "report" / "report.html").is_file()
    assert html.count("not testable here") >= 5 and "<img" not in html
    assert "run.json" in html and "could not be read" in html


def test_report_is_deterministic(synthetic_run, built, tmp_path):
    again = build_report(synthetic_run, tmp_path / "again")
    assert again.read_bytes() == built[0].read_bytes()


# ---------------------------------------------------------------------------------- the browser

PNG_1x1 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


def test_report_loads_in_headless_chromium(built, chromium, tmp_path):
    shot = tmp_path / "report.png"
    check = check_page(built[0], chromium, screenshot=shot)
    assert check.ok, check.problems
    assert check.n_images == N_FIGURES
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_browser_checker_catches_broken_pages(chromium, tmp_path):
    good = tmp_path / "good.html"
    good.write_text(f'<!DOCTYPE html><html><body><img src="data:image/png;base64,{PNG_1x1}"></body></html>')
    check = check_page(good, chromium)
    assert check.ok and check.n_images == 1, check.problems

    broken_img = tmp_path / "broken.html"
    broken_img.write_text(f'<!DOCTYPE html><html><body><img src="data:image/png;base64,{PNG_1x1}">'
                          '<img src="missing.png"></body></html>')
    check = check_page(broken_img, chromium)
    assert not check.ok and len(check.broken_images) == 1 and check.broken_images[0].startswith("#1")

    corrupt_img = tmp_path / "corrupt.html"
    corrupt_img.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA"></body></html>')
    assert check_page(corrupt_img, chromium).broken_images

    console = tmp_path / "console.html"
    console.write_text('<!DOCTYPE html><html><body><p>hi</p><script>console.error("deliberate")</script>'
                       '</body></html>')
    check = check_page(console, chromium)
    assert not check.ok and any("deliberate" in m for m in check.console_errors)

    external = tmp_path / "external.html"
    external.write_text('<!DOCTYPE html><html><body><img src="http://127.0.0.1:9/x.png"></body></html>')
    check = check_page(external, chromium)
    assert not check.ok and check.external_requests


def test_a_speech_only_run_says_not_applicable_not_not_run(run_copy, tmp_path):
    """Whisper has no text input: its missing speech-vs-text tables are 'not applicable', with the reason."""
    import json

    run = json.loads((run_copy / "run.json").read_text())
    run["model"]["inputs"] = ["speech"]
    (run_copy / "run.json").write_text(json.dumps(run))
    for name in ("overlap", "spearman", "modality_units"):
        (run_copy / "analysis" / f"{name}.csv").unlink()
    html = build_report(run_copy, tmp_path / "rep").read_text("utf-8")
    summary = html.split('id="summary"', 1)[1].split("<h2", 1)[0]
    assert "not applicable (the model has no text input (seamless takes speech input only)): overlap, spearman, " \
           "modality_units" in summary
    assert "not run or unreadable" not in summary
    claims = {c.number: c for c in evaluate_claims(load_run(run_copy))}
    assert all(claims[n].verdict == NOT_TESTABLE for n in (1, 2, 4))


def test_a_folder_that_is_not_a_run_is_refused(seamless, corpus_dir, tmp_path):
    """`babelscope report STORE` used to write an all-'not testable' report and exit 0."""
    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.errors import ConfigError
    from babelscope.record import RecordSettings, record

    samples = build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=1)
    record(seamless, samples, tmp_path / "store", RecordSettings(steps=(2,), max_new_tokens=4), progress=False)
    with pytest.raises(ConfigError, match=r"store: not a run folder: it has none of run.json, analysis, expertise, "
                                          r"interventions — it is an activation store"):
        build_report(tmp_path / "store")
    (tmp_path / "notes").mkdir()
    with pytest.raises(ConfigError, match="notes: not a run folder: it has none of run.json"):
        build_report(tmp_path / "notes")
    assert not (tmp_path / "store" / "report").exists() and not (tmp_path / "notes" / "report").exists()
