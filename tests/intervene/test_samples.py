"""select_samples: re-targeting, exclusion and per-language caps."""

from __future__ import annotations

import pytest

from babelscope.corpus.tasks import TaskSample
from babelscope.errors import ConfigError
from babelscope.intervene.samples import select_samples


def _s(task, src, tgt, g):
    return TaskSample(sample_id=f"{task}:{src}>{tgt}:{g}", corpus_id=f"{g}-{src}", group=g, task=task, src_lang=src,
                      tgt_lang=tgt, modality="text", text="x", audio=None, reference=f"ref-{tgt}-{g}")


def test_cap_counts_the_varying_language_and_excludes_before_capping():
    x2en = [_s("t2t", src, "eng", g) for src in ("cmn", "deu", "spa") for g in ("g1", "g2", "g3")]
    got = select_samples(x2en, tasks="t2t", exclude_src="cmn", max_per_lang=2)
    assert [s.sample_id for s in got] == ["t2t:deu>eng:g1", "t2t:deu>eng:g2", "t2t:spa>eng:g1", "t2t:spa>eng:g2"]
    en2x = [_s("en2x_t2t", "eng", tgt, g) for tgt in ("deu", "spa", "fra") for g in ("g1", "g2")]
    got = select_samples(en2x, exclude_tgt="deu", max_per_lang=1)
    assert [s.tgt_lang for s in got] == ["spa", "fra"]


def test_ask_collapses_shared_inputs_and_keeps_matching_references():
    en2x = [_s("en2x_t2t", "eng", tgt, g) for tgt in ("deu", "spa") for g in ("g1", "g2")]
    got = select_samples(en2x, ask="spa")
    assert len(got) == 2 and all(s.tgt_lang == "spa" for s in got)
    assert [s.reference for s in got] == ["ref-spa-g1", "ref-spa-g2"]
    with pytest.raises(ConfigError, match="no samples left"):
        select_samples(en2x, ask="deu", exclude_tgt="deu")
