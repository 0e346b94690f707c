"""The built-in demo corpus: the project's own parallel sentences, as text and synthesized speech.

Sentences (CC0-1.0, written for babelscope): 32 hand-written seed groups
(``data/seed_sentences.jsonl``), 445 template groups (:mod:`babelscope.corpus.templates`) and 437
everyday groups (:mod:`babelscope.corpus.templates_daily`), 914 in all, each in eng, deu, spa, fra,
jpn and cmn. The split is fixed: every tenth group (by position) is ``test``
(held out from babel-mini's training), the rest ``train``.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path
from typing import Sequence

from babelscope.atomic import build_dir
from babelscope.corpus.manifest import MANIFEST_NAME, CorpusRecord, read_manifest, write_manifest
from babelscope.corpus.synth import synthesize_to
from babelscope.errors import ConfigError

DEMO_LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")
SPLITS = ("train", "test")
_STAMP = ".demo-corpus.json"


def seed_rows() -> list[dict]:
    data = resources.files("babelscope.corpus").joinpath("data/seed_sentences.jsonl").read_text("utf-8")
    return [json.loads(l) for l in data.splitlines() if l.strip()]


def demo_rows(split: str | None = None) -> list[dict]:
    """Every demo group as ``{"group", "split", "eng", ..., "cmn"}``, in a fixed order."""
    from babelscope.corpus.templates import template_groups
    from babelscope.corpus.templates_daily import daily_groups

    rows = seed_rows() + template_groups() + daily_groups()
    out = [{**row, "split": "test" if i % 10 == 9 else "train"} for i, row in enumerate(rows)]
    if split is not None:
        if split not in SPLITS:
            raise ConfigError(f"demo corpus split: choose from {', '.join(SPLITS)}, not {split!r}")
        out = [r for r in out if r["split"] == split]
    return out


def select_rows(*, split: str | None = None, max_groups: int | None = None,
                per_family: bool = True) -> list[dict]:
    """Demo groups of one split; with ``max_groups``, an evenly spaced subset (covering every family)."""
    rows = demo_rows(split)
    if max_groups is not None and max_groups < len(rows):
        if max_groups < 1:
            raise ConfigError(f"max_groups must be at least 1, got {max_groups}")
        step = len(rows) / max_groups
        rows = [rows[int(i * step)] for i in range(max_groups)] if per_family else rows[:max_groups]
    return rows


def build_demo_corpus(folder: str | Path, *, langs: Sequence[str] = DEMO_LANGS, split: str | None = None,
                      max_groups: int | None = None, modalities: Sequence[str] = ("text", "speech"),
                      workers: int = 4, progress: bool = True):
    """Write text + espeak-ng speech for demo groups into ``folder``.

    A folder already built with the same selection is reused; a different selection is an error
    (never silently mixed). The folder appears complete or not at all.
    """
    from babelscope.progress import progress_bar

    root = Path(folder)
    unknown = set(langs) - set(DEMO_LANGS)
    if unknown:
        raise ConfigError(f"the demo corpus has no language {sorted(unknown)[0]!r} (it has {', '.join(DEMO_LANGS)})")
    rows = select_rows(split=split, max_groups=max_groups)
    key = {"groups": [r["group"] for r in rows], "langs": list(langs), "modalities": sorted(modalities)}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    if (root / MANIFEST_NAME).is_file():
        stamp = root / _STAMP
        if stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest:
            return read_manifest(root)
        raise ConfigError(f"{root} already holds a corpus built with other settings; choose another folder "
                          "or delete it")
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} exists and is not an empty corpus folder; choose another folder")
    def build(tmp: Path) -> None:
        records: list[CorpusRecord] = []
        jobs: list[tuple[Path, str, str]] = []
        for row in rows:
            g = row["group"]
            for lang in langs:
                if "text" in modalities:
                    records.append(CorpusRecord(id=f"{g}-{lang}-text", group=g, lang=lang, modality="text",
                                                text=row[lang], split=row["split"]))
                if "speech" in modalities:
                    rel = Path("audio") / lang / f"{g}.wav"
                    jobs.append((tmp / rel, row[lang], lang))
                    records.append(CorpusRecord(id=f"{g}-{lang}-speech", group=g, lang=lang, modality="speech",
                                                text=row[lang], audio=rel, split=row["split"]))
        with progress_bar(progress, "synthesize", total=len(jobs)) as advance, \
                ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for _ in pool.map(lambda j: synthesize_to(*j), jobs):
                advance(1)
        write_manifest(tmp, records)

    # an empty folder at root is replaced by the finished corpus; the stamp is written last
    build_dir(root, build, marker=_STAMP, marker_text=json.dumps({"digest": digest, **key}))
    return read_manifest(root)
