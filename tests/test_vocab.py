"""The vocabulary module: every code of every language round-trips, and the codes agree with the
systems that define them (Whisper's tokenizer table in transformers, py3langid's label set)."""

from __future__ import annotations

import pytest
from transformers.models.whisper.tokenization_whisper import LANGUAGES as WHISPER_LANGUAGES

from babelscope.errors import ConfigError
from babelscope.evaluate.lid import _py3langid_base
from babelscope.vocab.languages import (ALIASES, FLEURS_CODES, FROM_WHISPER, LANGUAGES, LATIN_SCRIPT, VOICES,
                                        WHISPER_CODES, suggest_language, to_iso639_3)
from babelscope.vocab.views import View

#: FLEURS configurations whose language part is not an identifier of the language (checked by hand)
_FLEURS_PREFIX_EXCEPTIONS = {"cmn": "cmn", "yue": "yue"}


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_code_of_a_language_maps_back_to_it(code):
    lg = LANGUAGES[code]
    assert to_iso639_3(code) == code.split("_")[0] or code == "cmn_Hant"
    if lg.iso1:
        assert to_iso639_3(lg.iso1) == code
        assert to_iso639_3(lg.iso1.upper() + "-XX") == code
    if lg.whisper:
        assert FROM_WHISPER[lg.whisper] == code
        assert lg.whisper in WHISPER_LANGUAGES, f"{code}: {lg.whisper!r} is not a Whisper language"
    if lg.fleurs:
        assert [c for c, f in FLEURS_CODES.items() if f == lg.fleurs] == [code]
        prefix = lg.fleurs.split("_")[0]
        assert to_iso639_3(prefix) == code, f"{code}: the FLEURS code {lg.fleurs} reads as {to_iso639_3(prefix)}"
    if lg.espeak:
        assert to_iso639_3(lg.espeak.split("-")[0]) == code


def test_codes_are_unique_per_system():
    for col in ("iso1", "whisper", "fleurs"):
        values = [getattr(lg, col) for lg in LANGUAGES.values() if getattr(lg, col)]
        assert len(values) == len(set(values)), col


def test_every_whisper_language_with_a_table_language_is_in_the_table():
    """Whisper's own language table (transformers) against ours: a Whisper code whose ISO 639-1 meaning
    is a language of the table must be that language's Whisper code."""
    for wc in WHISPER_LANGUAGES:
        code = to_iso639_3("jv" if wc == "jw" else wc)
        if code in LANGUAGES:
            assert WHISPER_CODES.get(code) == wc, (wc, code)


def test_language_identifier_labels_map_into_the_table():
    """py3langid's labels (ISO 639-1) land on the table's codes; Malay's ``ms`` is ``zsm``, the code the
    corpus and SeamlessM4T use (it was ``zlm`` in one copy and ``zsm`` in another before)."""
    labels = set(_py3langid_base().nb_classes)
    for code, lg in LANGUAGES.items():
        if lg.iso1 in labels:
            assert to_iso639_3(lg.iso1) == code
    assert to_iso639_3("ms") == "zsm" == FROM_WHISPER["ms"]
    assert FLEURS_CODES["zsm"] == "ms_my"
    assert "zsm" in LATIN_SCRIPT


def test_aliases_point_into_the_table_or_outside_it_consistently():
    for alias, code in ALIASES.items():
        assert alias not in LANGUAGES, alias
        assert to_iso639_3(alias) == code
    assert suggest_language("zlm") == "zsm" and suggest_language("de_de") == "deu"
    assert suggest_language("xyz") is None


def test_voices_are_table_languages():
    assert set(VOICES) <= set(LANGUAGES)
    assert VOICES["eng"] == "en-us" and VOICES["cmn"] == "cmn-latn-pinyin"


def test_view_parses_and_rejects():
    v = View("step=12/last")
    assert (v.step, v.pool, v.is_encoder) == (12, "last", False)
    assert v == "step=12/last" and isinstance(v, str)
    assert View("encoder").is_encoder and View("encoder").step is None
    assert View.step_view(3) == "step=3/mean"
    assert sorted(map(View, ["step=10/mean", "encoder", "step=2/last", "step=2/mean"]), key=View.sort_key) == \
        ["encoder", "step=2/last", "step=2/mean", "step=10/mean"]
    for bad in ("step=x/mean", "step=2/max", "Encoder", "step=2"):
        with pytest.raises(ConfigError, match="expected 'encoder'"):
            View(bad)
