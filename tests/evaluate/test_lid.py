"""Output language identification: the six corpus languages, probabilities, ISO codes, fastText."""

from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest

from babelscope.errors import ConfigError
from babelscope.evaluate import identify_languages, to_iso639_3
from babelscope.evaluate import lid as lid_module

SENTENCES = {
    "eng": "The children played football in the park after school yesterday.",
    "deu": "Die Kinder haben gestern nach der Schule im Park Fußball gespielt.",
    "spa": "Los niños jugaron al fútbol en el parque ayer después de clase.",
    "fra": "Les enfants ont joué au football dans le parc hier après l'école.",
    "jpn": "子供たちは昨日、放課後に公園でサッカーをしました。",
    "cmn": "孩子们昨天放学后在公园里踢足球。",
}
LANGS = list(SENTENCES)


def test_identifies_the_six_languages():
    df = identify_languages(list(SENTENCES.values()), LANGS)
    assert list(df.columns) == ["lid_lang", "lid_prob", "expected_prob", "is_expected"]
    assert list(df["lid_lang"]) == LANGS
    assert df["is_expected"].dtype == bool and df["is_expected"].all()
    assert ((df["lid_prob"] > 0.5) & (df["lid_prob"] <= 1.0)).all()
    np.testing.assert_allclose(df["expected_prob"], df["lid_prob"])


def test_expected_prob_is_larger_for_the_right_language():
    texts = list(SENTENCES.values())
    right = identify_languages(texts, LANGS)["expected_prob"].to_numpy()
    for shift in range(1, len(LANGS)):
        wrong_langs = LANGS[shift:] + LANGS[:shift]
        wrong = identify_languages(texts, wrong_langs)
        assert ((wrong["expected_prob"] >= 0) & (wrong["expected_prob"] <= 1)).all()
        assert (right > wrong["expected_prob"].to_numpy()).all()
        assert not wrong["is_expected"].any()


def test_probabilities_are_normalised_over_all_languages():
    base = lid_module._py3langid_base()
    codes = sorted({to_iso639_3(label) for label in base.labels})
    assert {"eng", "deu", "spa", "fra", "jpn", "cmn", "arb"} <= set(codes)
    for text in (SENTENCES["fra"], "Ciao, come stai oggi?"):
        probs = identify_languages([text] * len(codes), codes)["expected_prob"]
        assert probs.sum() == pytest.approx(1.0, abs=1e-4)
        assert probs.max() == pytest.approx(identify_languages([text])["lid_prob"][0])


def test_iso_mapping():
    pairs = {"en": "eng", "de": "deu", "es": "spa", "fr": "fra", "ja": "jpn", "zh": "cmn",
             "it": "ita", "pt": "por", "nl": "nld", "ru": "rus", "ko": "kor", "ar": "arb",
             "hi": "hin", "tr": "tur", "pl": "pol", "sv": "swe", "fi": "fin", "cs": "ces",
             "uk": "ukr", "vi": "vie"}
    for short, long in pairs.items():
        assert to_iso639_3(short) == long
        assert to_iso639_3(long) == long
    assert to_iso639_3("zh-CN") == "cmn"
    assert to_iso639_3("cmn_Hans") == "cmn"
    assert to_iso639_3("ZHO") == "cmn"
    assert to_iso639_3("ger") == "deu"
    assert to_iso639_3("yue") == "yue"  # unknown to the tables: kept
    assert to_iso639_3("xyz") == "xyz"


def test_expected_accepts_other_spellings_and_one_code_for_all():
    df = identify_languages([SENTENCES["cmn"], SENTENCES["deu"]], ["zh", "de"])
    assert df["is_expected"].all()
    one = identify_languages([SENTENCES["eng"], SENTENCES["deu"]], "eng")
    assert list(one["is_expected"]) == [True, False]


def test_texts_without_language():
    texts = ["", "   \n", None, "123 456 !?", "OK"]
    df = identify_languages(texts, "eng")
    assert list(df["lid_lang"]) == [""] * len(texts)
    assert (df["lid_prob"] == 0).all() and (df["expected_prob"] == 0).all()
    assert not df["is_expected"].any()
    assert list(identify_languages(texts).columns) == ["lid_lang", "lid_prob"]


def test_expected_language_unknown_to_identifier_is_nan():
    df = identify_languages([SENTENCES["spa"]], ["ast"])  # Asturian: not a py3langid label
    assert math.isnan(df["expected_prob"][0]) and not df["is_expected"][0]


def test_langs_restricts_candidates():
    text = SENTENCES["spa"]
    two = ["eng", "deu"]
    df = identify_languages([text, text], two, langs=two)
    assert df["lid_lang"][0] in two
    assert df["expected_prob"].sum() == pytest.approx(1.0, abs=1e-5)
    assert math.isnan(identify_languages([text], "spa", langs=two)["expected_prob"][0])
    # the restriction does not leak into later unrestricted calls
    assert identify_languages([text])["lid_lang"][0] == "spa"
    with pytest.raises(ConfigError, match="langs: language 'klingon'"):
        identify_languages([text], langs=["klingon"])


def test_bad_arguments():
    with pytest.raises(ConfigError, match="expected: 1 values for 2 texts"):
        identify_languages(["a", "b"], ["eng"])
    with pytest.raises(ConfigError, match="texts"):
        identify_languages("just one string")
    with pytest.raises(ConfigError, match="expected: entry 0"):
        identify_languages([SENTENCES["eng"]], [None])


# --- fastText backend ---------------------------------------------------------------------------


def test_missing_fasttext_model_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "lid.176.bin"
    with pytest.raises(ConfigError, match="lid.176.bin") as err:
        identify_languages(["hello"], fasttext_model=path)
    assert str(path) in str(err.value)


def test_fasttext_not_installed_says_pip_install(tmp_path, monkeypatch):
    path = tmp_path / "lid.176.bin"
    path.write_bytes(b"not a model")
    monkeypatch.setitem(sys.modules, "fasttext", None)  # makes `import fasttext` fail
    lid_module._fasttext_model.cache_clear()
    with pytest.raises(ConfigError, match="pip install fasttext"):
        identify_languages(["hello"], fasttext_model=path)


class _FakeFastText:
    labels = ("__label__de", "__label__en", "__label__als", "__label__zh")

    def get_labels(self):
        return list(self.labels)

    def predict(self, text, k=1):
        assert "\n" not in text, "fastText rejects newlines"
        assert k == -1
        probs = np.array([0.6, 0.25, 0.1, 0.05]) if "Kinder" in text else np.array(
            [0.05, 0.1, 0.05, 0.8])
        order = np.argsort(-probs)
        return tuple(self.labels[i] for i in order), probs[order]


def test_fasttext_backend_maps_labels(tmp_path, monkeypatch):
    path = tmp_path / "lid.176.bin"
    path.write_bytes(b"fake")
    fake = types.ModuleType("fasttext")
    fake.load_model = lambda p: _FakeFastText()
    monkeypatch.setitem(sys.modules, "fasttext", fake)
    lid_module._fasttext_model.cache_clear()
    try:
        df = identify_languages(["Die Kinder\nspielen.", "孩子们"], ["deu", "gsw"],
                                fasttext_model=path)
        assert list(df["lid_lang"]) == ["deu", "cmn"]
        np.testing.assert_allclose(df["lid_prob"], [0.6, 0.8])
        np.testing.assert_allclose(df["expected_prob"], [0.6, 0.05])  # als is Alemannic there
        restricted = identify_languages(["Die Kinder spielen."], "eng", fasttext_model=path,
                                        langs=["eng", "deu"])
        assert restricted["expected_prob"][0] == pytest.approx(0.25 / 0.85)
    finally:
        lid_module._fasttext_model.cache_clear()
