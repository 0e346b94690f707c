"""``babelscope corpus validate``: check a corpus folder record by record and summarize it.

Errors (the corpus is unusable as it is): a malformed record (field, language code, modality, duplicate
id or (group, language, modality)), an audio file that is missing, unreadable, empty, stereo, silent
(peak below ``silence_peak``) or holds NaN/inf samples.
Warnings (usable, but look): a duration outside ``[min_seconds, max_seconds]``, a ``duration`` field
that disagrees with the file, the same text in several groups of one language, groups missing a
language or modality that other groups have.
Notes: audio not at 16 kHz (resampled on load; costs time on every read).
Fallbacks (warnings): speech that espeak-ng read partly with another language's rules
(babelscope.corpus.speakable) — the utterances ``corpus synth --allow-fallback`` kept (listed in
its ``synth.json``), and with ``check_speech`` every espeak-ng record (``speaker`` ``espeak-...``)
checked again from its text.

Every problem names the manifest line (and the audio file) it is about.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from babelscope.corpus.audio import MAX_SECONDS, MIN_SECONDS, wav_shortfall
from babelscope.corpus.manifest import MANIFEST_NAME, CorpusRecord, iter_json_lines, parse_record
from babelscope.errors import AudioError, ConfigError, ManifestError

RATE = 16000
#: kinds of problems that are about an audio file (the rest are about the records themselves)
_AUDIO_KINDS = {"missing", "unreadable", "empty", "stereo", "silent", "nonfinite", "duration", "rate"}


@dataclass(frozen=True)
class Problem:
    severity: str  # "error", "warning" or "note"
    #: manifest, missing, unreadable, empty, stereo, silent, nonfinite, duration, rate, duplicate-text,
    #: incomplete-group, fallback, provenance
    kind: str
    message: str  # names the file and line
    line: int | None = None
    lang: str | None = None
    modality: str | None = None

    def __str__(self) -> str:
        return self.message


@dataclass
class ValidationReport:
    root: Path
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    notes: list[Problem] = field(default_factory=list)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)
    n_records: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    def raise_for_errors(self, show: int = 5) -> None:
        """Raise :class:`AudioError` (every error is about an audio file) or :class:`ManifestError`
        (a record is malformed, or with ``strict`` a group is incomplete or a text repeated) listing the
        first ``show`` errors; do nothing when there are none."""
        if not self.errors:
            return
        n = len(self.errors)
        lines = "\n".join(f"  - {p}" for p in self.errors[:show])
        more = f"\n  ... and {n - show} more" if n > show else ""
        msg = f"{self.root}: {n} error{'s' if n != 1 else ''} in {self.n_records} records:\n{lines}{more}"
        if all(p.kind in _AUDIO_KINDS for p in self.errors):
            raise AudioError(msg)
        raise ManifestError(msg)  # a malformed record, or (strict) a duplicate text or an incomplete group


@dataclass
class _AudioFacts:
    seconds: float | None = None
    rate: int | None = None
    problems: list[Problem] = field(default_factory=list)


def _rel(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _check_audio(rec: CorpusRecord, where: str, declared: Any, *, min_seconds: float, max_seconds: float,
                 silence_peak: float) -> _AudioFacts:
    facts = _AudioFacts()

    def add(sev: str, kind: str, msg: str) -> None:
        facts.problems.append(Problem(sev, kind, f"{where}: {msg}", rec.line, rec.lang, rec.modality))

    path = rec.audio
    assert path is not None
    if not path.is_file():
        add("error", "missing", "audio file not found")
        return facts
    try:
        info = sf.info(str(path))
    except Exception as exc:
        add("error", "unreadable", f"cannot read audio ({str(exc).strip() or type(exc).__name__})")
        return facts
    facts.rate = int(info.samplerate)
    if info.frames <= 0:
        add("error", "empty", "audio file is empty (no samples)")
        return facts
    facts.seconds = info.frames / info.samplerate
    cut = wav_shortfall(path)
    if cut is not None:
        add("error", "truncated", f"truncated WAV file: its header declares {cut[0]:,} bytes of samples, the file "
                                  f"holds {cut[1]:,}")
    if info.channels != 1:
        add("error", "stereo", ("stereo" if info.channels == 2 else f"{info.channels}-channel")
            + " audio; speech must be mono (downmix it)")
    if info.samplerate != RATE:
        add("note", "rate", f"{info.samplerate} Hz, not {RATE} Hz (resampled on every load)")
    if facts.seconds < MIN_SECONDS:  # the hard limits of read_manifest/record: errors here too
        add("error", "duration", f"{facts.seconds:.3f} s, shorter than {MIN_SECONDS:g} s: recording refuses it")
    elif facts.seconds > MAX_SECONDS:
        add("error", "duration", f"{facts.seconds:.1f} s, longer than {MAX_SECONDS:g} s: recording refuses it")
    elif facts.seconds < min_seconds:
        add("warning", "duration", f"{facts.seconds:.3f} s, shorter than {min_seconds:g} s")
    elif facts.seconds > max_seconds:
        add("warning", "duration", f"{facts.seconds:.1f} s, longer than {max_seconds:g} s")
    if isinstance(declared, (int, float)) and not isinstance(declared, bool) and abs(declared - facts.seconds) > 0.05:
        add("warning", "duration", f"the manifest says duration {declared:g} s, the file lasts {facts.seconds:.3f} s")
    if info.channels == 1:
        try:
            data, _ = sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            add("error", "unreadable", f"cannot decode audio ({str(exc).strip() or type(exc).__name__})")
            return facts
        if not np.isfinite(data).all():
            add("error", "nonfinite", "audio holds NaN or infinite samples")
        else:
            peak = float(np.abs(data).max())
            if peak < silence_peak:
                add("error", "silent", f"silent audio (peak {peak:.1e} < {silence_peak:g})")
    return facts


def _norm_text(text: str) -> str:
    return " ".join(text.casefold().split())


def _fallbacks(folder: Path, path: Path, records: list[CorpusRecord], speakers: dict[int, Any],
               check_speech: bool, workers: int) -> list[Problem]:
    """Speech records espeak-ng read partly in another language (see the module docs)."""
    import json

    listed: set[str] = set()
    prov = folder / "synth.json"
    if prov.is_file():
        try:
            listed = {i for ids in json.loads(prov.read_text(encoding="utf-8")).get("fallbacks", {}).values()
                      for i in ids}
        except (ValueError, AttributeError, TypeError) as exc:
            return [Problem("warning", "provenance", f"{prov}: cannot be read ({exc})")]
    found: dict[int, str] = {}
    speech = [r for r in records if r.modality == "speech"]
    for r in speech:
        if r.id in listed:
            found[r.line] = "kept by corpus synth --allow-fallback"
    if check_speech:
        from concurrent.futures import ThreadPoolExecutor

        from babelscope.corpus.speakable import check_speakable
        from babelscope.corpus.synth import espeak_binary
        from babelscope.vocab.languages import VOICES

        todo = [r for r in speech if str(speakers.get(r.line) or "").startswith("espeak-") and r.lang in VOICES]
        if todo:
            exe = espeak_binary()
            with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
                for r, (_, fb) in zip(todo, pool.map(lambda r: check_speakable(r.text, r.lang, VOICES[r.lang], exe),
                                                     todo)):
                    if fb is not None:
                        found[r.line] = fb.describe()
    return [Problem("warning", "fallback", f"{path}, line {line}: speech read partly in another language "
                    f"({why})", line, rec.lang, "speech")
            for rec in speech for line, why in [(rec.line, found.get(rec.line))] if why]


def validate_corpus(folder: str | Path, *, min_seconds: float = 0.2, max_seconds: float = 60.0,
                    silence_peak: float = 1e-4, strict: bool = False, workers: int = 4,
                    progress: bool = False, check_speech: bool = False) -> ValidationReport:
    """Check every record of ``folder/manifest.jsonl`` and every audio file it names.

    Returns a :class:`ValidationReport`; ``report.raise_for_errors()`` turns errors into an exception.
    With ``strict``, warnings count as errors. ``check_speech`` runs espeak-ng's language check
    again on every record it synthesized (about 20 ms a record). Raises :class:`ManifestError` only when there is no
    manifest at all.
    """
    from concurrent.futures import ThreadPoolExecutor

    from babelscope.progress import progress_bar

    root = Path(folder).resolve()
    path = Path(folder) / MANIFEST_NAME  # as the user named it, in messages
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest here (a corpus folder holds {MANIFEST_NAME})")
    if min_seconds < 0 or max_seconds <= min_seconds:
        raise ConfigError(f"duration bounds: need 0 <= min_seconds < max_seconds, got {min_seconds}, {max_seconds}")
    problems: list[Problem] = []
    records: list[CorpusRecord] = []
    declared: dict[int, Any] = {}
    speakers: dict[int, Any] = {}
    seen_ids: dict[str, int] = {}
    seen_keys: dict[tuple[str, str, str], int] = {}
    for lineno, obj, bad_json in iter_json_lines(path):
        if bad_json is not None:
            problems.append(Problem("error", "manifest", f"{path}, line {lineno}: {bad_json}", lineno))
            continue
        try:
            rec = parse_record(obj, path=path, line=lineno, root=root, check_audio=False)
        except ManifestError as exc:
            d = obj if isinstance(obj, dict) else {}
            lang, mod = d.get("lang"), d.get("modality")
            problems.append(Problem("error", "manifest", str(exc), lineno, lang if isinstance(lang, str) else None,
                                    mod if isinstance(mod, str) else None))
            continue
        if rec.id in seen_ids:
            problems.append(Problem("error", "manifest", f"{path}, line {lineno}, field 'id': duplicate id "
                                    f"{rec.id!r} (first on line {seen_ids[rec.id]})", lineno, rec.lang,
                                    rec.modality))
            continue
        key = (rec.group, rec.lang, rec.modality)
        if key in seen_keys:
            problems.append(Problem("error", "manifest", f"{path}, line {lineno}, field 'group': group "
                                    f"{rec.group!r} already has a {rec.lang} {rec.modality} record (line "
                                    f"{seen_keys[key]})", lineno, rec.lang, rec.modality))
            continue
        seen_ids[rec.id] = lineno
        seen_keys[key] = lineno
        records.append(rec)
        declared[lineno] = obj.get("duration")
        speakers[lineno] = obj.get("speaker")
    if not records and not problems:
        problems.append(Problem("error", "manifest", f"{path}: the manifest holds no records"))

    # audio
    speech = [r for r in records if r.modality == "speech"]

    def check(rec: CorpusRecord) -> _AudioFacts:
        where = f"{path}, line {rec.line} ({_rel(rec.audio, root)})"
        return _check_audio(rec, where, declared.get(rec.line), min_seconds=min_seconds, max_seconds=max_seconds,
                            silence_peak=silence_peak)

    with progress_bar(progress and len(speech) > 0, "validate audio", total=len(speech)) as advance, \
            ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        facts: dict[int, _AudioFacts] = {}
        for rec, f in zip(speech, pool.map(check, speech)):
            facts[rec.line] = f
            problems.extend(f.problems)
            advance(1)

    problems.extend(_fallbacks(root, path, records, speakers, check_speech, workers))

    # the same text in several groups of one language
    by_text: dict[tuple[str, str], dict[str, CorpusRecord]] = defaultdict(dict)
    for r in records:
        by_text[(r.lang, _norm_text(r.text))].setdefault(r.group, r)
    for (lang, _), groups in by_text.items():
        if len(groups) > 1:
            recs = sorted(groups.values(), key=lambda r: r.line)
            listed = ", ".join(f"{r.group!r} (line {r.line})" for r in recs[:6]) + (" ..." if len(recs) > 6 else "")
            problems.append(Problem("warning", "duplicate-text", f"{path}, line {recs[1].line}: {lang} text "
                                    f"{recs[0].text[:50]!r} appears in {len(recs)} groups: {listed}",
                                    recs[1].line, lang, recs[1].modality))

    # groups missing a language or modality
    langs = sorted({r.lang for r in records})
    modalities = sorted({r.modality for r in records})
    present: dict[str, dict[tuple[str, str], int]] = defaultdict(dict)
    for r in records:
        present[r.group][(r.lang, r.modality)] = r.line
    missing_count: dict[tuple[str, str], int] = defaultdict(int)
    for group, have in present.items():
        missing = [(l, m) for l in langs for m in modalities if (l, m) not in have]
        if missing:
            for lm in missing:
                missing_count[lm] += 1
            first = min(have.values())
            problems.append(Problem("warning", "incomplete-group", f"{path}, line {first}: group {group!r} has no "
                                    + ", ".join(f"{l} {m}" for l, m in missing), first))

    if strict:
        problems = [Problem("error", p.kind, p.message, p.line, p.lang, p.modality) if p.severity == "warning"
                    else p for p in problems]
    problems.sort(key=lambda p: (p.line if p.line is not None else math.inf))

    # summary table per language and modality
    rows = []
    for (lang, mod) in sorted({(r.lang, r.modality) for r in records}
                              | {(p.lang, p.modality) for p in problems if p.lang and p.modality}):
        recs = [r for r in records if r.lang == lang and r.modality == mod]
        secs = [facts[r.line].seconds for r in recs if r.line in facts and facts[r.line].seconds is not None]
        mine = [p for p in problems if p.lang == lang and p.modality == mod]
        total = float(sum(secs)) if secs else math.nan
        rows.append({"lang": lang, "modality": mod, "records": len(recs), "seconds": total,
                     "hours": total / 3600, "minutes": total / 60,
                     "mean_seconds": float(np.mean(secs)) if secs else math.nan,
                     "errors": sum(p.severity == "error" for p in mine),
                     "warnings": sum(p.severity == "warning" for p in mine),
                     "not_16k": sum(p.kind == "rate" for p in mine),
                     "fallbacks": sum(p.kind == "fallback" for p in mine),
                     "groups_missing": missing_count.get((lang, mod), 0)})
    table = pd.DataFrame(rows, columns=["lang", "modality", "records", "seconds", "hours", "minutes",
                                        "mean_seconds", "errors", "warnings", "not_16k", "fallbacks",
                                        "groups_missing"])
    return ValidationReport(root=Path(folder), errors=[p for p in problems if p.severity == "error"],
                            warnings=[p for p in problems if p.severity == "warning"],
                            notes=[p for p in problems if p.severity == "note"], table=table,
                            n_records=len(records))
