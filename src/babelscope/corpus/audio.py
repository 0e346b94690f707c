"""Audio reading: mono float32 at the model's sampling rate.

Limits: a file longer than ``max_seconds`` (default :data:`MAX_SECONDS`, 2 minutes; judged from the
header, before anything is decoded) is refused, so one stray hour-long recording cannot exhaust
memory in the middle of a run. :func:`check_audio` adds the checks that need the samples (silence)
and is what :func:`babelscope.corpus.read_manifest` runs on every speech record before any stage
starts. Files at another sampling rate are resampled (soxr, high quality), not refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from babelscope.errors import AudioError

#: longest accepted audio file, in seconds (speech corpora hold utterances of seconds)
#: longest speech file: the speech encoders attend over every frame, so memory grows with the square
#: of the length (SeamlessM4T v2 large asked for 57.6 GB at 600 s; about 2.3 GB at 120 s). Longer
#: recordings are split into utterances first (FLEURS utterances last under 30 s).
MAX_SECONDS = 120.0
#: shortest usable speech file (a few feature frames; shorter input breaks the speech encoders)
MIN_SECONDS = 0.1
#: peak amplitude below which a file counts as silent (about -80 dBFS)
SILENCE_PEAK = 1e-4


def _info(p: Path, max_seconds: float):
    if not p.is_file():
        raise AudioError(f"{p}: audio file not found")
    if p.stat().st_size == 0:
        raise AudioError(f"{p}: audio file is empty (0 bytes)")
    try:
        info = sf.info(str(p))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{p}: cannot read audio ({str(exc).strip() or type(exc).__name__})") from None
    if info.samplerate > 0 and info.frames > 0 and info.frames / info.samplerate > max_seconds:
        raise AudioError(f"{p}: {info.frames / info.samplerate:.1f} s of audio, longer than the limit of "
                         f"{max_seconds:g} s (max_seconds); split or trim the file")
    return info


def read_audio(path: str | Path, target_rate: int, *, max_seconds: float = MAX_SECONDS) -> np.ndarray:
    """Read a mono audio file and resample it to ``target_rate`` (soxr, high quality).

    Raises :class:`AudioError` naming the file when it is missing, unreadable, empty, not mono,
    holds NaN/inf samples or lasts longer than ``max_seconds``.
    """
    p = Path(path)
    _info(p, max_seconds)
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioError(f"{p}: cannot read audio ({str(exc).strip() or type(exc).__name__})") from None
    if data.shape[1] != 1:
        raise AudioError(f"{p}: expected mono audio, found {data.shape[1]} channels")
    wav = data[:, 0]
    if wav.size == 0:
        raise AudioError(f"{p}: audio file is empty")
    if wav.size / rate > max_seconds:
        raise AudioError(f"{p}: {wav.size / rate:.1f} s of audio, longer than the limit of {max_seconds:g} s "
                         "(max_seconds); split or trim the file")
    if not np.isfinite(wav).all():
        raise AudioError(f"{p}: audio holds NaN or infinite samples")
    if rate != target_rate:
        wav = soxr.resample(wav, rate, target_rate, quality="HQ").astype(np.float32)
    return wav


def wav_shortfall(path: str | Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file whose ``data`` chunk declares more bytes than the file holds (a file cut
    short: a failed copy, a full disk), ``(declared, present)`` data bytes; otherwise ``None``.
    libsndfile reads such a file silently as a shorter recording."""
    import struct

    p = Path(path)
    size = p.stat().st_size
    with p.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, n = struct.unpack("<4sI", fh.read(8))
            if cid == b"data":
                present = size - pos - 8
                return (n, present) if n != 0xFFFFFFFF and n > present else None
            pos += 8 + n + (n & 1)
    return None


def check_audio(path: str | Path, *, max_seconds: float = MAX_SECONDS, silence_peak: float = SILENCE_PEAK) -> float:
    """Check that a file is usable speech input; returns its duration in seconds.

    Everything :func:`read_audio` refuses, plus silence (peak amplitude below ``silence_peak``).
    """
    p = Path(path)
    info = _info(p, max_seconds)
    if info.channels != 1:
        raise AudioError(f"{p}: {'stereo' if info.channels == 2 else f'{info.channels}-channel'} audio; "
                         "speech must be mono (downmix it)")
    if info.frames <= 0:
        raise AudioError(f"{p}: audio file is empty (no samples)")
    cut = wav_shortfall(p)
    if cut is not None:
        raise AudioError(f"{p}: truncated WAV file: its header declares {cut[0]:,} bytes of samples, the file holds "
                         f"{cut[1]:,}; copy or export it again")
    if info.frames < MIN_SECONDS * info.samplerate:
        raise AudioError(f"{p}: audio is {info.frames} samples ({info.frames / info.samplerate * 1000:.0f} ms) long; "
                         f"speech input needs at least {MIN_SECONDS:g} s (the feature extractor's window)")
    wav = read_audio(p, info.samplerate, max_seconds=max_seconds)
    peak = float(np.abs(wav).max())
    if peak < silence_peak:
        raise AudioError(f"{p}: silent audio (peak amplitude {peak:.1e} < {silence_peak:g})")
    return wav.size / info.samplerate
