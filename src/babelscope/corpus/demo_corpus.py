"""The built-in demo corpus: the project's own parallel sentences, as text and synthesized speech."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from babelscope.corpus.manifest import MANIFEST_NAME, CorpusRecord, read_manifest, write_manifest
from babelscope.corpus.synth import synthesize_to

DEMO_LANGS = ("eng", "deu", "spa", "fra", "jpn", "cmn")


def seed_rows() -> list[dict]:
    data = resources.files("babelscope.corpus").joinpath("data/seed_sentences.jsonl").read_text("utf-8")
    return [json.loads(l) for l in data.splitlines() if l.strip()]


def build_demo_corpus(folder: str | Path, *, langs=DEMO_LANGS, max_groups: int | None = None,
                      progress: bool = True):
    """Write text + espeak-ng speech for the seed sentences into ``folder`` (reused if complete)."""
    from babelscope.progress import progress_bar

    root = Path(folder)
    if (root / MANIFEST_NAME).is_file():
        return read_manifest(root)
    rows = seed_rows()[:max_groups]
    records: list[CorpusRecord] = []
    with progress_bar(progress, "synthesize", total=len(rows) * len(langs)) as advance:
        for row in rows:
            g = row["group"]
            for lang in langs:
                records.append(CorpusRecord(id=f"{g}-{lang}-text", group=g, lang=lang, modality="text",
                                            text=row[lang]))
                rel = Path("audio") / lang / f"{g}.wav"
                synthesize_to(root / rel, row[lang], lang)
                records.append(CorpusRecord(id=f"{g}-{lang}-speech", group=g, lang=lang, modality="speech",
                                            text=row[lang], audio=rel))
                advance(1)
    write_manifest(root, records)
    return read_manifest(root)
