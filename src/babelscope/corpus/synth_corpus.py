"""``babelscope corpus synth``: turn a text-only corpus into a speech + text corpus with espeak-ng.

The input is either a corpus folder whose ``manifest.jsonl`` holds text records, or a JSONL file of
parallel groups (one object per line: ``{"group": ..., "eng": ..., "deu": ..., "split": ...}``, as
``data/seed_sentences.jsonl``). The output folder holds every text record plus one speech record per
text: 16 kHz mono 16-bit WAV under ``audio/<lang>/``.

Variation is deterministic: with ``voices=N`` each utterance gets one of the first N espeak-ng voice
variants (:data:`VARIANTS`) and with ``rate_jitter=PCT`` a speaking rate within +-PCT % of
:data:`BASE_SPEED`, both drawn from a seeded hash of (group, language) — the same input and seed give
the same corpus. The output folder appears complete or not at all (it is built in a hidden temporary
folder beside it and renamed at the end).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import subprocess
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import soundfile as sf

from babelscope.atomic import staged_dir
from babelscope.corpus import synth as _synth
from babelscope.corpus.manifest import MANIFEST_NAME, Corpus, check_text, iter_json_lines, read_manifest
from babelscope.errors import AudioError, BabelscopeError, ConfigError, ManifestError
from babelscope.vocab.languages import VOICES, is_known_language
from babelscope.outputs import check_replaceable

RATE = 16000
BASE_SPEED = 160  # espeak-ng words per minute (its default is 175; synth.synthesize uses 160)
#: espeak-ng voice variants in the order ``voices=N`` takes them (None: the language's own voice)
VARIANTS: tuple[str | None, ...] = (None, "f2", "m3", "f3", "m1", "f1", "m2", "f4", "m4", "f5", "m5",
                                     "m6", "m7", "m8")
PROVENANCE_NAME = "synth.json"


@dataclass(frozen=True)
class SourceText:
    """One sentence to keep as text and to speak."""

    id: str
    group: str
    lang: str
    text: str
    split: str | None
    where: str  # "FILE, line N" of the input
    speech_id: str = ""


@dataclass(frozen=True)
class Utterance:
    src: SourceText
    audio: Path  # relative to the corpus folder
    variant: str | None
    speed: int


# ---------------------------------------------------------------------------------------------- input

def _group_value(path: Path, line: int, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return check_text(path, line, "group", value)


def read_group_jsonl(path: str | Path) -> list[SourceText]:
    """Parallel groups, one JSON object a line: ``group``, optional ``split``, one key per language."""
    p = Path(path)
    out: list[SourceText] = []
    seen: dict[str, int] = {}
    for lineno, obj, problem in iter_json_lines(p):
        if problem is not None:
            raise ManifestError(f"{p}, line {lineno}: {problem}")
        if not isinstance(obj, dict):
            raise ManifestError(f"{p}, line {lineno}: expected a JSON object, got {type(obj).__name__}")
        if {"lang", "modality", "text"} <= set(obj):
            raise ManifestError(f"{p}, line {lineno}: this is a corpus manifest, not a file of parallel "
                                f"groups; pass its folder ({p.parent}) instead")
        if "group" not in obj:
            raise ManifestError(f"{p}, line {lineno}, field 'group': missing")
        group = _group_value(p, lineno, obj["group"])
        if group in seen:
            raise ManifestError(f"{p}, line {lineno}, field 'group': duplicate group {group!r} "
                                f"(first on line {seen[group]})")
        seen[group] = lineno
        split = obj.get("split")
        if split is not None and not isinstance(split, str):
            raise ManifestError(f"{p}, line {lineno}, field 'split': must be a string")
        langs = [k for k in obj if k not in ("group", "split")]
        if not langs:
            raise ManifestError(f"{p}, line {lineno}: no language field (expected e.g. \"eng\": \"...\")")
        for lang in langs:
            if not is_known_language(lang):
                raise ManifestError(f"{p}, line {lineno}, field {lang!r}: not a known language code (fields "
                                    "are 'group', 'split' and ISO 639-3 codes such as 'eng', 'deu', 'cmn')")
            text = check_text(p, lineno, lang, obj[lang])
            out.append(SourceText(id=f"{group}-{lang}-text", group=group, lang=lang, text=text, split=split,
                                  where=f"{p}, line {lineno}"))
    if not out:
        raise ManifestError(f"{p}: no sentences in this file")
    return out


def read_text_source(src: str | Path) -> list[SourceText]:
    """The sentences of ``src``: a text-only corpus folder or a JSONL file of parallel groups."""
    p = Path(src)
    if p.is_dir():
        corpus = read_manifest(p, check_audio=False)
        speech = [r for r in corpus.records if r.modality == "speech"]
        if speech:
            raise ConfigError(f"{p / MANIFEST_NAME} already holds {len(speech)} speech records (first on line "
                              f"{speech[0].line}); `corpus synth` expects a text-only corpus")
        return [SourceText(id=r.id, group=r.group, lang=r.lang, text=r.text, split=r.split,
                           where=f"{p / MANIFEST_NAME}, line {r.line}") for r in corpus.records]
    if p.is_file():
        return read_group_jsonl(p)
    raise ConfigError(f"{p}: no such corpus folder or JSONL file")


# ------------------------------------------------------------------------------------------- planning

def _unit(seed: int, *parts: str) -> float:
    """A deterministic number in [0, 1) from a seeded hash."""
    h = hashlib.sha256("\x1f".join((str(seed),) + parts).encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


def _safe_name(group: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", group).strip(".") or "group"
    if safe != group:  # keep distinct groups distinct after cleaning
        safe = f"{safe[:80]}-{hashlib.sha1(group.encode('utf-8')).hexdigest()[:8]}"
    return safe


def plan_utterances(texts: list[SourceText], *, voices: int = 1, rate_jitter: float = 0.0,
                    seed: int = 0) -> list[Utterance]:
    """Choose file, voice variant and speed of each sentence (deterministic)."""
    if not 1 <= voices <= len(VARIANTS):
        raise ConfigError(f"voices must be between 1 and {len(VARIANTS)}, got {voices}")
    if not 0 <= rate_jitter < 100:
        raise ConfigError(f"rate_jitter is a percentage in [0, 100), got {rate_jitter}")
    ids = {t.id for t in texts}
    out = []
    for t in texts:
        variant = VARIANTS[int(_unit(seed, "voice", t.group, t.lang) * voices)]
        u = 2.0 * _unit(seed, "rate", t.group, t.lang) - 1.0
        speed = max(80, int(round(BASE_SPEED * (1.0 + rate_jitter / 100.0 * u))))
        sid = t.id[: -len("-text")] + "-speech" if t.id.endswith("-text") else f"{t.id}-speech"
        base, k = sid, 2
        while sid in ids:
            sid, k = f"{base}{k}", k + 1
        ids.add(sid)
        audio = Path("audio") / t.lang / f"{_safe_name(t.group)}.wav"
        out.append(Utterance(src=replace(t, speech_id=sid), audio=audio, variant=variant, speed=speed))
    return out


# -------------------------------------------------------------------------------- atomic output folder

@contextlib.contextmanager
def atomic_folder(out: str | Path, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``out``; on success it becomes ``out``, on failure it is
    deleted and ``out`` is left as it was (absent, empty, or — with ``overwrite`` — the old corpus)."""
    root = Path(out)
    if root.exists():
        if not root.is_dir():
            raise ConfigError(f"{root} exists and is not a folder")
        if any(root.iterdir()) and not overwrite:
            raise ConfigError(f"{root} exists and is not empty; choose another folder or pass --overwrite")
        # --overwrite replaces a corpus babelscope built, never a folder of other files
        check_replaceable(root, "corpus", hint="--overwrite replaces only a corpus built by babelscope; "
                                                "choose another folder")
    with staged_dir(root) as tmp:
        yield tmp


def write_records(folder: Path, records: list[dict[str, Any]]) -> Path:
    """Write manifest dicts (may carry the optional ``duration`` / ``speaker`` fields) as JSONL."""
    path = folder / MANIFEST_NAME
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    return path


def espeak_version() -> str:
    try:
        proc = subprocess.run([_synth.espeak_binary(), "--version"], capture_output=True, timeout=30)
        return proc.stdout.decode(errors="replace").strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# ---------------------------------------------------------------------------------------- synthesis

def run_parallel(fn: Callable[[Any], Any], jobs: Sequence[Any], *, workers: int,
                 advance: Callable[[int], None] = lambda n: None) -> list[Any]:
    """``[fn(job) for job in jobs]`` on a thread pool. On the first failure the jobs not yet started
    are cancelled and the error of the earliest failed job (in input order) is raised."""
    results: list[Any] = [None] * len(jobs)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(fn, job): i for i, job in enumerate(jobs)}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            failed = [f for f in done if f.exception() is not None]
            if failed:
                for f in pending:
                    f.cancel()
                raise min(failed, key=lambda f: futures[f]).exception()
            for f in done:
                results[futures[f]] = f.result()
            advance(len(done))
    return results


def _speak(tmp: Path, u: Utterance, allow_fallback: bool = False) -> tuple[float, Any]:
    try:
        wav, fallback = _synth.synthesize_checked(u.src.text, u.src.lang, rate=RATE, speed=u.speed,
                                                  voice_variant=u.variant, allow_fallback=allow_fallback)
        wav = np.clip(np.asarray(wav, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if wav.size == 0:
            raise AudioError("espeak-ng produced no audio")
        path = tmp / u.audio
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(str(path), wav, RATE, subtype="PCM_16")
    except Exception as exc:
        s = u.src
        voice = VOICES.get(s.lang, "?") + (f"+{u.variant}" if u.variant else "")
        msg = (f"{s.where}: speech synthesis failed for group {s.group!r}, language {s.lang} "
               f"(voice {voice}, text {s.text[:60]!r}): {exc}")
        raise (ConfigError if isinstance(exc, ConfigError) else AudioError)(msg) from exc
    return wav.size / RATE, fallback


def synthesize_corpus(src: str | Path, out: str | Path, *, voices: int = 1, rate_jitter: float = 0.0,
                      workers: int = 4, progress: bool = True, seed: int = 0, overwrite: bool = False,
                      allow_fallback: bool = False) -> Corpus:
    """Write ``out``: every text sentence of ``src`` as a text record plus an espeak-ng speech record.

    ``src`` is a text-only corpus folder or a JSONL file of parallel groups. Raises an error naming
    the group, language and input line of a sentence that cannot be spoken — also one that espeak-ng
    would read partly with another language's rules (babelscope.corpus.speakable), unless
    ``allow_fallback``: such utterances are then kept and counted per language in ``synth.json``
    (``fallbacks``), which ``corpus validate`` reports. ``out`` is untouched on an error.
    """
    texts = read_text_source(src)
    missing = sorted({t.lang for t in texts} - set(VOICES))
    if missing:
        first = next(t for t in texts if t.lang == missing[0])
        raise ConfigError(f"no espeak-ng voice for language(s) {', '.join(missing)} (first at {first.where}); "
                          f"voices exist for {', '.join(sorted(VOICES))}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")
    _synth.espeak_binary()  # fail early and clearly when espeak-ng is absent
    plan = plan_utterances(texts, voices=voices, rate_jitter=rate_jitter, seed=seed)
    from babelscope.progress import progress_bar

    with atomic_folder(out, overwrite=overwrite) as tmp:
        with progress_bar(progress, "synthesize", total=len(plan)) as advance:
            spoken = run_parallel(lambda u: _speak(tmp, u, allow_fallback), plan, workers=workers, advance=advance)
        durations = [d for d, _ in spoken]
        fallbacks: dict[str, list[str]] = {}
        for u, (_, fb) in zip(plan, spoken):
            if fb is not None:
                fallbacks.setdefault(u.src.lang, []).append(u.src.speech_id)
        records: list[dict[str, Any]] = []
        for i, u in enumerate(plan):  # each text record, then its speech record
            s = u.src
            split = {"split": s.split} if s.split is not None else {}
            records.append({"id": s.id, "group": s.group, "lang": s.lang, "modality": "text", "text": s.text,
                            **split})
            speaker = f"espeak-{VOICES[s.lang]}" + (f"+{u.variant}" if u.variant else "")
            records.append({"id": s.speech_id, "group": s.group, "lang": s.lang, "modality": "speech",
                            "text": s.text, "audio": u.audio.as_posix(), **split,
                            "duration": round(durations[i], 4), "speaker": speaker})
        write_records(tmp, records)
        from babelscope.version import __version__ as version

        (tmp / PROVENANCE_NAME).write_text(json.dumps({
            "source": str(Path(src).resolve()), "voices": voices, "rate_jitter": rate_jitter, "seed": seed,
            "base_speed": BASE_SPEED, "rate": RATE, "espeak": espeak_version(), "babelscope": version,
            "texts": len(texts), "utterances": len(plan), "allow_fallback": allow_fallback,
            "fallbacks": {lang: ids for lang, ids in sorted(fallbacks.items())}}, indent=2) + "\n")
        try:
            read_manifest(tmp)  # never publish a corpus the reader rejects
        except BabelscopeError as exc:
            raise ManifestError(f"the synthesized manifest does not validate: {exc}") from exc
    return read_manifest(out)
