"""``corpus validate``: every kind of problem is found and named by line; a clean corpus passes."""

from __future__ import annotations

import numpy as np
import pytest

from babelscope.corpus.validate import validate_corpus
from babelscope.errors import AudioError, ManifestError

from ._audio import make_clean


def test_clean_corpus(tmp_path):
    make_clean(tmp_path)
    rep = validate_corpus(tmp_path)
    assert rep.ok and rep.errors == [] and rep.warnings == [] and rep.notes == []
    rep.raise_for_errors()  # no-op
    t = rep.table.set_index(["lang", "modality"])
    assert t.loc[("eng", "speech"), "records"] == 2
    assert t.loc[("eng", "speech"), "seconds"] == pytest.approx(1.5)
    assert t.loc[("eng", "speech"), "mean_seconds"] == pytest.approx(0.75)
    assert t.loc[("deu", "text"), "records"] == 2 and np.isnan(t.loc[("deu", "text"), "seconds"])


def _one(problems, kind, line):
    found = [p for p in problems if p.kind == kind and p.line == line]
    assert len(found) == 1, (kind, line, [str(p) for p in problems])
    return str(found[0])


def test_bad_corpus(bad_corpus):
    rep = validate_corpus(bad_corpus)
    assert "stereo" in _one(rep.errors, "stereo", 10) and "audio/eng/g3.wav" in _one(rep.errors, "stereo", 10)
    assert "silent audio" in _one(rep.errors, "silent", 12)
    assert "empty" in _one(rep.errors, "empty", 14)
    assert "not found" in _one(rep.errors, "missing", 21)
    msg = _one(rep.errors, "manifest", 19)
    assert "line 19, field 'lang'" in msg and "'xx'" in msg
    assert {p.kind for p in rep.errors} == {"stereo", "silent", "empty", "missing", "manifest"}
    # a wrong sample rate is reported, not an error
    assert "22050 Hz" in _one(rep.notes, "rate", 16)
    assert all(p.line != 16 for p in rep.errors + rep.warnings if p.kind != "duplicate-text")
    # warnings: short audio, duplicate text in deu (g1 and g4), g5 and g7 lack deu
    assert "shorter than 0.2 s" in _one(rep.warnings, "duration", 18)
    assert "appears in 2 groups" in _one(rep.warnings, "duplicate-text", 15)
    assert "group 'g5' has no deu speech, deu text" in _one(rep.warnings, "incomplete-group", 17)
    assert "group 'g7'" in _one(rep.warnings, "incomplete-group", 20)
    t = rep.table.set_index(["lang", "modality"])
    assert t.loc[("eng", "speech"), "errors"] == 3 and t.loc[("deu", "speech"), "not_16k"] == 1
    assert t.loc[("deu", "speech"), "groups_missing"] == 2
    assert t.loc[("xx", "text"), "records"] == 0 and t.loc[("xx", "text"), "errors"] == 1
    with pytest.raises(ManifestError, match=r"(?s)5 errors.*line 10.*\.\.\. and 2 more"):
        rep.raise_for_errors(show=3)
    # durations out of bounds become errors with strict; audio errors alone raise AudioError
    strict = validate_corpus(bad_corpus, strict=True, min_seconds=0.05)
    assert {p.kind for p in strict.errors} >= {"duplicate-text", "incomplete-group"}
    assert not any(p.kind == "duration" for p in strict.errors)
    lines = (bad_corpus / "manifest.jsonl").read_text().splitlines()
    (bad_corpus / "manifest.jsonl").write_text("\n".join(lines[:18] + lines[19:]) + "\n")
    with pytest.raises(AudioError, match="stereo"):
        validate_corpus(bad_corpus).raise_for_errors()
