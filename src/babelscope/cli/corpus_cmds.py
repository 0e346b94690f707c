"""``babelscope corpus synth|fleurs|validate``: build and check corpora."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()
err = Console(stderr=True)
corpus_app = typer.Typer(name="corpus", no_args_is_help=True, add_completion=False,
                         help="Build and check corpora: synthesize speech, import FLEURS, validate.")


def _duration(seconds: float) -> str:
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    if seconds >= 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds:.1f} s"


def print_corpus_summary(corpus, title: str) -> None:
    """Records per language and modality, with groups and splits."""
    t = Table("lang", "modality", "records", "groups", "splits", title=title)
    keys = sorted({(r.lang, r.modality) for r in corpus.records})
    for lang, mod in keys:
        recs = [r for r in corpus.records if r.lang == lang and r.modality == mod]
        splits = sorted({r.split or "-" for r in recs})
        t.add_row(lang, mod, str(len(recs)), str(len({r.group for r in recs})), ", ".join(splits))
    console.print(t)


@corpus_app.command("synth")
def synth_cmd(
    src: Path = typer.Argument(..., help="Text-only corpus folder (manifest.jsonl) or a JSONL of parallel groups "
                                         "({\"group\": ..., \"eng\": ..., \"deu\": ...} per line)."),
    out: Path = typer.Argument(..., help="Output corpus folder (must not exist, or be empty)."),
    voices: int = typer.Option(1, help="Number of espeak-ng voice variants to draw from (1: each language's "
                                       "default voice)."),
    rate_jitter: float = typer.Option(0.0, "--rate-jitter", help="Vary the speaking rate by up to +-PCT percent."),
    seed: int = typer.Option(0, help="Seed of the per-utterance voice and rate choice."),
    workers: int = typer.Option(4, help="Parallel espeak-ng processes."),
    overwrite: bool = typer.Option(False, help="Replace an existing corpus at OUT (once the new one is complete)."),
    allow_fallback: bool = typer.Option(False, "--allow-fallback", help="Keep utterances espeak-ng reads partly "
                                        "with another language's rules (counted in synth.json) instead of stopping."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Synthesize speech (espeak-ng, 16 kHz mono) for every text of SRC into a speech + text corpus OUT.

    Example: babelscope corpus synth sentences.jsonl corpus/ --voices 4 --rate-jitter 10
    """
    from babelscope.corpus.synth_corpus import synthesize_corpus

    corpus = synthesize_corpus(src, out, voices=voices, rate_jitter=rate_jitter, seed=seed, workers=workers,
                               progress=progress, overwrite=overwrite, allow_fallback=allow_fallback)
    print_corpus_summary(corpus, str(out))
    fallbacks = json.loads((Path(out) / "synth.json").read_text(encoding="utf-8")).get("fallbacks", {})
    if fallbacks:
        err.print("kept with --allow-fallback, read partly in another language: "
                  + ", ".join(f"{lang} {len(ids)}" for lang, ids in fallbacks.items()), highlight=False)
    console.print(str(Path(out).resolve()))


@corpus_app.command("fleurs")
def fleurs_cmd(
    langs: str = typer.Option(..., "--langs", help="Comma-separated ISO 639-3 codes (eng,deu,...); "
                                                   "'iso=fleurs_code' names the FLEURS configuration."),
    out: Path = typer.Option(..., "--out", "-o", help="Output corpus folder (must not exist, or be empty)."),
    root: Optional[Path] = typer.Option(None, "--root", help="FLEURS copy: ROOT/<code>/<split>.tsv + "
                                        "ROOT/<code>/audio/<split>/, or datasets.save_to_disk folders ROOT/<code>."),
    hub: bool = typer.Option(False, "--hub", help="Load google/fleurs with `datasets` (online or from its cache) "
                                                  "for languages not found under --root."),
    split: str = typer.Option("test", help="train, dev (validation) or test."),
    max_per_lang: Optional[int] = typer.Option(None, "--max-per-lang",
                                               help="Keep the first N sentences (by FLEURS id)."),
    parallel_only: bool = typer.Option(True, "--parallel-only/--no-parallel-only",
                                       help="Keep only sentences present in every language."),
    link: bool = typer.Option(False, "--link", help="Hard-link 16 kHz mono audio instead of copying it (copied across file systems)."),
    workers: int = typer.Option(4, help="Parallel audio copies / conversions."),
    overwrite: bool = typer.Option(False, help="Replace an existing corpus at OUT (once the new one is complete)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Build a corpus (text + speech, group = FLEURS id) from a FLEURS copy on disk or the hub.

    Example: babelscope corpus fleurs --root /data/fleurs --langs eng,deu,spa --split test --out fleurs-test
    """
    from babelscope.corpus.fleurs import build_fleurs_corpus

    res = build_fleurs_corpus(out, langs=langs, root=root, hub=hub, split=split, parallel_only=parallel_only,
                              max_per_lang=max_per_lang, link=link, workers=workers, progress=progress,
                              overwrite=overwrite)
    t = Table("lang", "fleurs", "source", "recordings", "sentences", "not in all", "kept", "copied",
              "linked", "converted", "audio", title=str(out))
    for row in res.stats.to_dict("records"):
        t.add_row(row["lang"], row["fleurs"], row["source"], str(row["recordings"]), str(row["sentences"]),
                  str(row["not_in_all_langs"]), str(row["kept"]), str(row["copied"]), str(row["linked"]),
                  str(row["converted"]), _duration(row["hours"] * 3600))
    Console(width=max(console.width, 130)).print(t)
    console.print(f"{len({r.group for r in res.corpus.records})} groups, {len(res.corpus.records)} records "
                  "(one recording per sentence and language: the first in file order)")
    console.print(str(Path(out).resolve()))


@corpus_app.command("validate")
def validate_cmd(
    folder: Path = typer.Argument(..., help="Corpus folder holding manifest.jsonl."),
    min_seconds: float = typer.Option(0.2, "--min-seconds", help="Warn about speech shorter than this."),
    max_seconds: float = typer.Option(60.0, "--max-seconds", help="Warn about speech longer than this."),
    strict: bool = typer.Option(False, help="Count warnings as errors."),
    show: int = typer.Option(10, help="List at most this many problems of each severity."),
    workers: int = typer.Option(4, help="Parallel audio readers."),
    check_speech: bool = typer.Option(False, "--check-speech", help="Ask espeak-ng again whether it reads each of "
                                      "its records in the record's language (fallbacks are warnings)."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Check every record and audio file; print a summary per language and modality.

    Exit status 2 on errors: malformed records, or missing, unreadable, empty, stereo or silent audio.

    Warnings (exit status 0): durations out of bounds, duplicate texts, incomplete groups, speech that
    espeak-ng read partly in another language (fallback). Notes: not 16 kHz.

    Example: babelscope corpus validate corpus/ --max-seconds 30
    """
    from babelscope.corpus.validate import validate_corpus

    rep = validate_corpus(folder, min_seconds=min_seconds, max_seconds=max_seconds, strict=strict,
                          workers=workers, progress=progress, check_speech=check_speech)
    t = Table("lang", "modality", "records", "audio", "mean", "errors", "warnings", "not 16k", "fallback", "incomplete",
              title=f"{rep.root}", caption="incomplete: groups that lack this language and modality")
    for row in rep.table.to_dict("records"):
        speech = row["modality"] == "speech"
        t.add_row(row["lang"], row["modality"], str(row["records"]), _duration(row["seconds"]) if speech else "-",
                  _duration(row["mean_seconds"]) if speech else "-",
                  f"[red]{row['errors']}[/]" if row["errors"] else "0",
                  f"[yellow]{row['warnings']}[/]" if row["warnings"] else "0",
                  str(row["not_16k"]), f"[yellow]{row['fallbacks']}[/]" if row["fallbacks"] else "0",
                  str(row["groups_missing"]))
    tab = rep.table
    t.add_section()
    t.add_row("all", "", str(int(tab["records"].sum())), _duration(float(tab["seconds"].sum(skipna=True)) or math.nan),
              "", str(len(rep.errors)), str(len(rep.warnings)), str(len(rep.notes)), "")
    Console(width=max(console.width, 110)).print(t)
    for label, items, style in (("note", rep.notes, "cyan"), ("warning", rep.warnings, "yellow")):
        if not items:
            continue
        console.print(f"[{style}]{len(items)} {label}{'s' if len(items) != 1 else ''}[/]"
                      + (f" (first {show})" if len(items) > show else "") + ":")
        for p in items[:show]:
            console.print(f"  - {p}", highlight=False, soft_wrap=True)
    rep.raise_for_errors(show=show)
    console.print(f"[green]ok[/]: {rep.n_records} records, no errors")


def register(app: typer.Typer) -> None:
    app.add_typer(corpus_app, name="corpus")
