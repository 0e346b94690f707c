"""A real Ctrl-C (SIGINT) during ``rank``, ``intervene`` and ``report``: exit status 130 with one line
saying what was left, no half-written output, and a rerun equal to an uninterrupted run.

(``record`` is driven with SIGINT in test_data_safety.py, ``run`` in test_determinism.py.) Each command
runs as a subprocess with SIGINT's default disposition restored (a background test run inherits it
ignored), and the signal is sent once the command is visibly working: its temporary output exists, or
it has announced its samples.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pandas as pd
import pytest

from reliability._compare import assert_expertise_equal, assert_results_equal, temporaries

CLI = str(Path(sys.executable).parent / "babelscope")


def _run(args: list) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, env=dict(os.environ))


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A finished run of the small pipeline config (tiny model, six demo groups), with its report."""
    from pipeline.test_pipeline_run import TINY

    root = tmp_path_factory.mktemp("sigint")
    (root / "tiny.toml").write_text(TINY.replace("enabled = false", "enabled = true"))
    res = _run(["run", root / "tiny.toml", "--out", root / "run", "--no-progress"])
    assert res.returncode == 0, res.stderr
    return root / "run"


def _interrupt(args: list, working: Callable[[str], bool], fresh: Callable[[int], list]) -> tuple[int, str, list]:
    """Start the command, send SIGINT once ``working(stderr so far)`` holds; -> (status, stderr, args).

    A command that finished before the signal landed (a busy machine) is tried again with fresh
    output paths (``fresh(attempt)`` gives the arguments)."""
    for attempt in range(4):
        argv = fresh(attempt)
        p = subprocess.Popen([CLI, *map(str, argv)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        chunks: list[str] = []
        reader = threading.Thread(target=lambda: chunks.extend(iter(p.stderr.readline, "")), daemon=True)
        reader.start()
        deadline = time.monotonic() + 180
        while not working("".join(chunks)):
            if p.poll() is not None:
                break
            assert time.monotonic() < deadline, "the command never started working"
            time.sleep(0.005)
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
        p.wait(timeout=180)
        reader.join(timeout=30)
        if p.returncode == 0:
            continue  # it finished before the signal landed: try again
        return p.returncode, "".join(chunks), argv
    pytest.fail("the command always finished before SIGINT landed")


def _temp_of(path: Path) -> Callable[[str], bool]:
    """True while a temporary of ``path`` (``.NAME.tmp-PID``) exists beside it."""
    return lambda _err: any(path.parent.glob(f".{path.name}.tmp-*"))


def test_sigint_during_rank(run_folder, tmp_path):
    base = ["rank", run_folder / "activations", "--analysis", "source_language", "--modality", "text",
            "--view", "step=2/mean", "--block-units", "4", "--threads", "1", "--no-progress", "--out"]
    ref = _run(base + [tmp_path / "ref.parquet"])
    assert ref.returncode == 0, ref.stderr
    outs = [tmp_path / f"exp{i}.parquet" for i in range(4)]
    status, err, argv = _interrupt(base, lambda e: any(_temp_of(o)(e) for o in outs),
                                   lambda i: base + [outs[i]])
    out = Path(argv[-1])
    assert status == 130, err
    assert "interrupted" in err and not out.exists() and temporaries(tmp_path) == []
    again = _run(argv)
    assert again.returncode == 0, again.stderr
    assert_expertise_equal(tmp_path / "ref.parquet", out)


def test_sigint_during_intervene(run_folder, tmp_path):
    sets = run_folder / "sets"
    neuron_set = next(sets.glob("target_language-text-step2-deu-*.json"))
    base = ["intervene", "--store", run_folder / "activations", "--set", neuron_set, "--expertise",
            run_folder / "expertise" / "target_language-text-step2-mean.parquet", "--steer-to", "deu",
            "--tasks", "en2x_t2t", "--batch-size", "1", "--max-new-tokens", "6", "--threads", "1",
            "--no-progress", "--out"]
    ref = _run(base + [tmp_path / "ref"])
    assert ref.returncode == 0, ref.stderr
    status, err, argv = _interrupt(base, lambda e: "samples, each generated" in e,
                                   lambda i: base + [tmp_path / f"res{i}"])
    out = Path(argv[-1])
    assert status == 130, err
    assert "interrupted" in err and not out.exists() and temporaries(tmp_path) == []
    again = _run(argv)
    assert again.returncode == 0, again.stderr
    assert_results_equal(tmp_path / "ref", out)


def _report_content(folder: Path) -> dict:
    tables = {p.name: pd.read_csv(p) for p in sorted((folder / "tables").glob("*.csv"))}
    return {"tables": tables, "figures": sorted(p.name for p in (folder / "figures").iterdir()),
            "page": (folder / "report.html").read_text(encoding="utf-8")}


def test_sigint_during_report(run_folder, tmp_path):
    base = ["report", run_folder, "--out"]
    ref = _run(base + [tmp_path / "ref"])
    assert ref.returncode == 0, ref.stderr
    outs = [tmp_path / f"rep{i}" for i in range(4)]
    status, err, argv = _interrupt(base, lambda e: any(_temp_of(o)(e) for o in outs), lambda i: base + [outs[i]])
    out = Path(argv[-1])
    assert status == 130, err
    assert "interrupted" in err and not out.exists() and temporaries(tmp_path) == []
    again = _run(argv)
    assert again.returncode == 0, again.stderr
    a, b = _report_content(tmp_path / "ref"), _report_content(out)
    assert a["figures"] == b["figures"] and a["page"] == b["page"] and a["tables"].keys() == b["tables"].keys()
    for name, df in a["tables"].items():
        pd.testing.assert_frame_equal(df, b["tables"][name], obj=name)


def test_a_rerun_with_every_stage_up_to_date_prints_the_report_path(run_folder):
    res = _run(["run", run_folder.parent / "tiny.toml", "--out", run_folder, "--no-progress"])
    assert res.returncode == 0, res.stderr
    assert res.stderr.count("up to date, skipped") == 6
    assert res.stdout.strip().splitlines()[-1] == str((run_folder / "report" / "report.html").resolve())
