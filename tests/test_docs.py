"""Docs that cannot rot: every ```python block of README.md and docs/*.md runs here, and every ```bash
block that needs nothing but babelscope's built-ins (slow-marked: it runs the CLI in subprocesses).

The blocks of one page run in order, in one namespace, in a fresh folder holding what the page names
(a corpus, a recorded store, a run folder: :data:`NEEDS`). A block that needs what the suite cannot
have (a download, a dataset) is marked on the line before it with ``<!-- docs-test: skip: REASON -->``
and is only checked to compile.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
BLOCK = {lang: re.compile(r"^(?:<!-- docs-test: (?P<mark>[^\n]*?) -->\n)?```" + lang + r"\n(?P<code>.*?)^```", re.S | re.M)
         for lang in ("python", "bash")}

#: what each page's blocks read, by the names the page uses
NEEDS = {
    "README.md": ("runs/act",),
    "docs/artifacts.md": ("runs/act",),
    "docs/corpus.md": ("corpus", "seed.jsonl"),
    "docs/recording.md": ("demo-out/corpus",),
    "docs/report.md": ("RUN",),
}


def blocks(page: str, lang: str = "python") -> list[tuple[int, str, str | None]]:
    """``(line, code, skip reason or None)`` of every ``lang`` block of ``page``."""
    text = (ROOT / page).read_text(encoding="utf-8")
    out = []
    for m in BLOCK[lang].finditer(text):
        mark = m.group("mark")
        if mark is not None and not mark.startswith("skip: "):
            raise AssertionError(f"{page}: unknown docs-test mark {mark!r} (expected 'skip: REASON')")
        line = text.count("\n", 0, m.start("code")) + 1
        out.append((line, m.group("code"), mark[len("skip: "):] if mark else None))
    return out


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, corpus_dir):
    """The files the pages name, made once: a small corpus (the seed groups s001..., text and speech), two
    of its parallel groups as a seed JSONL, a store recorded from it, and a synthetic run folder."""
    from report.conftest import write_synthetic_run

    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.models import load_model
    from babelscope.record import RecordSettings, record

    ws = tmp_path_factory.mktemp("docs-ws")
    shutil.copytree(corpus_dir, ws / "corpus")
    (ws / "demo-out").mkdir()
    shutil.copytree(corpus_dir, ws / "demo-out" / "corpus")
    from importlib import resources

    lines = resources.files("babelscope.corpus").joinpath("data/seed_sentences.jsonl").read_text("utf-8").splitlines()
    (ws / "seed.jsonl").write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    samples = build_task_samples(read_manifest(ws / "corpus"), ["t2t", "s2t"], max_groups=2)
    record(load_model("tiny-random-seamless"), samples, ws / "runs" / "act",
           RecordSettings(steps=(2,), sites=("text_decoder",), batch_size=8, max_new_tokens=8), progress=False)
    write_synthetic_run(ws / "RUN")
    return ws


def test_every_page_with_code_is_collected():
    counted = {p: len(blocks(p)) for p in PAGES}
    assert counted["docs/python.md"] >= 4 and counted["README.md"] >= 1
    assert sum(counted.values()) >= 15, counted
    shell = {p: len(blocks(p, "bash")) for p in PAGES}
    assert shell["docs/corpus.md"] >= 4 and sum(shell.values()) >= 12, shell


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)])
def test_python_blocks_run(page, workspace, tmp_path, monkeypatch):
    for need in NEEDS.get(page, ()):
        src, dst = workspace / need, tmp_path / need
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs:{page}"}
    for line, code, skip in blocks(page):
        compiled = compile(code, f"{page}:{line}", "exec")  # a skipped block must still be valid Python
        if skip is not None:
            continue
        exec(compiled, namespace)  # noqa: S102 -- the project's own documentation
    assert os.getcwd() == str(tmp_path)


def test_the_run_guide_config_passes_the_dry_run_checks():
    """docs/run.md's config, literally: valid, and every check of `run --dry-run` passes (its full run on
    babel-mini is quoted in issue 18's closing note; `--calibrate` refused its former steps 2, 7, 12)."""
    import tomllib

    from babelscope.config import parse_config
    from babelscope.pipeline.checks import config_problems
    from babelscope.pipeline.dryrun import meta_adapter
    from babelscope.vocab.sites import select_sites

    text = (ROOT / "docs" / "run.md").read_text(encoding="utf-8")
    block = re.search(r"^```toml\n(.*?)^```", text, re.S | re.M).group(1)
    cfg = parse_config(tomllib.loads(block), "docs/run.md")
    meta = meta_adapter(cfg.model.name)
    assert config_problems(cfg, select_sites(meta.sites(), list(cfg.record.sites)), meta) == []
    assert cfg.record.steps == [2, 5, 7] and cfg.corpus.max_groups == 40


#: what each page's shell blocks read (paths relative to the page's working folder)
BASH_NEEDS = {
    "README.md": ("demo-out/corpus",),
    "docs/corpus.md": ("src/babelscope/corpus/data/seed_sentences.jsonl", "text-only-corpus"),
}


@pytest.fixture(scope="session")
def text_only_corpus(tmp_path_factory, corpus_dir):
    """The fixture corpus's text records alone (the input of `corpus synth` on a corpus folder)."""
    out = tmp_path_factory.mktemp("text-only")
    lines = (corpus_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    (out / "manifest.jsonl").write_text("\n".join(l for l in lines if '"modality": "text"' in l) + "\n",
                                        encoding="utf-8")
    return out


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p, "bash")])
def test_bash_blocks_run(page, workspace, text_only_corpus, tmp_path):
    import subprocess
    import sys

    sources = {"text-only-corpus": text_only_corpus, "src/babelscope/corpus/data/seed_sentences.jsonl":
               ROOT / "src/babelscope/corpus/data/seed_sentences.jsonl"}
    for need in BASH_NEEDS.get(page, ()):
        src, dst = sources.get(need, workspace / need), tmp_path / need
        dst.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, dst)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "COLUMNS": "120"}
    ran = 0
    for line, code, skip in blocks(page, "bash"):
        if skip is not None:
            continue
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", code], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=900)
        assert res.returncode == 0, f"{page}:{line} exited {res.returncode}:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
        ran += 1
    assert ran or all(skip for _, _, skip in blocks(page, "bash"))
