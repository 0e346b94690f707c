"""Code-mixing indices against values computed by hand."""

from __future__ import annotations

import pytest

from babelscope.evaluate.codemix import char_script, i_index, m_index, token_buckets, tokenize


def test_latin_only():
    text = "The cat sat on the mat."
    assert token_buckets(text) == ["latin"] * 6
    assert m_index(text) == 0.0  # one bucket: k = 1
    assert i_index(text) == 0.0  # no switch among 6 tokens


def test_cjk_only_is_split_into_characters():
    text = "我喜欢猫。コーヒーを飲む"
    assert tokenize(text) == ["我", "喜", "欢", "猫", "。", "コ", "ー", "ヒ", "ー", "を", "飲", "む"]
    assert token_buckets(text) == ["cjk"] * 11  # "。" has no letter
    assert m_index(text) == 0.0 and i_index(text) == 0.0


def test_chinese_with_english_words():
    text = "我喜欢 Python 和 Java。"
    # tokens: 我 喜 欢 | Python | 和 | Java。 -> cjk cjk cjk latin cjk latin
    assert tokenize(text) == ["我", "喜", "欢", "Python", "和", "Java。"]
    # p = (4/6, 2/6), sum p^2 = 16/36 + 4/36 = 20/36, k = 2
    # M = (1 - 20/36) / (1 * 20/36) = 16/20 = 0.8
    assert m_index(text) == pytest.approx(0.8)
    # switches: 欢|Python, Python|和, 和|Java = 3 over 5 adjacent pairs
    assert i_index(text) == pytest.approx(0.6)
    # spaces do not matter inside CJK text
    assert m_index("我喜欢Python和Java。") == pytest.approx(0.8)


def test_three_buckets():
    text = "Я люблю Python и 猫"
    # other other latin other cjk: p = (3/5, 1/5, 1/5), sum p^2 = 11/25, k = 3
    # M = (14/25) / (2 * 11/25) = 7/11; switches 3 over 4 pairs
    assert m_index(text) == pytest.approx(7 / 11)
    assert i_index(text) == pytest.approx(0.75)


def test_tokens_without_letters_are_skipped():
    text = "Python 2024 ！ -- 猫"
    assert token_buckets(text) == ["latin", "cjk"]
    # p = (1/2, 1/2): M = (1 - 1/2) / (1 * 1/2) = 1; one switch over one pair
    assert m_index(text) == pytest.approx(1.0)
    assert i_index(text) == pytest.approx(1.0)
    assert m_index("") == 0.0 and i_index("12 34") == 0.0


def test_token_list_and_mixed_tokens():
    tokens = ["▁Python编", "程", "is", "fun"]
    assert token_buckets(tokens) == ["mixed", "cjk", "latin", "latin"]
    # p = (1/4, 1/4, 2/4): sum p^2 = 6/16, k = 3, M = (10/16) / (2 * 6/16) = 10/12
    assert m_index(tokens) == pytest.approx(10 / 12)
    assert i_index(tokens) == pytest.approx(2 / 3)
    assert token_buckets("Москваcity ＡＢＣ café") == ["mixed", "latin", "latin"]


# expected buckets from the Unicode Script property (Scripts.txt) and, for Script=Common/Inherited,
# Script_Extensions (ScriptExtensions.txt)
@pytest.mark.parametrize("ch,bucket", [
    ("\u00ba", "latin"),  # º MASCULINE ORDINAL INDICATOR: Script=Latin
    ("\u00aa", "latin"),  # ª FEMININE ORDINAL INDICATOR: Script=Latin
    ("\u00e9", "latin"),  # é
    ("\u00df", "latin"),  # ß
    ("\u0301", None),  # COMBINING ACUTE ACCENT: Inherited, a mark (Mn), not a letter
    ("\u30fc", "cjk"),  # ー PROLONGED SOUND MARK: Script=Common, Script_Extensions=Hiragana Katakana
    ("\uff70", "cjk"),  # ｰ halfwidth prolonged sound mark: the same
    ("\u3006", "cjk"),  # 〆 IDEOGRAPHIC CLOSING MARK: Common, Script_Extensions=Han
    ("\u3005", "cjk"),  # 々 IDEOGRAPHIC ITERATION MARK: Script=Han
    ("\u732b", "cjk"),  # 猫: Han
    ("\u02bc", "latin"),  # ʼ MODIFIER LETTER APOSTROPHE: Common, Script_Extensions=Latin
    ("\u00b5", None),  # µ MICRO SIGN: Common letter of no particular script
    ("\u0416", "other"),  # Ж: Cyrillic
    ("5", None),
    ("\u3002", None),  # 。 punctuation
])
def test_char_script_follows_the_script_property(ch, bucket):
    assert char_script(ch) == bucket


def test_latin_letters_outside_the_latin_names():
    assert token_buckets("n\u00ba") == ["latin"]  # nº
    assert token_buckets("\u00aa") == ["latin"]  # ª
    assert token_buckets("1\u00aa") == ["latin"]  # 1ª
    assert token_buckets("caf\u00e9 Stra\u00dfe cafe\u0301") == ["latin"] * 3  # é, ß, e + combining acute
    assert token_buckets("don\u02bct 5 \u00b5m") == ["latin", "latin"]  # donʼt, µm


def test_spanish_numero_is_not_code_mixed():
    text = "Vivo en el n\u00ba 5 de la calle"
    assert token_buckets(text) == ["latin"] * 7  # "5" has no letter
    assert m_index(text) == 0.0 and i_index(text) == 0.0
    assert m_index("n\u00ba 5") == 0.0 and len(set(token_buckets("n\u00ba 5"))) == 1


def test_japanese_prolonged_sound_mark_and_chinese():
    assert token_buckets("\u30b3\u30fc\u30d2\u30fc") == ["cjk"] * 4  # コーヒー: each char a token
    assert token_buckets(["\u30b3\u30fc\u30d2\u30fc", "\uff7a\uff70\uff8b\uff70"]) == ["cjk", "cjk"]  # ｺｰﾋｰ
    assert token_buckets("\u6211\u559c\u6b22\u732b") == ["cjk"] * 4  # 我喜欢猫
    assert m_index("\u30e9\u30fc\u30e1\u30f3\u3092\u98df\u3079\u308b") == 0.0  # ラーメンを食べる


def test_real_mixed_tokens():
    # Latin + Hiragana in one model token; Latin + Cyrillic in one word
    assert token_buckets(["Python\u306e", "caf\u00e9\u043a\u0430\u0444\u0435"]) == ["mixed", "mixed"]
    assert token_buckets(["n\u00ba\u732b"]) == ["mixed"]  # nº猫: Latin + Han
