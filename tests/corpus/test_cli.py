"""``babelscope corpus ...`` through the CLI entry point: output and exit codes."""

from __future__ import annotations

import subprocess
import sys

import pytest

from babelscope.cli import main
from babelscope.corpus import read_manifest
from babelscope.corpus import synth as synth_mod

from ._audio import make_clean, make_fleurs, tone


def _run(argv):
    """-> exit code of ``main(argv)`` (0 when it returns)."""
    try:
        main(argv)
    except SystemExit as exc:
        return exc.code
    return 0


def test_help(capsys):
    assert _run(["corpus", "--help"]) == 0
    out = capsys.readouterr().out
    assert "synth" in out and "fleurs" in out and "validate" in out


def test_validate_exit_codes(tmp_path, bad_corpus, capsys):
    good = tmp_path / "good"
    make_clean(good)
    assert _run(["corpus", "validate", str(good), "--no-progress"]) == 0
    assert "ok: 8 records, no errors" in capsys.readouterr().out
    assert _run(["corpus", "validate", str(bad_corpus), "--no-progress"]) == 2
    cap = capsys.readouterr()
    assert "warnings" in cap.out and "22050 Hz" in cap.out
    assert "error:" in cap.err and "line 10" in cap.err and "field 'lang'" in cap.err
    assert _run(["corpus", "validate", str(tmp_path / "nowhere")]) == 2
    assert "no manifest here" in capsys.readouterr().err


def test_validate_subprocess_exit_code(bad_corpus):
    proc = subprocess.run([sys.executable, "-c", "from babelscope.cli import main; main()", "corpus", "validate",
                           str(bad_corpus), "--no-progress"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "stereo" in proc.stderr


def test_synth_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(synth_mod, "espeak_binary", lambda: "espeak-ng")
    monkeypatch.setattr(synth_mod, "synthesize_checked", lambda text, lang, **kw: (tone(0.5), None))
    src = tmp_path / "g.jsonl"
    src.write_text('{"group": "a", "eng": "Hello.", "spa": "Hola."}\n{"group": "b", "eng": "Bye.", "spa": "Adiós."}\n')
    assert _run(["corpus", "synth", str(src), str(tmp_path / "out"), "--voices", "2", "--rate-jitter", "5",
                 "--workers", "2", "--no-progress"]) == 0
    assert len(read_manifest(tmp_path / "out").records) == 8
    assert _run(["corpus", "synth", str(src), str(tmp_path / "out"), "--no-progress"]) == 2  # not empty
    assert "--overwrite" in capsys.readouterr().err
    monkeypatch.setattr(synth_mod, "synthesize_checked", lambda text, lang, **kw: (_ for _ in ()).throw(OSError("no")))
    assert _run(["corpus", "synth", str(src), str(tmp_path / "out2"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "group 'a'" in err and "line 1" in err
    assert not (tmp_path / "out2").exists()


def test_fleurs_cli(tmp_path, capsys):
    root = make_fleurs(tmp_path / "fleurs")
    assert _run(["corpus", "fleurs", "--root", str(root), "--langs", "eng,deu", "--split", "test",
                 "--out", str(tmp_path / "c"), "--max-per-lang", "5", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "2 groups, 8 records" in out
    assert _run(["corpus", "fleurs", "--root", str(root), "--out", str(tmp_path / "d")]) == 2  # --langs missing
    assert _run(["corpus", "fleurs", "--langs", "eng", "--out", str(tmp_path / "d")]) == 2  # no source
    assert "--root" in capsys.readouterr().err


@pytest.mark.parametrize("cmd", ["synth", "fleurs", "validate"])
def test_command_help(cmd, capsys):
    assert _run(["corpus", cmd, "--help"]) == 0
    assert "Example" in capsys.readouterr().out
