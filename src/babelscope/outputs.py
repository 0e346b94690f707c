"""Where babelscope may write: names that stay names, and replacing only babelscope's own artifacts.

Two rules keep a user's data out of reach:

* **A name is one path component.** A config or CLI value that becomes a file or folder name (a run
  name, an intervention name) must be a plain name — letters, digits, ``-``, ``_``, ``.``, starting
  with a letter or digit — never a path: ``../activations``, ``/home``, ``""`` and ``"."`` are
  errors naming the setting (:func:`safe_name`).
* **Replace only what is ours.** A stage replaces (or, with ``--overwrite``, deletes) a folder only
  when the folder is absent, empty, or carries that stage's own marker file: a store its
  ``record.json``, a corpus its provenance record, intervention results their ``summary.json`` and
  ``results.parquet``, a report its ``report.json``. Anything else is an error naming the folder
  (:func:`check_replaceable`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from babelscope.errors import ConfigError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

#: the marker file of a report folder (written last, with report.html)
REPORT_MARKER = "report.json"


def safe_name(value: object, what: str) -> str:
    """``value`` if it is a plain name usable as one file or folder name, else a :class:`ConfigError`
    naming ``what``."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or value in (".", ".."):
        raise ConfigError(f"{what}: expected a plain name (letters, digits, '-', '_', '.'; starting with a "
                          f"letter or digit; at most 128 characters; no path separators), got {value!r}")
    return value


def _json_with(path: Path, keys: tuple[str, ...]) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and all(k in data for k in keys)


def is_store(folder: Path) -> bool:
    """An activation store (complete or interrupted): its settings record."""
    return _json_with(folder / "record.json", ("model", "settings"))


def is_corpus(folder: Path) -> bool:
    """A corpus babelscope built (``corpus synth``, ``corpus fleurs``, the demo corpus): its provenance."""
    return (folder / "manifest.jsonl").is_file() and any(
        (folder / p).is_file() for p in ("synth.json", "fleurs.json", ".demo-corpus.json"))


def is_intervention(folder: Path) -> bool:
    """The results folder of an intervention."""
    return (folder / "summary.json").is_file() and (folder / "results.parquet").is_file()


def is_report(folder: Path) -> bool:
    """A report folder: its marker, or (reports written before the marker existed) nothing but a
    babelscope ``report.html``, ``figures/*.png`` and ``tables/*.csv``."""
    if _json_with(folder / REPORT_MARKER, ("artifact",)):
        return True
    names = {p.name for p in folder.iterdir()}
    if "report.html" not in names or not names <= {"report.html", "figures", "tables"}:
        return False
    for sub, suffix in (("figures", ".png"), ("tables", ".csv")):
        d = folder / sub
        if d.exists() and (not d.is_dir() or any(not (p.is_file() and p.suffix == suffix) for p in d.iterdir())):
            return False
    try:
        head = (folder / "report.html").read_text(encoding="utf-8", errors="replace")[:4000]
    except OSError:
        return False
    return "<title>babelscope report" in head


#: what a run folder holds (babelscope.pipeline.runner): the stages' outputs and the run's records
RUN_ENTRIES = {"corpus", "activations", "expertise", "analysis", "sets", "interventions", "report", "stages",
               "config.json", "run.json"}


def is_run(folder: Path) -> bool:
    """A run folder (``babelscope run`` / ``demo``): nothing but what the runner writes there (a store
    recorded by hand into ``activations/`` included); hidden temporaries are ignored."""
    return all(p.name in RUN_ENTRIES or p.name.startswith(".") for p in folder.iterdir())


KINDS: dict[str, tuple[str, Callable[[Path], bool]]] = {
    "store": ("an activation store", is_store),
    "corpus": ("a corpus built by babelscope", is_corpus),
    "intervention": ("an intervention results folder", is_intervention),
    "report": ("a babelscope report", is_report),
    "run": ("a babelscope run folder", is_run),
}


def check_replaceable(folder: str | Path, kind: str, *, hint: str = "choose an empty or new folder") -> None:
    """Raise a :class:`ConfigError` naming ``folder`` unless babelscope may replace it with an
    artifact of ``kind``: the folder is absent, empty, or already such an artifact."""
    folder = Path(folder)
    what, test = KINDS[kind]
    if not folder.exists() and not folder.is_symlink():
        return
    if not folder.is_dir():
        raise ConfigError(f"{folder}: exists and is not a folder; {hint}")
    if folder.is_symlink():
        raise ConfigError(f"{folder}: is a symbolic link; babelscope writes {what} only into a real folder; {hint}")
    real, cwd = folder.resolve(), Path.cwd().resolve()
    if real == cwd or real in cwd.parents or real == Path.home().resolve():
        raise ConfigError(f"{folder}: is the working directory, one of its parents or the home folder; "
                          f"babelscope never replaces those: {hint}")
    if not any(folder.iterdir()) or test(folder):
        return
    raise ConfigError(f"{folder}: holds files that are not {what}; babelscope replaces only its own "
                      f"artifacts there, so nothing was written: {hint}")
