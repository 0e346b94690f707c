"""Small audio and corpus builders for the corpus tests (no espeak-ng needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf


def tone(seconds: float = 0.5, rate: int = 16000, freq: float = 220.0, channels: int = 1,
         amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wav = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.stack([wav] * channels, axis=1) if channels > 1 else wav


def write_wav(path: Path, wav: np.ndarray, rate: int = 16000, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, rate, subtype=subtype)
    return path


def write_manifest_lines(folder: Path, rows: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _pair(group, lang, text, audio):
    return [{"id": f"{group}-{lang}-t", "group": group, "lang": lang, "modality": "text", "text": text},
            {"id": f"{group}-{lang}-s", "group": group, "lang": lang, "modality": "speech", "text": text,
             "audio": audio}]


def make_clean(root):
    rows = []
    for gi, g in enumerate(("g1", "g2")):
        for li, lang in enumerate(("eng", "deu")):
            rel = f"audio/{lang}/{g}.wav"
            write_wav(root / rel, tone(0.5 + gi * 0.5, freq=200 + 100 * li))
            rows += _pair(g, lang, f"Sentence {g} in {lang}.", rel)
    write_manifest_lines(root, rows)
    return rows


def make_bad_corpus(tmp_path: Path) -> Path:
    """A corpus with one of each problem (line numbers in the comments)."""
    rows = make_clean(tmp_path)
    write_wav(tmp_path / "audio/eng/g3.wav", tone(0.5, channels=2))  # stereo
    write_wav(tmp_path / "audio/deu/g3.wav", np.zeros(8000, dtype=np.float32))  # silent
    write_wav(tmp_path / "audio/eng/g4.wav", np.zeros(0, dtype=np.float32))  # empty
    write_wav(tmp_path / "audio/deu/g4.wav", tone(0.5, rate=22050), rate=22050)  # needs resampling
    write_wav(tmp_path / "audio/eng/g5.wav", tone(0.1))  # too short
    rows += _pair("g3", "eng", "Stereo sentence.", "audio/eng/g3.wav")  # lines 9-10
    rows += _pair("g3", "deu", "Stiller Satz.", "audio/deu/g3.wav")  # lines 11-12
    rows += _pair("g4", "eng", "Empty sentence.", "audio/eng/g4.wav")  # lines 13-14
    rows += _pair("g4", "deu", "Sentence g1 in deu.", "audio/deu/g4.wav")  # 15-16: 22.05 kHz, text as g1's
    rows += _pair("g5", "eng", "Only English here.", "audio/eng/g5.wav")  # 17-18: no deu
    rows.append({"id": "g6-xx-t", "group": "g6", "lang": "xx", "modality": "text", "text": "Hm."})  # line 19
    rows += _pair("g7", "eng", "Missing file.", "audio/eng/nope.wav")  # lines 20-21
    write_manifest_lines(tmp_path, rows)
    return tmp_path


# (id, file, raw transcription, rate)
EN = [("10", "e10a.wav", "The first sentence.", 16000),
      ("10", "e10b.wav", "The first sentence.", 16000),  # a second recording of id 10
      ("7", "e7.wav", "Another sentence, with \"quotes\".", 16000),
      ("12", "e12.wav", "Only in English.", 16000)]
DE = [("7", "d7.wav", "Ein weiterer Satz.", 22050),  # needs resampling
      ("10", "d10.wav", "Der erste Satz.", 16000),
      ("99", "d99.wav", "Nur auf Deutsch.", 16000)]


def make_fleurs(root, split="test"):
    for code, rows in (("en_us", EN), ("de_de", DE)):
        lines = []
        for i, (fid, fname, raw, rate) in enumerate(rows):
            write_wav(root / code / "audio" / split / fname, tone(0.5 + 0.1 * i, rate, 200 + 40 * i), rate)
            norm = raw.lower().strip(".")
            chars = "|".join(norm.replace(" ", "|"))
            lines.append("\t".join([fid, fname, raw, norm, chars, str(int(0.5 * rate)), "FEMALE"]))
        (root / code / f"{split}.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root
