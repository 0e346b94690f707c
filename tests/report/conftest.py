"""A synthetic run folder that follows the run-folder contract of docs/report.md with plausible
numbers (shaped so that the paper's claims come out supported, except claim 3 for the speech
encoder), plus the headless-Chromium page checker used by the browser test."""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")
STEPS = (2, 7, 12)
N_LAYERS = {"speech_encoder": 8, "text_encoder": 6, "text_decoder": 6}
EVIL_TEXT = "<script>alert(1)</script> Hallo & tschüss"
AMP_LABEL = "R&D <i>"


def _write(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False)


def write_synthetic_run(root: Path, *, seed: int = 0) -> Path:
    """Write every file of the run-folder contract under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    run = {
        "model": {"name": "babel-mini", "family": "seamless", "id": "babel-mini", "revision": "abc123",
                  "dtype": "float32"},
        "corpus": {"path": "demo-out/corpus", "n_groups": 40, "languages": list(LANGS)},
        "settings": {"steps": list(STEPS), "k": 100, "pooling": "mean", "note": "<b>bold</b> & more",
                     "record": {"batch_size": 16, "sites": ["text_decoder", "speech_encoder.*"]}},
        "versions": {"babelscope": "0.1.0", "torch": "2.13.0", "transformers": "5.1.0", "python": "3.11.2"},
        "stages": {"corpus": {"seconds": 12.5}, "record": {"seconds": 340.2}, "rank": {"seconds": 95.0},
                   "compare": {"seconds": 8.1}, "intervene": {"seconds": 610.7}},
        "started": "2025-01-01T10:00:00+00:00", "finished": "2025-01-01T10:17:46+00:00",
    }
    (root / "run.json").write_text(json.dumps(run, indent=2))
    an = root / "analysis"
    k = 100

    # ap_summary
    rows = []
    for analysis, mods, labels in (("source_language", ("speech", "text"), LANGS),
                                   ("target_language", ("speech", "text"), LANGS),
                                   ("modality", ("both",), ("speech", "text")),
                                   ("language_x_modality", ("both",), ("deu/speech", AMP_LABEL))):
        for mod in mods:
            for step in ("encoder",) + STEPS:
                for lab in labels:
                    base = 1 / len(labels)
                    mx = float(np.clip(0.75 + 0.2 * rng.random() - 0.01 * (step if step != "encoder" else 0), 0, 1))
                    rows.append({"analysis": analysis, "modality": mod, "step": step, "label": lab,
                                 "base_rate": base, "n_units": 24576, "max_ap": mx,
                                 "n_ap_over_0_9": int(rng.integers(0, 60)), "mean_top_ap": mx - 0.15, "k": k})
    _write(pd.DataFrame(rows), an / "ap_summary.csv")

    # evidence: 40 groups per label; at step 12 a tenth of the samples have no response, and Mandarin
    # speech keeps three positives, below the minimum of 5
    ev = []
    for r in rows:
        n = 40 * (2 if r["analysis"] == "modality" else len(LANGS) - 1)
        used = n if r["step"] in (2, 7, "encoder") else n - n // 10
        thin = r["step"] == 12 and r["label"] == "cmn" and r["modality"] == "speech"
        pos = 3 if thin else (used // 2 if r["analysis"] == "modality" else used // (len(LANGS) - 1))
        ev.append({"analysis": r["analysis"], "modality": r["modality"], "step": r["step"], "label": r["label"],
                   "n_samples": n, "n_used": used, "n_dropped": n - used, "positives": pos, "negatives": used - pos,
                   "ranked": not thin,
                   "why_skipped": f"{pos} positives and {used - pos} negatives at step=12/mean (minimum 5 and 5)"
                   if thin else ""})
    _write(pd.DataFrame(ev), an / "evidence.csv")

    # top_units_location
    rows = []
    for analysis, mods, labels in (("source_language", ("speech", "text"), LANGS),
                                   ("target_language", ("speech", "text"), LANGS)):
        for mod in mods:
            enc = "speech_encoder" if mod == "speech" else "text_encoder"
            for step in ("encoder",) + STEPS:
                for lab in labels:
                    if step == "encoder":
                        cells = [(enc, "ffn", l) for l in range(N_LAYERS[enc])] + [(enc, "conv" if mod == "speech" else "embed", -1)]
                        w = np.array([1 + l for l in range(N_LAYERS[enc])] + [1.0])
                    else:
                        cells = [("text_decoder", g, l) for l in range(6) for g in ("self_attn", "cross_attn", "ffn", "norm")]
                        w = np.array([(1 + l * (step / 6)) * {"self_attn": 1, "cross_attn": 1.5, "ffn": 3, "norm": 0.2}[g]
                                      for l in range(6) for g in ("self_attn", "cross_attn", "ffn", "norm")])
                    counts = rng.multinomial(k, w / w.sum())
                    for (comp, grp, layer), c in zip(cells, counts):
                        if c:
                            rows.append({"analysis": analysis, "modality": mod, "step": step, "label": lab,
                                         "component": comp, "group": grp, "layer": layer, "count": int(c), "k": k})
    _write(pd.DataFrame(rows), an / "top_units_location.csv")

    # overlap: diagonal falls with step (claim 1)
    rows = []
    n_cand = 20000
    for analysis in ("source_language", "target_language"):
        for step, diag in zip(STEPS, (42, 26, 14)):
            for a in LANGS:
                for b in LANGS:
                    c = int(diag + rng.integers(-4, 5)) if a == b else int(rng.integers(0, 9))
                    rows.append({"analysis": analysis, "step": step, "speech_label": a, "text_label": b, "k": k,
                                 "n_candidates": n_cand, "count": c, "jaccard": c / (2 * k - c),
                                 "overlap_coef": c / k, "chance": k * k / n_cand})
    _write(pd.DataFrame(rows), an / "overlap.csv")

    # spearman
    rows = []
    for analysis in ("source_language", "target_language"):
        for step in STEPS:
            for lab in LANGS:
                rows.append({"analysis": analysis, "step": step, "label": lab, "scope": "global",
                             "component": "text_decoder", "layer": -1, "rho": 0.6 - 0.03 * step + 0.1 * rng.random(),
                             "n_units": 24576})
                for layer in range(6):
                    rows.append({"analysis": analysis, "step": step, "label": lab, "scope": "layer",
                                 "component": "text_decoder", "layer": layer,
                                 "rho": float(np.clip(0.7 - 0.08 * layer - 0.02 * step + 0.1 * rng.standard_normal(), -1, 1)),
                                 "n_units": 4096})
    _write(pd.DataFrame(rows), an / "spearman.csv")

    # across_steps
    rows = []
    for analysis in ("source_language", "target_language"):
        for mod in ("speech", "text"):
            for lab in LANGS:
                for a, b, c in ((2, 7, 55), (7, 12, 70), (2, 12, 40)):
                    rows.append({"analysis": analysis, "modality": mod, "label": lab, "step_a": a, "step_b": b,
                                 "count": int(c + rng.integers(-8, 9)), "k": k, "chance": k * k / n_cand})
    _write(pd.DataFrame(rows), an / "across_steps.csv")

    # role_overlap: representation vs control sets (its own random stream: the tables after it stay as they were)
    rows = [{"modality": mod, "step": st, "label": lab, "k": k, "n_candidates": n_cand, "count": c,
             "jaccard": c / (2 * k - c), "chance": k * k / n_cand, "p_value": 1e-6 if c > 20 else 0.4}
            for mod in ("speech", "text") for st in STEPS for lab in LANGS
            for c in [int(np.random.default_rng([seed, st, len(lab), ord(mod[0])]).integers(0, 40))]]
    _write(pd.DataFrame(rows), an / "role_overlap.csv")

    # encoder depth: text encoder grows language-agnostic; the speech encoder rises first (claim 3 fails)
    rows = []
    for mod, comp in (("speech", "speech_encoder"), ("text", "text_encoder")):
        n = N_LAYERS[comp]
        for layer in range(n):
            if comp == "text_encoder":
                share = 0.30 * (1 - layer / n) + 0.01
            else:
                share = 0.05 + 0.25 * math.sin(math.pi * (layer + 0.5) / n) * (layer / n + 0.3)
            rows.append({"modality": mod, "component": comp, "layer": layer, "n_units": 4096,
                         "mean_max_ap": 0.35 + share, "share_selective": share, "chance_ap": 1 / 6})
    _write(pd.DataFrame(rows), an / "encoder_depth.csv")

    # modality units: cross-attention k/v hold most of the top-k (claim 4)
    rows = []
    k_mod = 200
    subs = [("self_attn", "self_attn.k_proj", 256), ("self_attn", "self_attn.v_proj", 256),
            ("self_attn", "self_attn.out_proj", 256), ("cross_attn", "cross_attention.q_proj", 256),
            ("cross_attn", "cross_attention.k_proj", 256), ("cross_attn", "cross_attention.v_proj", 256),
            ("cross_attn", "cross_attention.out_proj", 256), ("ffn", "ffn.fc1", 1024), ("ffn", "ffn.fc2", 256),
            ("norm", "self_attn_layer_norm", 256)]
    for step in STEPS:
        sites = [(g, f"text_decoder.layers.{l}.{s}", l, n) for l in range(6) for g, s, n in subs]
        w = np.array([8.0 if s.endswith(("cross_attention.k_proj", "cross_attention.v_proj")) else 0.15 * n / 256
                      for g, s, l, n in sites])
        counts = rng.multinomial(k_mod, w / w.sum())
        for (g, s, l, n), c in zip(sites, counts):
            rows.append({"step": step, "component": "text_decoder", "group": g, "site": s, "layer": l,
                         "n_units": n, "n_top": int(c), "k": k_mod, "mean_ap": 0.5 + 0.4 * rng.random()})
    _write(pd.DataFrame(rows), an / "modality_units.csv")

    # concentration + lorenz: speech and jpn/cmn more concentrated (claim 5)
    rows, lrows = [], []
    x = np.linspace(0, 1, 101)
    combos = [(step, "text_decoder") for step in STEPS] + [("encoder", "speech_encoder"), ("encoder", "text_encoder")]
    for step, comp in combos:
        for mod, task in (("speech", "s2t"), ("text", "t2t")):
            if comp == "speech_encoder" and mod == "text" or comp == "text_encoder" and mod == "speech":
                continue
            for lang in LANGS:
                g = 0.35 + (0.08 if mod == "speech" else 0) + (0.07 if lang in ("jpn", "cmn") else 0) + 0.02 * rng.random()
                p = (1 + g) / (1 - g)  # Lorenz curve x**p has Gini (p-1)/(p+1)
                rows.append({"step": step, "task": task, "lang": lang, "modality": mod, "component": comp,
                             "gini": g, "top1_share": 0.02 + g / 10, "entropy": 1 - g / 3, "n_units": 4096})
                for xi, yi in zip(x, x ** p):
                    lrows.append({"step": step, "task": task, "lang": lang, "modality": mod, "component": comp,
                                  "x": float(xi), "y": float(yi)})
    _write(pd.DataFrame(rows), an / "concentration.csv")
    _write(pd.DataFrame(lrows), an / "lorenz.csv")

    # bootstrap tables of the analysis stage (pipeline/analysis_boot.py): intervals over 40 sentence groups
    _write(pd.DataFrame([{"step_a": 2, "step_b": b, "value_a": 0.40, "value_b": vb, "estimate": 0.40 - vb,
                          "lo": 0.40 - vb - 0.06, "hi": 0.40 - vb + 0.06, "alpha": 0.05, "n_boot": 200, "n_groups": 40,
                          "n_labels": 6, "k": k, "mode": "both", "pool": 4, "n_speech": 240, "n_text": 240}
                         for b, vb in ((7, 0.25), (12, 0.12))]), an / "overlap_boot.csv")
    _write(pd.DataFrame([{"component": comp, "modality": mod, "n_layers": N_LAYERS[comp], "units_per_layer": 128,
                          "n_samples": 240, "n_groups": 40, "slope": sl, "slope_lo": sl - 0.004, "slope_hi": sl + 0.004,
                          "first_excess": 0.2, "first_lo": 0.18, "first_hi": 0.22, "last_excess": 0.05,
                          "alpha": 0.05, "n_boot": 200}
                         for comp, mod, sl in (("speech_encoder", "speech", 0.01), ("text_encoder", "text", -0.03))]),
           an / "encoder_depth_boot.csv")
    _write(pd.DataFrame([{"contrast": c, "estimate": e, "lo": e - 0.02, "hi": e + 0.02, "n_cells": n, "n_groups": 40,
                          "alpha": 0.05, "n_boot": 200, "pairing": pairing}
                         for c, e, n, pairing in (("speech - text", 0.08, 18, "(step, task family, language)"),
                                                  ("jpn/cmn - Latin", 0.07, 6, "(step, task, modality)"))]),
           an / "concentration_boot.csv")

    # interventions
    iv = root / "interventions"
    iv.mkdir(exist_ok=True)
    index = [{"name": "median-deu-speech", "kind": "median_replacement", "source_modality": "speech",
              "target_modality": "speech", "steer_to": None, "ask": None, "steps": None,
              "set_label": "deu", "k": 100, "component": "text_decoder"}]
    for src, tgt in (("speech", "text"), ("text", "speech")):
        for lang in ("deu", "jpn"):
            for a, b in ((2, 7), (7, 12)):
                index.append({"name": f"steer-{src}2{tgt}-{lang}-{a}-{b}", "kind": "steering",
                              "source_modality": src, "target_modality": tgt, "steer_to": lang, "ask": "eng",
                              "steps": [a, b], "set_label": lang, "k": 100, "component": "text_decoder"})
    (iv / "index.json").write_text(json.dumps(index, indent=2))
    for i, spec in enumerate(index):
        n = 60
        steer = spec["steer_to"]
        strength = 0.0 if steer is None else (0.35 if spec["steps"][0] == 2 else 0.6)
        if spec["source_modality"] == "text":
            strength *= 0.6
        shares = {"unforced": 0.05 if steer else 0.9, "baseline": 0.07 if steer else 0.85,
                  "forced": (0.07 + strength) if steer else 0.3}
        res, conds = [], {}
        for cond, sh in shares.items():
            hits = rng.random(n) < sh
            for j in range(n):
                text = EVIL_TEXT if (i == 1 and cond == "forced" and j == 0) else f"output {j} of {cond} für {spec['name']}"
                res.append({"sample_id": f"g{j:03d}-eng-{spec['target_modality']}", "condition": cond, "task": "t2t",
                            "src_lang": "eng", "tgt_lang": spec["ask"] or "deu", "modality": spec["target_modality"],
                            "expected_lang": steer or "deu", "text": text, "reference": f"reference {j} & <ref>",
                            "lid_lang": (steer or "deu") if hits[j] else "eng", "is_expected": bool(hits[j]),
                            "expected_prob": float(0.8 if hits[j] else 0.1), "chrf": float(40 + 10 * rng.random())})
            m = hits.mean()
            se = math.sqrt(max(m * (1 - m), 0.01) / n)
            conds[cond] = {"n": n, "share_expected": float(m), "share_expected_ci95": [max(0.0, m - 2 * se), min(1.0, m + 2 * se)],
                           "mean_expected_prob": float(0.1 + 0.7 * m), "share_asked": float(1 - m), "mean_chrf": 45.0}
        effects = {}
        for a_, b_ in (("forced", "unforced"), ("forced", "baseline"), ("baseline", "unforced")):
            d = conds[a_]["share_expected"] - conds[b_]["share_expected"]
            lo, hi = d - 0.18, d + 0.18
            effects[f"{a_}-{b_}"] = {"is_expected": {"effect": d, "ci95": [lo, hi], "excludes_zero": bool(lo > 0 or hi < 0)},
                                    "chrf": {"effect": -3.0, "ci95": [-6.0, -0.5], "excludes_zero": True}}
        summary = {"forcing": f"{spec['k']} units of {spec['set_label']} to on_p50", "baseline": "100 random units",
                   "steer_to": steer, "n_samples": n, "conditions": conds, "effects": effects}
        d = iv / spec["name"]
        d.mkdir(exist_ok=True)
        (d / "summary.json").write_text(json.dumps(summary, indent=2))
        pd.DataFrame(res).to_parquet(d / "results.parquet", index=False)
    return root


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> Path:
    return write_synthetic_run(tmp_path_factory.mktemp("run") / "RUN")


@pytest.fixture
def run_copy(synthetic_run, tmp_path) -> Path:
    """A private copy of the synthetic run that a test may damage."""
    dst = tmp_path / "RUN"
    shutil.copytree(synthetic_run, dst)
    return dst


# ------------------------------------------------------------------------------ browser checking

def find_chromium() -> str | None:
    """The Chromium binary: $BABELSCOPE_CHROMIUM, Debian's real binary behind the launcher script,
    or the first of chromium / chromium-browser / google-chrome on PATH."""
    env = os.environ.get("BABELSCOPE_CHROMIUM")
    if env and Path(env).is_file():
        return env
    if Path("/usr/lib/chromium/chromium").is_file():
        return "/usr/lib/chromium/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class PageCheck:
    """What a page did while loading in headless Chromium."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.failed_requests: list[str] = []
        self.external_requests: list[str] = []
        self.broken_images: list[str] = []
        self.n_images = 0

    @property
    def problems(self) -> list[str]:
        return ([f"console error: {m}" for m in self.console_errors] + [f"page error: {m}" for m in self.page_errors]
                + [f"failed request: {m}" for m in self.failed_requests]
                + [f"external request: {m}" for m in self.external_requests]
                + [f"image did not load: {m}" for m in self.broken_images])

    @property
    def ok(self) -> bool:
        return not self.problems


def check_page(page_path: Path, chromium: str, screenshot: Path | None = None, timeout_ms: int = 60000) -> PageCheck:
    """Open a local HTML file in headless Chromium (driven by Playwright, using the system browser)
    and record console errors, uncaught exceptions, failed or external requests and images that did
    not load (not complete, or naturalWidth == 0). External requests are also blocked."""
    import re

    from playwright.sync_api import sync_playwright

    res = PageCheck()
    url = Path(page_path).resolve().as_uri()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: res.console_errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: res.page_errors.append(str(e)))
            page.on("requestfailed", lambda r: res.failed_requests.append(f"{r.url[:120]} ({r.failure})"))

            def block(route):
                res.external_requests.append(route.request.url[:120])
                route.abort()
            page.route(re.compile(r"^(https?|wss?|ftp)://"), block)
            page.goto(url, wait_until="load", timeout=timeout_ms)
            page.wait_for_load_state("networkidle", timeout=timeout_ms)
            images = page.evaluate("""() => Array.from(document.images).map(
                (im, i) => ({i, src: (im.getAttribute('src') || '').slice(0, 60), ok: im.complete && im.naturalWidth > 0}))""")
            res.n_images = len(images)
            res.broken_images = [f"#{im['i']} {im['src']}" for im in images if not im["ok"]]
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return res


@pytest.fixture(scope="session")
def chromium() -> str:
    exe = find_chromium()
    if exe is None:
        pytest.skip("headless browser test needs Chromium: install the Debian package 'chromium' "
                    "(./run setup does) or set BABELSCOPE_CHROMIUM")
    return exe
