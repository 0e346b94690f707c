"""The notebook API (``import babelscope as bs``): each function against the stage API it fronts, the
forcing context manager against per-batch forcing hooks, the callable stage packages, short reprs."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import babelscope as bs
from babelscope.corpus import build_task_samples, read_manifest
from babelscope.rank.select import NeuronSet, SetUnit
from conftest import no_hooks

SITE = "text_decoder.layers.0.ffn.fc1"


def _set(adapter, label, units, value):
    us = [SetUnit(SITE, u, ap=0.9, on_p50=value, on_p90=value, off_p50=0.0, off_mean=0.0) for u in units]
    return NeuronSet(model=adapter.name, analysis="target_language", label=label, task="en2x_t2t", modality="text",
                     view="step=2/mean", component="text_decoder", k=len(us), mode="top", seed=None,
                     n_candidates=128, units=us)


@pytest.fixture(scope="module")
def text_samples(corpus_dir):
    return build_task_samples(read_manifest(corpus_dir), ["en2x_t2t", "t2t"], max_groups=2)


def test_in_memory_record_equals_the_store_on_disk(seamless, text_samples, tmp_path):
    from babelscope.record import RecordSettings, record

    disk = record(seamless, text_samples, tmp_path / "store",
                  RecordSettings(steps=(2, 3), sites=("text_decoder",), batch_size=4, max_new_tokens=6), progress=False)
    mem = bs.record(seamless, text_samples, steps=(2, 3), batch_size=4, max_new_tokens=6)
    assert type(mem).__name__ == "ArrayStore" and mem.sites == disk.sites
    for site in disk.sites:
        assert mem.site(site) == disk.site(site) and mem.views(site) == disk.views(site)
        for view in disk.views(site):
            np.testing.assert_array_equal(mem.responses(site, view), disk.responses(site, view))
            np.testing.assert_array_equal(mem.valid(site, view), disk.valid(site, view))
    pd.testing.assert_frame_equal(mem.samples, disk.samples)
    assert mem.manifest["model"] == disk.manifest["model"]
    assert not list(Path(tmp_path).glob("babelscope-record-*"))
    # ranking the in-memory store gives the table ranking the disk store gives
    a = bs.rank(mem, "target_language", view="step=2/mean", modality="text")
    b = bs.rank(disk, "target_language", view="step=2/mean", modality="text")
    pd.testing.assert_frame_equal(a.table, b.table)
    # a table streamed to a file is read back where a stage needs it (select, intervene's baseline)
    c = bs.rank(mem, "target_language", view="step=2/mean", modality="text", out=tmp_path / "e" / "x.parquet")
    assert c.table is None and a.loaded() is a
    pd.testing.assert_frame_equal(c.loaded().table, a.table)


def test_forcing_block_equals_per_batch_hooks_and_leaves_nothing(seamless, text_samples):
    from babelscope.intervene import Forcing, forcing_hooks, resolve
    from babelscope.models.generation import generate_texts

    up, down = _set(seamless, "deu", [1, 4, 9, 16], 6.0), _set(seamless, "fra", [2, 5, 30], -6.0)
    plain = bs.generate(seamless, text_samples, max_new_tokens=8)
    both = resolve(Forcing(sets=(up, down), steps=(1, 4)), seamless)
    want = [o["text"] for o in generate_texts(seamless, text_samples, batch_size=16, max_new_tokens=8,
                                              context=lambda sub, batch: forcing_hooks(seamless, both, batch))]
    assert want != plain  # the forcing changes outputs, so the comparison below means something
    with bs.forcing(seamless, [up, down], steps=(1, 4)) as plan:
        got = bs.generate(seamless, text_samples, max_new_tokens=8)
    assert got == want and plan.n_units == 7
    # nested blocks force both sets, like one forcing of both
    with bs.forcing(seamless, up, steps=(1, 4)), bs.forcing(seamless, down, steps=(1, 4)):
        assert bs.generate(seamless, text_samples, max_new_tokens=8) == want
    # on exit: the class's generate again, no hook left on any module, outputs as before
    assert "generate" not in vars(seamless)
    assert no_hooks(seamless.model)
    assert bs.generate(seamless, text_samples, max_new_tokens=8) == plain
    with pytest.raises(RuntimeError, match="boom"):
        with bs.forcing(seamless, up):
            raise RuntimeError("boom")
    assert "generate" not in vars(seamless) and bs.generate(seamless, text_samples, max_new_tokens=8) == plain


def test_stage_packages_are_their_functions():
    import babelscope.rank.expertise as expertise_module

    for name in ("record", "rank", "intervene", "report"):
        pkg = importlib.import_module(f"babelscope.{name}")
        assert getattr(bs, name) is pkg and callable(pkg)
        assert pkg._function() is getattr(importlib.import_module("babelscope.api"), name)
    assert expertise_module.read_expertise is bs.rank.read_expertise
    assert set(bs.__all__) <= set(dir(bs))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        bs.nope  # noqa: B018


def test_the_version_is_the_packages():
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert bs.__version__ == pyproject["project"]["version"]


def test_reprs_are_short(seamless, corpus_dir, text_samples):
    corpus = bs.load_corpus(corpus_dir)
    assert len(corpus.records) > 40 and len(repr(corpus)) < 200 and "records=48" in repr(corpus)
    ns = _set(seamless, "deu", range(100), 1.0)
    assert len(repr(ns)) < 200 and "top 100 of text_decoder" in repr(ns)
    assert repr(seamless).startswith("SeamlessAdapter('tiny-random-seamless', family='seamless'")
    mem = bs.record(seamless, text_samples, steps=(2,), max_new_tokens=4)
    exp = bs.rank(mem, "target_language", view="step=2/mean", modality="text")
    for obj in (mem, exp):
        assert len(repr(obj)) < 300, repr(obj)
    assert "samples used=10 of 10" in repr(exp)
    with bs.forcing(seamless, ns) as plan:
        assert repr(plan) == "ForcingPlan(100 units at 1 site(s): deu/top100 -> on_p50, all positions, all steps)"
