"""``babelscope corpus fleurs``: a corpus (manifest + 16 kHz audio) from FLEURS.

Three sources, tried in this order for every language (layouts: docs/corpus.md): the original
FLEURS layout on disk (``ROOT/<code>/{train,dev,test}.tsv`` and ``audio/``), the Hugging Face
``google/fleurs`` dataset saved with ``save_to_disk`` under ``ROOT/<code>``, and with ``hub=True``
``datasets.load_dataset`` (online, or from the Hugging Face cache).

The last two need the optional ``datasets`` package. ``<code>`` is the FLEURS configuration name (``en_us``, ``de_de``, ...; :data:`babelscope.vocab.languages.FLEURS_CODES` maps ISO 639-3 to it, ``--langs iso=code`` overrides).

FLEURS ``id`` s tie translations together (the same id is the same FLoRes sentence in every language),
so the group of a sentence is ``fleurs-<id>``. FLEURS holds several recordings of many sentences; a
corpus holds one speech record per (group, language), so the first recording in file order is kept.
Text records hold the raw transcription. Audio at 16 kHz mono is copied (hard-linked with ``link=True``
on one file system); anything else is converted to 16 kHz mono 16-bit WAV.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import soundfile as sf
import soxr

from babelscope.corpus.audio import read_audio
from babelscope.corpus.manifest import Corpus, read_manifest
from babelscope.corpus.synth_corpus import atomic_folder, run_parallel, write_records
from babelscope.errors import AudioError, BabelscopeError, ConfigError, ManifestError
from babelscope.vocab.languages import FLEURS_CODES, is_known_language

RATE = 16000
HUB_ID = "google/fleurs"
PROVENANCE_NAME = "fleurs.json"

#: split name -> (TSV file stem of the original layout, Hugging Face split name)
SPLITS = {"train": ("train", "train"), "dev": ("dev", "validation"), "validation": ("dev", "validation"),
          "test": ("test", "test")}
_HF_GENDERS = ("male", "female", "other")


@dataclass
class FleursItem:
    """One FLEURS recording with its transcription."""

    fid: str
    lang: str
    text: str
    where: str  # "FILE, line N" or "google/fleurs de_de test, row N"
    name: str  # audio file name in the output (before conversion)
    source: Path | None = None  # audio file on disk (original layout)
    dataset: Any = None  # datasets.Dataset (Hugging Face layouts)
    row: int | None = None


@dataclass
class FleursResult:
    corpus: Corpus
    stats: pd.DataFrame = field(default_factory=pd.DataFrame)


# ------------------------------------------------------------------------------------------ languages

def parse_langs(langs: str | Sequence[str]) -> list[tuple[str, str]]:
    """``"eng,deu"`` or ``["eng", "arb=ar_eg"]`` -> ``[(iso, fleurs_code), ...]``."""
    items = [s.strip() for s in (langs.split(",") if isinstance(langs, str) else langs) if s and s.strip()]
    if not items:
        raise ConfigError("langs: name at least one language (ISO 639-3, e.g. eng,deu)")
    out: list[tuple[str, str]] = []
    for item in items:
        iso, _, code = item.partition("=")
        iso, code = iso.strip(), code.strip()
        if not is_known_language(iso):
            hint = next((k for k, v in FLEURS_CODES.items() if v == iso), None)
            raise ConfigError(f"langs: {iso!r} is not an ISO 639-3 code babelscope knows"
                              + (f" (the FLEURS code {iso} is {hint!r})" if hint else " (e.g. eng, deu, cmn)"))
        if not code:
            if iso not in FLEURS_CODES:
                raise ConfigError(f"langs: no FLEURS configuration known for {iso!r}; name it as {iso}=<code>")
            code = FLEURS_CODES[iso]
        if iso in [i for i, _ in out]:
            raise ConfigError(f"langs: {iso} is named twice")
        out.append((iso, code))
    return out


def _split_names(split: str) -> tuple[str, str, str]:
    """-> (name recorded in the manifest, TSV stem, Hugging Face split)."""
    if split not in SPLITS:
        raise ConfigError(f"split: choose from train, dev (or validation), test; not {split!r}")
    tsv, hf = SPLITS[split]
    return tsv, tsv, hf


def _clean_text(text: str) -> str:
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(text.split())


# ---------------------------------------------------------------------------------- original layout

def read_fleurs_tsv(root: Path, lang: str, code: str, split: str) -> list[FleursItem]:
    """Rows of ``root/code/<split>.tsv`` (one :class:`FleursItem` per line, file order)."""
    _, stem, _ = _split_names(split)
    tsv = root / code / f"{stem}.tsv"
    audio_dir = root / code / "audio" / stem
    items: list[FleursItem] = []
    with tsv.open("r", encoding="utf-8", newline="") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            cols = line.split("\t")
            if lineno == 1 and cols[0].strip().lower() == "id":
                continue  # a header line (the original files have none)
            where = f"{tsv}, line {lineno}"
            if len(cols) < 3:
                raise ManifestError(f"{where}: expected tab-separated columns id, file name, raw transcription, "
                                    f"... (found {len(cols)} column{'s' if len(cols) != 1 else ''})")
            fid, fname, raw_text = cols[0].strip(), cols[1].strip(), cols[2]
            if not fid:
                raise ManifestError(f"{where}, column 1 (id): empty")
            if not fname or Path(fname).name != fname:
                raise ManifestError(f"{where}, column 2 (file name): expected a plain file name, got {fname!r}")
            text = _clean_text(raw_text)
            if not text:
                raise ManifestError(f"{where}, column 3 (raw transcription): empty")
            items.append(FleursItem(fid=fid, lang=lang, text=text, where=where, name=fname,
                                    source=audio_dir / fname))
    return items


# ------------------------------------------------------------------------------------- Hugging Face

def _datasets(where: str):
    try:
        import datasets  # noqa: PLC0415
    except ImportError:
        raise ConfigError(f"reading FLEURS {where} needs the `datasets` package, which is not installed: "
                          "pip install datasets (or use the original FLEURS layout: "
                          "ROOT/<code>/<split>.tsv + ROOT/<code>/audio/<split>/)") from None
    return datasets


def _hf_disk_path(root: Path, code: str, hf_split: str) -> tuple[Path, str | None] | None:
    """Where a ``save_to_disk`` copy of one language lives: (path, split to take from a DatasetDict)."""
    base = root / code
    if (base / "dataset_dict.json").is_file():
        return base, hf_split
    for name in {hf_split, "dev" if hf_split == "validation" else hf_split}:
        if (base / name / "state.json").is_file() or (base / name / "dataset_info.json").is_file():
            return base / name, None
    return None


def _no_decode(ds, datasets):
    if "audio" in ds.column_names:
        ds = ds.cast_column("audio", datasets.Audio(decode=False))
    return ds


def _hf_items(ds, lang: str, origin: str) -> list[FleursItem]:
    missing = {"id", "raw_transcription", "audio"} - set(ds.column_names)
    if missing:
        raise ManifestError(f"{origin}: not a FLEURS dataset (missing column(s) {', '.join(sorted(missing))})")
    cols = ds.select_columns([c for c in ("id", "raw_transcription", "path") if c in ds.column_names]).to_dict()
    items = []
    for i, fid in enumerate(cols["id"]):
        where = f"{origin}, row {i}"
        text = _clean_text(cols["raw_transcription"][i] or "")
        if not text:
            raise ManifestError(f"{where}, column raw_transcription: empty")
        path = (cols.get("path") or [None] * len(cols["id"]))[i]
        name = Path(path).name if path else f"{fid}-{i}.wav"
        items.append(FleursItem(fid=str(fid), lang=lang, text=text, where=where, name=name, dataset=ds, row=i))
    return items


def read_fleurs_hf(root: Path | None, lang: str, code: str, split: str, *, hub: bool) -> list[FleursItem]:
    _, _, hf_split = _split_names(split)
    if not hub:
        assert root is not None
        found = _hf_disk_path(root, code, hf_split)
        assert found is not None
        path, key = found
        datasets = _datasets(f"from the datasets.save_to_disk copy {path}")
        try:
            ds = datasets.load_from_disk(str(path))
        except Exception as exc:
            raise ConfigError(f"{path}: cannot load the saved dataset ({exc})") from None
        if key is not None:
            if key not in ds:
                raise ConfigError(f"{path}: the saved DatasetDict has no split {key!r} (it has {', '.join(ds)})")
            ds = ds[key]
        return _hf_items(_no_decode(ds, datasets), lang, f"{path} [{key or hf_split}]")
    datasets = _datasets(f"from the hub ({HUB_ID})")
    origin = f"{HUB_ID} {code} {hf_split}"
    errors = []
    for revision in (None, "refs/convert/parquet"):  # newer `datasets` run no loading scripts
        try:
            ds = datasets.load_dataset(HUB_ID, code, split=hf_split, revision=revision)
            return _hf_items(_no_decode(ds, datasets), lang, origin)
        except BabelscopeError:
            raise
        except Exception as exc:  # network, missing config, script not supported, ...
            errors.append(f"{type(exc).__name__}: {exc}")
    raise ConfigError(f"cannot load {origin} from the hub (offline, or no such configuration?): {errors[-1]}")


def _hf_audio(item: FleursItem) -> tuple[np.ndarray, int]:
    audio = item.dataset[item.row]["audio"]
    if isinstance(audio, dict):
        if audio.get("bytes"):
            data, rate = sf.read(io.BytesIO(audio["bytes"]), dtype="float32", always_2d=True)
            return data.mean(axis=1), rate
        if audio.get("array") is not None:
            return np.asarray(audio["array"], dtype=np.float32).reshape(-1), int(audio["sampling_rate"])
        if audio.get("path") and Path(audio["path"]).is_file():
            data, rate = sf.read(audio["path"], dtype="float32", always_2d=True)
            return data.mean(axis=1), rate
    raise AudioError(f"{item.where}: no audio data in this row")


# ------------------------------------------------------------------------------------------ building

def _load_language(root: Path | None, lang: str, code: str, split: str, hub: bool) -> tuple[list[FleursItem], str]:
    """Items of one language and a description of where they came from."""
    _, stem, hf_split = _split_names(split)
    if root is not None:
        if (root / code / f"{stem}.tsv").is_file():
            return read_fleurs_tsv(root, lang, code, split), "tsv"
        if _hf_disk_path(root, code, hf_split) is not None:
            return read_fleurs_hf(root, lang, code, split, hub=False), "datasets (disk)"
        if not hub:
            raise ConfigError(f"no FLEURS {split} data for {lang} ({code}) under {root}: expected "
                              f"{root / code / f'{stem}.tsv'} (original layout) or a datasets.save_to_disk copy "
                              f"in {root / code}")
    return read_fleurs_hf(None, lang, code, split, hub=True), "datasets (hub)"


def _id_key(fid: str) -> tuple[int, int, str]:
    return (0, int(fid), "") if fid.isdigit() else (1, 0, fid)


def _convert(item: FleursItem, dst: Path, link: bool) -> tuple[float, str]:
    """Write the audio of ``item`` at ``dst`` (without suffix decided yet); -> (seconds, action)."""
    try:
        if item.source is not None:
            src = item.source
            if not src.is_file():
                raise AudioError(f"audio file not found: {src}")
            try:
                info = sf.info(str(src))
            except Exception as exc:
                raise AudioError(f"{src}: cannot read audio ({exc})") from None
            if info.samplerate == RATE and info.channels == 1 and info.frames > 0:
                if link:  # a hard link: the corpus stays self-contained (no link leads out of it)
                    try:
                        os.link(src.resolve(), dst)
                        return info.frames / RATE, "linked"
                    except OSError as exc:
                        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                            raise
                        # another file system, or one without hard links: copy
                shutil.copyfile(src, dst)
                return info.frames / RATE, "copied"
            if info.channels == 1:
                wav = read_audio(src, RATE)
            else:  # FLEURS is mono; downmix anything else
                data, rate = sf.read(str(src), dtype="float32", always_2d=True)
                wav = data.mean(axis=1)
                if rate != RATE:
                    wav = soxr.resample(wav, rate, RATE, quality="HQ").astype(np.float32)
        else:
            wav, rate = _hf_audio(item)
            if wav.size and rate != RATE:
                wav = soxr.resample(wav, rate, RATE, quality="HQ").astype(np.float32)
        if wav.size == 0:
            raise AudioError("the audio is empty")
        sf.write(str(dst), np.clip(wav, -1.0, 1.0), RATE, subtype="PCM_16")
        return wav.size / RATE, "converted"
    except BabelscopeError as exc:
        raise AudioError(f"{item.where} (FLEURS id {item.fid}, {item.lang}): {exc}") from exc
    except Exception as exc:
        raise AudioError(f"{item.where} (FLEURS id {item.fid}, {item.lang}): {type(exc).__name__}: {exc}") from exc


def _needs_conversion(item: FleursItem) -> bool:
    if item.source is None:
        return True
    try:
        info = sf.info(str(item.source))
    except Exception:
        return False  # reported by _convert
    return not (info.samplerate == RATE and info.channels == 1 and info.frames > 0)


def build_fleurs_corpus(out: str | Path, *, langs: str | Sequence[str], root: str | Path | None = None,
                        hub: bool = False, split: str = "test", parallel_only: bool = True,
                        max_per_lang: int | None = None, link: bool = False, workers: int = 4,
                        progress: bool = True, overwrite: bool = False) -> FleursResult:
    """Write a corpus of FLEURS sentences (text + speech) for ``langs`` into ``out``.

    With ``parallel_only`` (default) only sentence ids present in every language are kept, so every
    group is complete. ``max_per_lang`` keeps the first N groups (by FLEURS id) per language.
    """
    pairs = parse_langs(langs)
    name, _, _ = _split_names(split)
    if root is None and not hub:
        raise ConfigError("name a FLEURS copy with --root DIR, or pass --hub to load google/fleurs with `datasets`")
    root_p = Path(root) if root is not None else None
    if root_p is not None and not root_p.is_dir():
        raise ConfigError(f"--root {root_p}: no such folder")
    if max_per_lang is not None and max_per_lang < 1:
        raise ConfigError(f"max_per_lang must be at least 1, got {max_per_lang}")
    if workers < 1:
        raise ConfigError(f"workers must be at least 1, got {workers}")

    per_lang: dict[str, dict[str, FleursItem]] = {}
    stats: dict[str, dict[str, Any]] = {}
    for lang, code in pairs:
        items, source = _load_language(root_p, lang, code, split, hub)
        first: dict[str, FleursItem] = {}
        for it in items:
            first.setdefault(it.fid, it)
        per_lang[lang] = first
        stats[lang] = {"lang": lang, "fleurs": code, "source": source, "recordings": len(items),
                       "sentences": len(first)}
    common = set.intersection(*(set(d) for d in per_lang.values()))
    if parallel_only:
        if not common:
            raise ConfigError(f"no FLEURS id of the {name} split is shared by all of {', '.join(per_lang)}; "
                              "pass --no-parallel-only to keep them anyway")
        ids = sorted(common, key=_id_key)[:max_per_lang]
        keep = {lang: ids for lang in per_lang}
    else:
        keep = {lang: sorted(d, key=_id_key)[:max_per_lang] for lang, d in per_lang.items()}
    for lang in per_lang:
        stats[lang]["not_in_all_langs"] = stats[lang]["sentences"] - len(common)
        stats[lang]["kept"] = len(keep[lang])

    jobs: list[tuple[FleursItem, Path]] = []
    used: dict[tuple[str, str], str] = {}
    for lang, ids in keep.items():
        for fid in ids:
            it = per_lang[lang][fid]
            fname = it.name if not _needs_conversion(it) else f"{Path(it.name).stem}.wav"
            rel = Path("audio") / lang / fname
            if (lang, fname) in used:
                raise ManifestError(f"{it.where}: audio file name {fname!r} is also used by FLEURS id "
                                    f"{used[(lang, fname)]} in {lang}")
            used[(lang, fname)] = fid
            jobs.append((it, rel))

    from babelscope.progress import progress_bar

    with atomic_folder(out, overwrite=overwrite) as tmp:
        for lang in keep:
            (tmp / "audio" / lang).mkdir(parents=True, exist_ok=True)
        with progress_bar(progress, "fleurs audio", total=len(jobs)) as advance:
            results = run_parallel(lambda job: _convert(job[0], tmp / job[1], link), jobs, workers=workers,
                                   advance=advance)
        done = {(it.lang, it.fid): (rel, res) for (it, rel), res in zip(jobs, results)}
        records: list[dict[str, Any]] = []
        order = sorted({fid for ids in keep.values() for fid in ids}, key=_id_key)
        for fid in order:
            for lang, _ in pairs:
                if (lang, fid) not in done:
                    continue
                it = per_lang[lang][fid]
                rel, (seconds, _) = done[(lang, fid)]
                group = f"fleurs-{fid}"
                records.append({"id": f"{group}-{lang}-text", "group": group, "lang": lang, "modality": "text",
                                "text": it.text, "split": name})
                records.append({"id": f"{group}-{lang}-speech", "group": group, "lang": lang,
                                "modality": "speech", "text": it.text, "audio": rel.as_posix(), "split": name,
                                "duration": round(seconds, 4)})
        for lang in keep:
            acts = [res[1] for (it, _), res in zip(jobs, results) if it.lang == lang]
            for a in ("copied", "linked", "converted"):
                stats[lang][a] = acts.count(a)
            stats[lang]["hours"] = round(sum(res[0] for (it, _), res in zip(jobs, results) if it.lang == lang)
                                         / 3600, 4)
        write_records(tmp, records)
        from babelscope.version import __version__ as version

        (tmp / PROVENANCE_NAME).write_text(json.dumps({
            "root": str(root_p.resolve()) if root_p else None, "hub": hub, "split": name,
            "langs": {l: c for l, c in pairs}, "parallel_only": parallel_only, "max_per_lang": max_per_lang,
            "link": link, "babelscope": version, "stats": list(stats.values())}, indent=2) + "\n")
        read_manifest(tmp)  # never publish a corpus the reader rejects
    return FleursResult(corpus=read_manifest(out), stats=pd.DataFrame(list(stats.values())))
