"""The family registry and the zoo: every family is found by its model_type, and the zoo's Whisper-base
can be planned (sites, units) before its wheels are downloaded."""

from __future__ import annotations

import pytest

from babelscope.errors import ModelLoadError
from babelscope.models import FAMILIES, ZOO, meta_adapter
from babelscope.models.registry import family_of_model_type
from babelscope.vocab.sites import select_sites


def test_each_family_serves_its_model_types():
    for fam in FAMILIES.values():
        cls = fam.adapter_class()
        assert cls.family == fam.name and set(cls.task_requests)
        for mt in fam.model_types:
            assert family_of_model_type(mt, "x") == fam.name
    with pytest.raises(ModelLoadError, match=r"model 'm' has model_type 'bert'; babelscope supports seamless_m4t_v2, "):
        family_of_model_type("bert", "m")


def test_zoo_whisper_base_is_planned_without_its_weights(tmp_path, monkeypatch):
    """Site count and units of real Whisper-base at text_decoder + speech_encoder (measured on the
    converted checkpoint: 143 sites, 62,464 decoder and 47,616 encoder units), from the built-in
    config alone: nothing is downloaded."""
    monkeypatch.setenv("BABELSCOPE_CACHE", str(tmp_path))
    assert ZOO["whisper-base"].folder(False) is None
    sites = select_sites(meta_adapter("whisper-base").sites(), ["text_decoder", "speech_encoder"])
    assert len(sites) == 143
    assert sum(s.n_units for s in sites if s.component == "text_decoder") == 62_464
    assert sum(s.n_units for s in sites if s.component == "speech_encoder") == 47_616
    assert not any(tmp_path.iterdir())
