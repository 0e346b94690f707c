"""Label sets of METHODS §3 built from a samples table."""

from __future__ import annotations

import numpy as np
import pytest

from babelscope.errors import ConfigError, LabelError
from babelscope.rank import build_analysis

from ._data import LANGS


def _names(an, samples, col):
    return samples[col].to_numpy()[an.rows]


def test_source_language_speech(samples):
    an = build_analysis(samples, "source_language", modality="speech")
    sub = samples.iloc[an.rows]
    assert set(sub["task"]) == {"s2t"} and set(sub["modality"]) == {"speech"}
    assert an.label_names == tuple(sorted(LANGS))
    assert [an.label_names[c] for c in an.labels] == sub["src_lang"].tolist()
    assert an.task == "s2t" and an.modality == "speech" and an.key == "source_language-speech-s2t"
    assert sum(an.base_rates().values()) == pytest.approx(1.0)


def test_target_language_text(samples):
    an = build_analysis(samples, "target_language", modality="text")
    sub = samples.iloc[an.rows]
    assert set(sub["task"]) == {"en2x_t2t"}
    assert [an.label_names[c] for c in an.labels] == sub["tgt_lang"].tolist()


def test_task_override(samples):
    an = build_analysis(samples, "source_language", modality="speech", task="asr")
    assert set(samples.iloc[an.rows]["task"]) == {"asr"}


def test_modality_is_paired(samples):
    # drop one text sample: its speech twin must leave the paired comparison set
    cut = samples.drop(index=samples.index[(samples["task"] == "t2t") & (samples["group"] == "g0")
                                           & (samples["src_lang"] == "deu")]).reset_index(drop=True)
    an = build_analysis(cut, "modality")
    sub = cut.iloc[an.rows]
    assert set(sub["task"]) == {"s2t", "t2t"}
    assert an.label_names == ("speech", "text")
    assert ((sub["group"] == "g0") & (sub["src_lang"] == "deu")).sum() == 0
    assert (an.labels == 0).sum() == (an.labels == 1).sum()
    unpaired = build_analysis(cut, "modality", paired=False)
    assert unpaired.n_samples == an.n_samples + 1


def test_language_x_modality_and_multimodal(samples):
    lxm = build_analysis(samples, "language_x_modality", family="en2x")
    assert len(lxm.label_names) == 2 * len(LANGS) and "deu/speech" in lxm.label_names
    sub = samples.iloc[lxm.rows]
    names = np.array(lxm.label_names)[lxm.labels]
    assert (names == (sub["tgt_lang"] + "/" + sub["modality"]).to_numpy()).all()
    mm = build_analysis(samples, "multimodal_language")
    assert mm.label_names == tuple(sorted(LANGS)) and mm.modality == "both" and mm.task == "s2t+t2t"


def test_errors(samples):
    with pytest.raises(ConfigError, match="analysis='bogus'"):
        build_analysis(samples, "bogus")
    with pytest.raises(ConfigError, match="needs modality"):
        build_analysis(samples, "source_language")
    with pytest.raises(ConfigError, match="modality='video'"):
        build_analysis(samples, "source_language", modality="video")
    with pytest.raises(ConfigError, match="family='x2y'"):
        build_analysis(samples, "modality", family="x2y")
    with pytest.raises(ConfigError, match="lacks column"):
        build_analysis(samples.drop(columns=["group"]), "modality")
    with pytest.raises(LabelError, match="selects no sample"):
        build_analysis(samples, "source_language", modality="text", task="nope")
    one = samples[samples["src_lang"].isin(["deu"])]
    with pytest.raises(LabelError, match="single label 'deu'"):
        build_analysis(one.reset_index(drop=True), "source_language", modality="speech")
