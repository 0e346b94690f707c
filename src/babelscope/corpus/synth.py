"""Speech synthesis with espeak-ng (Debian package ``espeak-ng``): text -> 16 kHz mono WAV.

Every utterance passes the gate of :mod:`babelscope.corpus.speakable` first (Japanese is read from
its kana; an utterance espeak-ng reads partly with another language's rules is refused).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from babelscope.corpus.speakable import Fallback, SpeechFallbackError, check_speakable
from babelscope.errors import AudioError, ConfigError
from babelscope.vocab.languages import VOICES

def espeak_binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ConfigError("speech synthesis needs espeak-ng (Debian: apt-get install espeak-ng; "
                          "the README's set-up command installs it)")
    return exe


def synthesize_checked(text: str, lang: str, *, rate: int = 16000, speed: int = 160, pitch: int = 50,
                       voice_variant: str | None = None, allow_fallback: bool = False) -> tuple[np.ndarray, Fallback | None]:
    """Speak ``text`` in ``lang``: ``(float32 mono samples at rate, the fallback or None)``.

    An utterance espeak-ng would read partly in another language raises :class:`SpeechFallbackError`,
    unless ``allow_fallback`` (then it is synthesized and its :class:`Fallback` returned, to count)."""
    if lang not in VOICES:
        raise ConfigError(f"no espeak-ng voice for language {lang!r} (known: {', '.join(sorted(VOICES))})")
    exe = espeak_binary()
    spoken, fallback = check_speakable(text, lang, VOICES[lang], exe)
    if fallback is not None and not allow_fallback:
        raise SpeechFallbackError(f"{fallback.describe()}; change the sentence, or keep such utterances "
                                  "(counted) with --allow-fallback")
    voice = VOICES[lang] + (f"+{voice_variant}" if voice_variant else "")
    # text on stdin: a sentence starting with '-' would otherwise be read as an option
    cmd = [exe, "--stdin", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout"]
    proc = subprocess.run(cmd, input=spoken.encode("utf-8"), capture_output=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout:
        raise AudioError(f"espeak-ng failed on {text!r} ({lang}): {proc.stderr.decode(errors='replace').strip()}")
    wav, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32")
    if wav.ndim > 1:
        wav = wav.mean(axis=1)
    if sr != rate:
        wav = soxr.resample(wav, sr, rate, quality="HQ").astype(np.float32)
    if wav.size == 0 or float(np.abs(wav).max()) < 1e-4:
        raise AudioError(f"espeak-ng produced silence for {text!r} ({lang})")
    return wav, fallback


def synthesize(text: str, lang: str, **kwargs) -> np.ndarray:
    """Speak ``text`` in ``lang``; float32 mono samples (see :func:`synthesize_checked`)."""
    return synthesize_checked(text, lang, **kwargs)[0]


def synthesize_to(path: Path, text: str, lang: str, **kwargs) -> float:
    """Write a 16-bit WAV; returns its duration in seconds."""
    wav = synthesize(text, lang, **kwargs)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wav, kwargs.get("rate", 16000), subtype="PCM_16")
    return wav.size / kwargs.get("rate", 16000)
