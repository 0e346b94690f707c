"""The corpus manifest (DESIGN.md "Corpus"): a folder with ``manifest.jsonl``, one utterance per line.

Fields: ``id`` (unique), ``group`` (parallel sentence id), ``lang`` (ISO 639-3), ``modality``
(``speech`` or ``text``), ``text``, ``audio`` (path relative to the folder; required for speech),
optional ``split``. Every problem is reported with the file, the line and the field.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from babelscope.corpus.audio import check_audio as audio_ok
from babelscope.errors import AudioError, ManifestError
from babelscope.vocab.components import MODALITIES
from babelscope.vocab.languages import is_known_language, suggest_language

MANIFEST_NAME = "manifest.jsonl"
REQUIRED = ("id", "group", "lang", "modality", "text")
OPTIONAL = ("audio", "split", "duration", "speaker")


@dataclass(frozen=True)
class CorpusRecord:
    id: str
    group: str
    lang: str
    modality: str
    text: str
    audio: Path | None = None
    split: str | None = None
    line: int = 0

    def to_json(self, root: Path) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "group": self.group, "lang": self.lang,
                             "modality": self.modality, "text": self.text}
        if self.audio is not None:
            d["audio"] = str(self.audio.relative_to(root)) if self.audio.is_absolute() else str(self.audio)
        if self.split is not None:
            d["split"] = self.split
        return d


@dataclass
class Corpus:
    root: Path
    records: list[CorpusRecord]

    @property
    def languages(self) -> list[str]:
        return sorted({r.lang for r in self.records})

    def by_key(self) -> dict[tuple[str, str, str], CorpusRecord]:
        """``(group, lang, modality) -> record``."""
        return {(r.group, r.lang, r.modality): r for r in self.records}

    def __repr__(self) -> str:
        mods = sorted({r.modality for r in self.records})
        groups = len({r.group for r in self.records})
        return (f"Corpus({str(self.root)!r}, records={len(self.records)}, groups={groups}, "
                f"languages={self.languages}, modalities={mods})")


def _err(path: Path, line: int, field: str | None, msg: str) -> ManifestError:
    where = f"{path}, line {line}" + (f", field {field!r}" if field else "")
    return ManifestError(f"{where}: {msg}")


#: longest text of a field (a sentence or utterance transcript; a 200 MB line aborted the tokenizer)
MAX_TEXT_CHARS = 20_000


def check_text(path: Path, line: int, field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _err(path, line, field, f"must be a string, got {type(value).__name__}")
    if len(value) > MAX_TEXT_CHARS:
        raise _err(path, line, field, f"is {len(value):,} characters long; the limit is {MAX_TEXT_CHARS:,} "
                                      "(one sentence or utterance per record)")
    if not value.strip():
        raise _err(path, line, field, "is empty")
    # format characters (zero-width space and joiners, BOM, bidi marks) and separators are invisible
    if all(unicodedata.category(c) in ("Cf", "Zs", "Zl", "Zp") or c.isspace() for c in value):
        raise _err(path, line, field, "holds no visible character (only spaces or zero-width/format characters)")
    bad = [c for c in value if unicodedata.category(c) == "Cc" and c not in "\t"]
    if bad:
        raise _err(path, line, field, f"contains control character {bad[0]!r}")
    return value


def parse_record(obj: Any, *, path: Path, line: int, root: Path, check_audio: bool = True) -> CorpusRecord:
    """Validate one decoded JSON object of the manifest."""
    if not isinstance(obj, dict):
        raise _err(path, line, None, f"expected a JSON object, got {type(obj).__name__}")
    for f in REQUIRED:
        if f not in obj:
            raise _err(path, line, f, "missing")
    unknown = set(obj) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise _err(path, line, sorted(unknown)[0], f"unknown field (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    rid = check_text(path, line, "id", obj["id"])
    group = obj["group"]
    if isinstance(group, int) and not isinstance(group, bool):
        group = str(group)
    group = check_text(path, line, "group", group)
    lang = obj["lang"]
    if not isinstance(lang, str) or not is_known_language(lang):
        hint = suggest_language(lang) if isinstance(lang, str) else None
        raise _err(path, line, "lang", f"unknown language code {lang!r} (use ISO 639-3 as SeamlessM4T does, "
                   + (f"here {hint!r})" if hint else "e.g. 'eng', 'deu', 'cmn')"))
    modality = obj["modality"]
    if modality not in MODALITIES:
        raise _err(path, line, "modality", f"must be 'speech' or 'text', got {modality!r}")
    text = check_text(path, line, "text", obj["text"])
    audio = None
    if modality == "speech":
        rel = obj.get("audio")
        if not isinstance(rel, str) or not rel.strip():
            raise _err(path, line, "audio", "a speech record needs the path of its audio file")
        parts = Path(rel).parts
        if Path(rel).is_absolute() or ".." in parts or "\\" in rel:
            raise _err(path, line, "audio", f"must be a path inside the corpus folder, relative to it and without "
                                            f"'..', got {rel!r}")
        audio = (root / rel).resolve()
        if not audio.is_relative_to(root):  # a symbolic link (of the file or a folder) leads out of the corpus
            raise _err(path, line, "audio", f"{rel} is a symbolic link to {audio}, outside the corpus folder; "
                                            "copy the file into the corpus (corpus fleurs --link makes hard links)")
        if check_audio and not audio.is_file():
            raise _err(path, line, "audio", f"file not found: {audio}")
    elif obj.get("audio") is not None:
        raise _err(path, line, "audio", "a text record must not name an audio file")
    split = obj.get("split")
    if split is not None and not isinstance(split, str):
        raise _err(path, line, "split", "must be a string")
    return CorpusRecord(id=rid, group=group, lang=lang, modality=modality, text=text, audio=audio,
                        split=split, line=line)


def iter_json_lines(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line number, decoded object, problem)`` for every non-blank line of a JSON-lines file;
    ``problem`` says why a line is not valid JSON (the object is then None)."""
    with Path(path).open("rb") as fh:
        for lineno, data in enumerate(fh, start=1):
            try:
                raw = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield lineno, None, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at byte {exc.start + 1})"
                continue
            if not raw.strip():
                continue
            try:
                yield lineno, json.loads(raw), None
            except json.JSONDecodeError as exc:
                yield lineno, None, f"not valid JSON ({exc.msg} at column {exc.colno})"


def read_manifest(folder: str | Path, *, check_audio: bool = True) -> Corpus:
    """Read and validate ``folder/manifest.jsonl``; raises :class:`ManifestError` on the first problem.

    With ``check_audio`` (the default) every speech record's file must also be usable input
    (:func:`babelscope.corpus.audio.check_audio`: readable, not empty, mono, not silent, at most
    ``MAX_SECONDS`` long); a bad file raises :class:`AudioError` naming the manifest line and the
    file, before any stage has written anything.
    """
    root = Path(folder)
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"{path}: no manifest here (a corpus folder holds {MANIFEST_NAME})")
    records: list[CorpusRecord] = []
    seen: dict[str, int] = {}
    seen_keys: dict[tuple[str, str, str], int] = {}
    for lineno, obj, problem in iter_json_lines(path):
        if problem is not None:
            raise _err(path, lineno, None, problem)
        rec = parse_record(obj, path=path, line=lineno, root=root.resolve(), check_audio=check_audio)
        if rec.id in seen:
            raise _err(path, lineno, "id", f"duplicate id {rec.id!r} (first on line {seen[rec.id]})")
        seen[rec.id] = lineno
        key = (rec.group, rec.lang, rec.modality)
        if key in seen_keys:
            raise _err(path, lineno, "group", f"group {rec.group!r} already has a {rec.lang} {rec.modality} "
                       f"record (line {seen_keys[key]})")
        seen_keys[key] = lineno
        if check_audio and rec.audio is not None:
            try:
                audio_ok(rec.audio)
            except AudioError as exc:
                raise AudioError(f"{path}, line {lineno}, field 'audio': {exc}") from None
        records.append(rec)
    if not records:
        raise ManifestError(f"{path}: the manifest holds no records")
    return Corpus(root=root.resolve(), records=records)


def write_manifest(folder: str | Path, records: Iterable[CorpusRecord]) -> Path:
    """Write records as ``manifest.jsonl`` atomically."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    path = root / MANIFEST_NAME
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r.to_json(root.resolve()), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path
