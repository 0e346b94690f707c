"""Crash safety: ``babelscope record``, ``rank`` and ``intervene`` killed with SIGKILL at random moments,
then resumed by running the same command again, end with artifacts equal to an uninterrupted run's;
and no reader ever sees a half-written artifact under its final name.

Each stage is killed ``BABELSCOPE_CRASH_KILLS`` times (default 20) at moments drawn uniformly over
the length of an uninterrupted run, seeded by ``BABELSCOPE_CRASH_SEED`` (default 0). While a command
runs, and after each kill, the test reads the final names: a store must be incomplete (refused as
such) or complete and equal to the reference; an expertise table or results folder must be absent or
complete and equal to the reference.

The commands run as child processes of a warm fork server (``_forkserver.py``), which has imported
babelscope, torch and transformers once; each child runs ``babelscope.cli.main`` and is killed by pid,
exactly like a fresh ``babelscope`` process but without its 5 s of imports. (A cold-process kill of
``record`` is in tests/test_resume_and_errors.py.) The tiny model and corpus keep one run at about a
second, so the whole file takes about a minute or two on a laptop.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from babelscope.errors import StoreError

from ._compare import assert_expertise_equal, assert_results_equal, assert_store_equal, temporaries

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the fork server needs os.fork (POSIX)")

KILLS = int(os.environ.get("BABELSCOPE_CRASH_KILLS", "20"))
SEED = int(os.environ.get("BABELSCOPE_CRASH_SEED", "0"))
MODEL = "tiny-random-seamless"


class Zygote:
    """Client of ``_forkserver.py``."""

    def __init__(self, logs: Path) -> None:
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   TOKENIZERS_PARALLELISM="false")
        self.logs = logs
        self.n = 0
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("_forkserver.py"))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self._read(300).get("ready"), "fork server did not start"

    def _read(self, timeout: float = 600) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise TimeoutError("fork server did not answer")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"fork server exited ({self.proc.poll()})")
        return json.loads(line)

    def _send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def start(self, args: list) -> tuple[int, Path]:
        self.n += 1
        log = self.logs / f"run-{self.n:03d}.log"
        self._send({"op": "run", "args": [str(a) for a in args], "log": str(log)})
        return self._read()["pid"], log

    def wait(self, pid: int) -> int:
        self._send({"op": "wait", "pid": pid})
        return self._read()["status"]

    def run(self, args: list) -> float:
        """Run to completion; returns the seconds it took."""
        t0 = time.monotonic()
        pid, log = self.start(args)
        status = self.wait(pid)
        assert status == 0, f"{args[0]} failed ({status}):\n{log.read_text()[-3000:]}"
        return time.monotonic() - t0

    def close(self) -> None:
        try:
            self._send({"op": "quit"})
        except (BrokenPipeError, OSError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="module")
def zygote(seamless, tmp_path_factory):
    # ``seamless`` builds the tiny model into the cache first: no child is killed while building it
    z = Zygote(tmp_path_factory.mktemp("crash-logs"))
    yield z
    z.close()


@pytest.fixture(scope="module")
def crash_corpus(tmp_path_factory):
    from conftest import make_corpus

    return make_corpus(tmp_path_factory.mktemp("crash-corpus"), n_groups=2, langs=("eng", "deu", "spa", "fra"))


def record_args(corpus: Path, out: Path) -> list:
    return ["record", "--model", MODEL, "--corpus", corpus, "--out", out, "--tasks", "t2t,s2t,en2x_t2t",
            "--steps", "2,4", "--sites", "text_decoder,text_encoder.layers.0.*", "--batch-size", "2",
            "--max-new-tokens", "6", "--no-progress"]


def rank_args(store: Path, out: Path) -> list:
    return ["rank", store, "--analysis", "target_language", "--modality", "text", "--view", "step=2/mean",
            "--block-units", "16", "--threads", "1", "--out", out, "--no-progress"]


def intervene_args(store: Path, neuron_set: Path, expertise: Path, out: Path) -> list:
    return ["intervene", "--store", store, "--set", neuron_set, "--expertise", expertise, "--steer-to", "deu",
            "--tasks", "en2x_t2t", "--batch-size", "3", "--max-new-tokens", "6", "--factor", "3", "--out", out,
            "--no-progress"]


@pytest.fixture(scope="module")
def reference(zygote, crash_corpus, tmp_path_factory):
    """Uninterrupted runs of the three commands, and how long each took."""
    from babelscope.rank import read_expertise, save_neuron_set, select_units

    root = tmp_path_factory.mktemp("crash-reference")
    ref = {"root": root, "store": root / "store", "expertise": root / "exp.parquet", "set": root / "deu.json",
           "results": root / "results"}
    ref["t_record"] = zygote.run(record_args(crash_corpus, ref["store"]))
    ref["t_rank"] = zygote.run(rank_args(ref["store"], ref["expertise"]))
    ns = select_units(read_expertise(ref["expertise"]), "deu", k=20, mode="top", component="decoder_ffn")
    save_neuron_set(ns, ref["set"])
    ref["t_intervene"] = zygote.run(intervene_args(ref["store"], ref["set"], ref["expertise"], ref["results"]))
    return ref


# -- the kill loop ----------------------------------------------------------------------------------

class Watcher(threading.Thread):
    """Reads the final names over and over while a command runs (``watch()`` raises on a partial
    artifact); the first failure is kept for the main thread."""

    def __init__(self, watch) -> None:
        super().__init__(daemon=True)
        self.watch, self.done, self.error, self.reads = watch, threading.Event(), None, 0

    def run(self) -> None:
        while not self.done.is_set():
            try:
                self.watch()
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                self.error = exc
                return
            self.reads += 1
            time.sleep(0.001)

    def stop(self) -> None:
        self.done.set()
        self.join()
        if self.error is not None:
            raise self.error


def kill_loop(zygote: Zygote, args: list, seconds: float, rng: np.random.Generator, *, watch, check,
              on_finished=None, prepare=None) -> dict:
    """Start ``args`` KILLS times and SIGKILL it after a random delay in [0, 1.2 x seconds): most kills
    hit a running command, some runs finish first. ``watch()`` reads the final names all the time the
    command runs, ``check()`` checks them thoroughly after each kill; ``on_finished()`` follows a run
    that ended before its kill; ``prepare(i)`` sets the scene before start ``i``."""
    stats = {"killed": 0, "finished": 0, "reads": 0}
    for i in range(KILLS):
        if prepare is not None:
            prepare(i)
        delay = float(rng.uniform(0, 1.2 * seconds))
        watcher = Watcher(watch)
        watcher.start()
        pid, log = zygote.start(args)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)  # an exited child stays a zombie until waited for: the pid is still ours
        status = zygote.wait(pid)
        watcher.stop()
        stats["reads"] += watcher.reads
        assert status in (0, -signal.SIGKILL), f"exit status {status}:\n{log.read_text()[-3000:]}"
        check()
        if status == 0:
            stats["finished"] += 1
            if on_finished is not None:
                on_finished()
        else:
            stats["killed"] += 1
    print(f"{args[0]}: {stats}, uninterrupted run {seconds:.2f} s")
    assert stats["killed"] >= KILLS // 3, stats  # most kills hit a running command
    return stats


def test_record_killed_and_resumed(zygote, reference, crash_corpus, tmp_path):
    rng = np.random.default_rng([SEED, 1])
    out = tmp_path / "store"
    args = record_args(crash_corpus, out)

    n_samples = len(pq.read_table(reference["store"] / "samples.parquet"))

    def check() -> None:
        from babelscope.record import open_activations

        if not (out / "record.json").is_file():
            return  # not started yet
        json.loads((out / "record.json").read_text())
        for f in (out / "chunks").glob("chunk-*.json"):
            json.loads(f.read_text())  # completion records are whole
        try:
            st = open_activations(out)
        except StoreError as exc:  # no manifest.json yet: refused as incomplete, never half-read
            assert "incomplete" in str(exc), exc
            return
        assert st.n_samples == n_samples and len(pq.read_table(out / "samples.parquet")) == n_samples

    def finished() -> None:  # a run that completed before its kill: check it, then start afresh
        assert_store_equal(reference["store"], out)
        shutil.rmtree(out)

    kill_loop(zygote, args, reference["t_record"], rng, watch=check, check=check, on_finished=finished)
    zygote.run(args)  # resume
    assert_store_equal(reference["store"], out)
    partial = [p for p in (out / "responses.zarr").rglob("*.partial")]
    print(f"zarr write temporaries left by killed runs: {len(partial)}")


def test_record_resumes_after_a_kill_while_the_store_was_set_up(zygote, reference, crash_corpus, tmp_path):
    """Deterministic version of the narrowest window: killed while the store's arrays were created."""
    out = tmp_path / "store"
    out.mkdir()
    shutil.copy(reference["store"] / "record.json", out / "record.json")
    half = out / ".responses.zarr.tmp-999999999"  # a dead writer's half-made skeleton
    shutil.copytree(reference["store"] / "responses.zarr", half)
    shutil.rmtree(half / "step=2" / "mean" / "unit_site_index")
    zygote.run(record_args(crash_corpus, out))
    assert_store_equal(reference["store"], out)
    assert not half.exists()


def test_rank_killed_and_rerun(zygote, reference, tmp_path):
    rng = np.random.default_rng([SEED, 2])
    out = tmp_path / "expertise" / "exp.parquet"
    out.parent.mkdir()
    args = rank_args(reference["store"], out)

    def watch() -> None:
        if out.exists():  # never a readable-but-truncated table
            pq.read_table(out)

    def check() -> None:
        if out.exists():  # whole, and equal to the reference
            assert_expertise_equal(reference["expertise"], out)

    def prepare(i: int) -> None:  # every other run replaces a finished table
        if i % 2:
            shutil.copy(reference["expertise"], out)
        else:
            out.unlink(missing_ok=True)

    kill_loop(zygote, args, reference["t_rank"], rng, watch=watch, check=check, prepare=prepare)
    out.unlink()
    zygote.run(args)
    assert_expertise_equal(reference["expertise"], out)
    assert temporaries(out.parent) == []


def test_intervene_killed_and_rerun(zygote, reference, tmp_path):
    rng = np.random.default_rng([SEED, 3])
    out = tmp_path / "results"
    args = intervene_args(reference["store"], reference["set"], reference["expertise"], out)

    names = sorted(p.name for p in reference["results"].iterdir())

    def settled(read) -> None:
        for _ in range(5):
            if not out.exists():
                return
            try:
                read()
                return
            except FileNotFoundError:  # read while a complete folder was swapped for another: look again
                time.sleep(0.002)
        raise AssertionError(f"{out} kept vanishing while read")

    def light() -> None:  # every file there, each one whole
        assert sorted(p.name for p in out.iterdir()) == names
        pq.read_table(out / "results.parquet")
        for f in ("summary.json", "forcing.json"):
            json.loads((out / f).read_text())

    def watch() -> None:
        settled(light)

    def check() -> None:  # complete and equal, or absent
        settled(lambda: assert_results_equal(reference["results"], out))

    def prepare(i: int) -> None:  # every other run replaces a finished results folder
        if out.exists():
            shutil.rmtree(out)
        if i % 2:
            shutil.copytree(reference["results"], out)

    kill_loop(zygote, args, reference["t_intervene"], rng, watch=watch, check=check, prepare=prepare)
    if out.exists():
        shutil.rmtree(out)
    zygote.run(args)
    assert_results_equal(reference["results"], out)
    assert temporaries(tmp_path) == []
