"""Audio reading: mono float32 at the model's sampling rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from babelscope.errors import AudioError


def read_audio(path: str | Path, target_rate: int) -> np.ndarray:
    """Read a mono audio file and resample it to ``target_rate`` (soxr, high quality)."""
    p = Path(path)
    if not p.is_file():
        raise AudioError(f"{p}: audio file not found")
    try:
        data, rate = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError / TypeError
        raise AudioError(f"{p}: cannot read audio ({exc})") from None
    if data.shape[1] != 1:
        raise AudioError(f"{p}: expected mono audio, found {data.shape[1]} channels")
    wav = data[:, 0]
    if wav.size == 0:
        raise AudioError(f"{p}: audio file is empty")
    if not np.isfinite(wav).all():
        raise AudioError(f"{p}: audio holds NaN or infinite samples")
    if rate != target_rate:
        wav = soxr.resample(wav, rate, target_rate, quality="HQ").astype(np.float32)
    return wav
