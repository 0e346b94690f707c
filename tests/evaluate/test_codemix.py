"""Code-mixing indices against values computed by hand."""

from __future__ import annotations

import pytest

from babelscope.evaluate.codemix import i_index, m_index, token_buckets, tokenize


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
