"""Speech synthesis with espeak-ng (Debian package ``espeak-ng``): text -> 16 kHz mono WAV."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from babelscope.errors import AudioError, ConfigError

#: ISO 639-3 -> espeak-ng voice
VOICES = {"eng": "en-us", "deu": "de", "spa": "es", "fra": "fr", "jpn": "ja", "cmn": "cmn", "ita": "it",
          "por": "pt", "nld": "nl", "rus": "ru", "pol": "pl", "tur": "tr", "kor": "ko", "hin": "hi",
          "arb": "ar", "swe": "sv", "fin": "fi", "ces": "cs", "ukr": "uk", "vie": "vi"}


def espeak_binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError("speech synthesis needs espeak-ng (Debian: apt-get install espeak-ng; "
                          "the README's set-up command installs it)")
    return exe


def synthesize(text: str, lang: str, *, rate: int = 16000, speed: int = 160, pitch: int = 50,
               voice_variant: str | None = None) -> np.ndarray:
    """Speak ``text`` in ``lang``; returns float32 mono samples at ``rate``."""
    if lang not in VOICES:
        raise ConfigError(f"no espeak-ng voice for language {lang!r} (known: {', '.join(sorted(VOICES))})")
    voice = VOICES[lang] + (f"+{voice_variant}" if voice_variant else "")
    # text on stdin: a sentence starting with '-' would otherwise be read as an option
    cmd = [espeak_binary(), "--stdin", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout"]
    proc = subprocess.run(cmd, input=text.encode("utf-8"), capture_output=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        raise AudioError(f"espeak-ng failed on {text!r} ({lang}): {proc.stderr.decode(errors='replace').strip()}")
    wav, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    if wav.ndim > 1:
        wav = wav.mean(axis=1)
    if sr != rate:
        wav = soxr.resample(wav, sr, rate, quality="HQ").astype(np.float32)
    if wav.size == 0 or float(np.abs(wav).max()) < 1e-4:
        raise AudioError(f"espeak-ng produced silence for {text!r} ({lang})")
    return wav


def synthesize_to(path: Path, text: str, lang: str, **kwargs) -> float:
    """Write a 16-bit WAV; returns its duration in seconds."""
    wav = synthesize(text, lang, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, kwargs.get("rate", 16000), subtype="PCM_16")
    return wav.size / kwargs.get("rate", 16000)
