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
    run = tmp_path / "RUN"
    run.mkdir()
    html = build_report(run).read_text("utf-8")
    assert (run / "report" / "report.html").is_file()
    assert html.count("not testable here") >= 5 and "<img" not in html
    assert "run.json is missing" in html


def test_report_is_deterministic(synthetic_run, built, tmp_path):
    again = build_report(synthetic_run, tmp_path / "again")
    assert again.read_bytes() == built[0].read_bytes()


# ---------------------------------------------------------------------------------- claim rules

def _overlap(diags: dict[int, float], k: int = 100, u: int = 20000) -> pd.DataFrame:
    rows = [{"analysis": "source_language", "step": str(s), "speech_label": l, "text_label": l, "k": k,
             "n_candidates": u, "count": v * k, "jaccard": 0.0, "overlap_coef": 0.0, "chance": k * k / u}
            for s, v in diags.items() for l in ("deu", "fra")]
    return pd.DataFrame(rows)


def test_claim1_rules():
    assert C.claim_overlap(_overlap({2: 0.4, 7: 0.2, 12: 0.1})).verdict == SUPPORTED
    assert C.claim_overlap(_overlap({2: 0.2, 7: 0.4, 12: 0.1})).verdict == NOT_SUPPORTED  # peak not first
    assert C.claim_overlap(_overlap({2: 0.004, 12: 0.001})).verdict == NOT_SUPPORTED  # at chance
    assert C.claim_overlap(_overlap({2: 0.4})).verdict == NOT_TESTABLE
    assert C.claim_overlap(None).verdict == NOT_TESTABLE


def _iv(name, effect, lo, hi, steps, src="speech", tgt="text"):
    from babelscope.report.data import Intervention
    spec = {"name": name, "kind": "steering", "source_modality": src, "target_modality": tgt, "steer_to": "deu",
            "steps": steps}
    summary = {"effects": {"forced-baseline": {"is_expected": {"effect": effect, "ci95": [lo, hi],
                                                               "excludes_zero": lo > 0 or hi < 0}}}}
    return Intervention(name, spec, summary, None)


def test_claim2_rules():
    ok = [_iv("a", 0.2, 0.1, 0.3, [2, 7]), _iv("b", 0.5, 0.3, 0.7, [7, 12])]
    assert C.claim_steering(ok).verdict == SUPPORTED
    weaker_late = [_iv("a", 0.6, 0.4, 0.8, [2, 7]), _iv("b", 0.3, 0.1, 0.5, [7, 12])]
    assert C.claim_steering(weaker_late).verdict == NOT_SUPPORTED
    ci_zero = [_iv("a", 0.1, -0.1, 0.3, [2, 7]), _iv("b", 0.2, -0.05, 0.45, [7, 12])]
    assert C.claim_steering(ci_zero).verdict == NOT_SUPPORTED
    one_range = [_iv("b", 0.5, 0.3, 0.7, None)]
    assert C.claim_steering(one_range).verdict == NOT_TESTABLE  # "later steps" cannot be tested
    assert C.claim_steering([_iv("b", 0.5, 0.3, 0.7, None, src="text", tgt="speech")]).verdict == NOT_TESTABLE
    assert C.claim_steering(None).verdict == NOT_TESTABLE


def _depth(values, comp="text_encoder", mod="text", col="share_selective"):
    rows = [{"modality": mod, "component": comp, "layer": i, "n_units": 10, "mean_max_ap": 0.5,
             "share_selective": 0.0, "chance_ap": 0.2} for i in range(len(values))]
    for r, v in zip(rows, values):
        r[col] = v
    return pd.DataFrame(rows)


def test_claim3_rules():
    assert C.claim_encoder_depth(_depth([0.3, 0.2, 0.1])).verdict == SUPPORTED
    assert C.claim_encoder_depth(_depth([0.1, 0.2, 0.3])).verdict == NOT_SUPPORTED
    assert C.claim_encoder_depth(_depth([0.3, 0.1])).verdict == NOT_TESTABLE  # < 3 layers
    falls_ap = C.claim_encoder_depth(_depth([0.9, 0.8, 0.7], col="mean_max_ap"))  # share_selective constant
    assert falls_ap.verdict == SUPPORTED and "mean_max_ap" in " ".join(k for k, _ in falls_ap.numbers)


def _units(kv_top, other_top, norm_units=256, norm_top=0):
    rows = []
    for site, group, n, top in (("text_decoder.layers.0.cross_attention.k_proj", "cross_attn", 256, kv_top),
                                ("text_decoder.layers.0.ffn.fc1", "ffn", 2048, other_top),
                                ("text_decoder.layers.0.final_layer_norm", "norm", norm_units, norm_top)):
        rows.append({"step": "2", "component": "text_decoder", "group": group, "site": site, "layer": 0,
                     "n_units": n, "n_top": top, "k": 100, "mean_ap": 0.6})
    return pd.DataFrame(rows)


def test_claim4_rules():
    assert C.claim_modality_units(_units(80, 20)).verdict == SUPPORTED
    assert C.claim_modality_units(_units(10, 90)).verdict == NOT_SUPPORTED
    # a small group even more enriched than K/V: not the largest
    assert C.claim_modality_units(_units(60, 10, norm_units=8, norm_top=30)).verdict == NOT_SUPPORTED
    no_kv = _units(0, 100)
    no_kv["site"] = no_kv["site"].str.replace("k_proj", "q_proj")
    assert C.claim_modality_units(no_kv).verdict == NOT_TESTABLE


def _conc(g):
    rows = [{"step": "2", "task": "t", "lang": l, "modality": m, "component": "text_decoder", "gini": g(l, m),
             "top1_share": 0.1, "entropy": 0.9, "n_units": 10}
            for l in ("eng", "deu", "jpn", "cmn") for m in ("speech", "text")]
    return pd.DataFrame(rows)


def test_claim5_rules():
    good = _conc(lambda l, m: 0.4 + 0.1 * (m == "speech") + 0.1 * (l in ("jpn", "cmn")))
    assert C.claim_concentration(good).verdict == SUPPORTED
    text_higher = _conc(lambda l, m: 0.4 + 0.1 * (m == "text") + 0.1 * (l in ("jpn", "cmn")))
    assert C.claim_concentration(text_higher).verdict == NOT_SUPPORTED
    latin_only = good[good["lang"].isin(["eng", "deu"])]
    assert C.claim_concentration(latin_only).verdict == NOT_TESTABLE  # speech > text holds, script part untested
    assert C.claim_concentration(text_higher[text_higher["lang"].isin(["eng", "deu"])]).verdict == NOT_SUPPORTED


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
