"""The bad-input catalogue: every malformed input fails with a named error (the message names the
file, line, field or setting) and writes nothing; docs/bad-inputs.md lists each message.

The table is ``catalogue.CASES``; regenerate the doc with ``python tests/reliability/make_catalogue_doc.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from babelscope.errors import BabelscopeError

from .catalogue import CASES, Ctx, Resources, normalize, render, run_case

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-inputs.md"
_messages: dict[str, str] = {}


@pytest.fixture(scope="module")
def resources(seamless, tmp_path_factory) -> Resources:
    return Resources(tmp_path_factory.mktemp("bad-inputs-shared"), adapter=seamless)


def _run(case, resources, tmp: Path) -> str:
    ctx = Ctx(tmp, resources)
    msg = normalize(run_case(case, ctx), ctx)
    _messages[case.id] = msg
    return msg


def test_catalogue_is_large_and_distinct():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    # babelscope's own errors; a failing filesystem (full disk, no permission) stays the OSError it is,
    # which the CLI prints as one line naming the path (exit 2)
    fs = {"record-disk-full", "record-read-only"}
    assert all(c.error is None or issubclass(c.error, BabelscopeError) for c in CASES if c.id not in fs)
    assert all(issubclass(c.error, OSError) for c in CASES if c.id in fs)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case, resources, tmp_path):
    _run(case, resources, tmp_path)


def test_cli_prints_one_line_and_exits_2(resources, tmp_path):
    """What the user sees for a catalogued input: one line on stderr, exit status 2, no traceback."""
    from .catalogue import write_corpus

    corpus = write_corpus(tmp_path / "c", lines=['{"id": "a", "group": "g1", "lang": "german", "modality": "text", '
                                                 '"text": "[/] [bold]x"}'])
    r = subprocess.run([sys.executable, "-c", "from babelscope.cli import main; main()", "record", "--model",
                        "tiny-random-seamless", "--corpus", str(corpus), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in r.stderr, r.stderr
    assert "line 1, field 'lang'" in lines[0] and not (tmp_path / "out").exists()


def test_doc_is_up_to_date(resources, tmp_path):
    for i, case in enumerate(CASES):
        if case.id not in _messages:  # rows deselected in this session: run them here
            _run(case, resources, tmp_path / f"row{i}")
    want = render(_messages)
    have = DOC.read_text(encoding="utf-8") if DOC.is_file() else ""
    assert have == want, ("docs/bad-inputs.md is out of date: run python tests/reliability/make_catalogue_doc.py")
