"""Resume after a hard kill, and bad inputs that must fail with a named error and write nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.errors import AudioError, ConfigError, ManifestError, SiteError
from babelscope.record import RecordSettings, open_activations, record

CLI = [sys.executable, "-c", "from babelscope.cli import main; main()"]


def _record_args(corpus, out, batch_size):
    return ["record", "--model", "tiny-random-seamless", "--corpus", str(corpus), "--out", str(out),
            "--tasks", "t2t,s2t", "--steps", "1,2,5", "--sites", "text_decoder,text_encoder.layers.0.*",
            "--batch-size", str(batch_size), "--max-new-tokens", "6", "--no-progress"]


def test_resume_after_sigkill_equals_uninterrupted(corpus_dir, tmp_path):
    env = dict(os.environ)
    full = tmp_path / "full"
    subprocess.run(CLI + _record_args(corpus_dir, full, 4), check=True, env=env, capture_output=True)
    killed = tmp_path / "killed"
    proc = subprocess.Popen(CLI + _record_args(corpus_dir, killed, 4), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "chunks" / "chunk-000002.json").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (killed / "chunks" / "chunk-000002.json").exists()
    assert not (killed / "manifest.json").exists(), "the run finished before it could be killed"
    with pytest.raises(Exception, match="incomplete"):
        open_activations(killed)
    subprocess.run(CLI + _record_args(corpus_dir, killed, 4), check=True, env=env, capture_output=True)
    a, b = open_activations(full), open_activations(killed)
    assert a.sites == b.sites
    for site in a.sites:
        for view in a.views(site):
            np.testing.assert_array_equal(a.responses(site, view), b.responses(site, view))
            np.testing.assert_array_equal(a.valid(site, view), b.valid(site, view))
    assert a.samples.drop(columns=["audio"]).equals(b.samples.drop(columns=["audio"]))
    assert json.loads((full / "manifest.json").read_text()) == json.loads((killed / "manifest.json").read_text())


def _write(folder: Path, lines: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


GOOD = '{"id": "a", "group": "g1", "lang": "eng", "modality": "text", "text": "Hello there."}'


@pytest.mark.parametrize("line, field", [
    ('{"id": "b", "group": "g1", "lang": "deu", "modality": "text", "text": "Hallo"', None),  # broken JSON
    ('{"id": "b", "group": "g1", "modality": "text", "text": "Hallo"}', "lang"),
    ('{"id": "b", "group": "g1", "lang": "german", "modality": "text", "text": "Hallo"}', "lang"),
    ('{"id": "b", "group": "g1", "lang": "deu", "modality": "video", "text": "Hallo"}', "modality"),
    ('{"id": "b", "group": "g1", "lang": "deu", "modality": "speech", "text": "Hallo", "audio": "x.wav"}', "audio"),
    ('{"id": "a", "group": "g2", "lang": "deu", "modality": "text", "text": "Hallo"}', "id"),
    ('{"id": "b", "group": "g1", "lang": "deu", "modality": "text", "text": "Hal\\u0007lo"}', "text"),
])
def test_bad_manifest_lines_name_line_and_field(tmp_path, line, field):
    folder = _write(tmp_path / "c", [GOOD, line])
    with pytest.raises(ManifestError) as exc:
        read_manifest(folder)
    msg = str(exc.value)
    assert "line 2" in msg and "manifest.jsonl" in msg
    if field:
        assert f"field '{field}'" in msg


def test_cli_bad_inputs_write_no_store(corpus_dir, tmp_path):
    bad = _write(tmp_path / "bad", [GOOD, "{not json"])
    out = tmp_path / "out1"
    r = subprocess.run(CLI + _record_args(bad, out, 4), capture_output=True, text=True)
    assert r.returncode == 2 and "line 2" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    out2 = tmp_path / "out2"
    args = _record_args(corpus_dir, out2, 4)
    args[args.index("--sites") + 1] = "text_decoder.layerz.*"
    r = subprocess.run(CLI + args, capture_output=True, text=True)
    assert r.returncode == 2 and "layerz" in r.stderr
    assert not out2.exists()


def test_missing_audio_and_unknown_site_write_no_store(seamless, corpus_dir, tmp_path):
    corpus = read_manifest(corpus_dir)
    samples = build_task_samples(corpus, ["s2t"], max_groups=1)
    gone = samples[0].__class__(**{**samples[0].to_row(), "audio": str(tmp_path / "gone.wav")})
    out = tmp_path / "store"
    with pytest.raises(AudioError, match="gone.wav"):
        record(seamless, [gone] + samples[1:], out, RecordSettings(steps=(2,)), progress=False)
    assert not out.exists()
    with pytest.raises(SiteError, match="no_such"):
        record(seamless, samples, out, RecordSettings(steps=(2,), sites=("no_such.*",)), progress=False)
    assert not out.exists()
    with pytest.raises(ConfigError, match="beyond"):
        record(seamless, samples, out, RecordSettings(steps=(2, 40), max_new_tokens=8), progress=False)
    assert not out.exists()


def test_manifest_missing_audio_file_is_named(tmp_path):
    folder = _write(tmp_path / "c", [GOOD, '{"id": "s", "group": "g1", "lang": "eng", "modality": "speech", '
                                      '"text": "Hello there.", "audio": "audio/missing.wav"}'])
    with pytest.raises(ManifestError, match=r"line 2, field 'audio'.*missing.wav"):
        read_manifest(folder)


def test_store_with_other_settings_is_refused(seamless, corpus_dir, tmp_path):
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t"], max_groups=1)
    out = tmp_path / "store"
    record(seamless, samples, out, RecordSettings(steps=(2,), max_new_tokens=4), progress=False)
    from babelscope.errors import StoreError

    with pytest.raises(StoreError, match="settings.steps"):
        record(seamless, samples, out, RecordSettings(steps=(3,), max_new_tokens=4), progress=False)
