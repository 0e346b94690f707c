"""BLEU / chrF++ / combined / WER / CER agree with direct sacreBLEU and jiwer calls."""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
import sacrebleu
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a
from sacrebleu.tokenizers.tokenizer_zh import TokenizerZh

from babelscope.errors import ConfigError
from babelscope.evaluate import quality

EN_HYP = ["The cat sat on the mat today.", "A quick brown dog jumps over the fence.",
          "We will meet again tomorrow morning."]
EN_REF = ["The cat is sitting on the mat today.", "The quick brown fox jumps over the lazy dog.",
          "We meet again tomorrow morning."]
ZH_HYP = ["今天天气很好，我们去公园散步。", "我喜欢喝绿茶。"]
ZH_REF = ["今天天气不错，我们去公园走走。", "我很喜欢喝红茶。"]
JA_HYP = ["今日はとても良い天気です。", "私は毎朝コーヒーを飲みます。"]
JA_REF = ["今日は天気がとても良いです。", "私は毎朝お茶を飲みます。"]


def _direct_bleu(h, r, tok):
    return sacrebleu.corpus_bleu(h, [r], tokenize=tok, use_effective_order=True).score


@pytest.mark.parametrize("hyps,refs,lang,tok", [(EN_HYP, EN_REF, "eng", "13a"),
                                                (ZH_HYP, ZH_REF, "cmn", "zh"),
                                                (JA_HYP, JA_REF, "jpn", "char")])
def test_bleu_matches_sacrebleu_with_language_tokenizer(hyps, refs, lang, tok):
    got = quality.bleu(hyps, refs, lang)
    assert got == pytest.approx(_direct_bleu(hyps, refs, tok), abs=1e-9)
    assert 0 < got < 100
    if tok != "13a":  # the tokenizer matters for these strings, so choosing it is tested
        assert abs(got - _direct_bleu(hyps, refs, "13a")) > 1.0


def test_bleu_tokenizer_choice_accepts_other_spellings():
    assert quality.bleu_tokenizer("zh") == "zh"
    assert quality.bleu_tokenizer("cmn_Hans") == "zh"
    assert quality.bleu_tokenizer("ja") == "char"
    assert quality.bleu_tokenizer("deu") == "13a"


def test_sentence_bleu_matches_sacrebleu():
    for hyps, refs, lang, tok in [(EN_HYP, EN_REF, "eng", "13a"), (ZH_HYP, ZH_REF, "cmn", "zh"),
                                  (JA_HYP, JA_REF, "jpn", "char")]:
        got = quality.sentence_bleu(hyps, refs, lang)
        want = [sacrebleu.sentence_bleu(h, [r], tokenize=tok, use_effective_order=True).score
                for h, r in zip(hyps, refs)]
        assert isinstance(got, np.ndarray) and got.shape == (len(hyps),)
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_bleu_per_sentence_languages_pools_statistics():
    hyps, refs = EN_HYP + ZH_HYP, EN_REF + ZH_REF
    langs = ["eng"] * len(EN_HYP) + ["cmn"] * len(ZH_HYP)
    t13a, tzh = Tokenizer13a(), TokenizerZh()
    h_tok = [t13a(h) for h in EN_HYP] + [tzh(h) for h in ZH_HYP]
    r_tok = [t13a(r) for r in EN_REF] + [tzh(r) for r in ZH_REF]
    want = sacrebleu.corpus_bleu(h_tok, [r_tok], tokenize="none", use_effective_order=True).score
    assert quality.bleu(hyps, refs, langs) == pytest.approx(want, abs=1e-9)
    # one shared tokenizer given per sentence is the plain corpus score
    assert quality.bleu(ZH_HYP, ZH_REF, ["cmn", "zh"]) == pytest.approx(
        _direct_bleu(ZH_HYP, ZH_REF, "zh"), abs=1e-9)


def test_chrf_is_chrf_plus_plus():
    for hyps, refs in [(EN_HYP, EN_REF), (ZH_HYP, ZH_REF)]:
        want = sacrebleu.corpus_chrf(hyps, [refs], char_order=6, word_order=2, beta=2).score
        assert quality.chrf(hyps, refs) == pytest.approx(want, abs=1e-9)
        plain_chrf = sacrebleu.corpus_chrf(hyps, [refs], char_order=6, word_order=0, beta=2).score
        assert abs(quality.chrf(hyps, refs) - plain_chrf) > 1e-3  # word n-grams count
        sent = quality.sentence_chrf(hyps, refs)
        want_s = [sacrebleu.sentence_chrf(h, [r], char_order=6, word_order=2, beta=2).score
                  for h, r in zip(hyps, refs)]
        np.testing.assert_allclose(sent, want_s, atol=1e-9)


def test_identical_texts_score_100():
    assert quality.bleu(EN_REF, EN_REF, "eng") == pytest.approx(100.0)
    assert quality.chrf(ZH_REF, ZH_REF) == pytest.approx(100.0)
    assert quality.combined(JA_REF, JA_REF, "jpn") == pytest.approx(100.0)


def test_combined_is_weighted_sum():
    b = _direct_bleu(EN_HYP, EN_REF, "13a")
    c = sacrebleu.corpus_chrf(EN_HYP, [EN_REF], char_order=6, word_order=2, beta=2).score
    assert quality.combined(EN_HYP, EN_REF, "eng") == pytest.approx(0.6 * b + 0.4 * c, abs=1e-9)
    np.testing.assert_allclose(quality.combine_scores(np.array([10.0, 50.0]), np.array([20.0, 0.0])),
                               [14.0, 30.0])
    assert quality.combine_scores(10.0, 20.0) == pytest.approx(14.0)


def test_wer_cer_lowercase_and_strip():
    assert quality.wer(["Hello World "], ["hello world"]) == 0.0
    assert quality.cer(["Hello World "], ["hello world"]) == 0.0
    assert jiwer.cer("hello world", "Hello World ") > 0  # raw jiwer would count the case change


def test_wer_cer_match_jiwer():
    hyps = ["The Cat sat on the mat ", " a quick brown fox", "hello there world"]
    refs = ["the cat sat on a mat", "The quick brown fox jumps", "Hello world"]
    nh = [h.lower().strip() for h in hyps]
    nr = [r.lower().strip() for r in refs]
    assert quality.wer(hyps, refs) == pytest.approx(jiwer.wer(nr, nh))
    assert quality.cer(hyps, refs) == pytest.approx(jiwer.cer(nr, nh))
    assert 0 < quality.wer(hyps, refs) < 1
    np.testing.assert_allclose(quality.sentence_wer(hyps, refs),
                               [jiwer.wer(r, h) for h, r in zip(nh, nr)])
    np.testing.assert_allclose(quality.sentence_cer(hyps, refs),
                               [jiwer.cer(r, h) for h, r in zip(nh, nr)])
    # hand check of one: "hello there world" vs "hello world" is one insertion over two words
    assert quality.sentence_wer(hyps, refs)[2] == pytest.approx(0.5)


def test_empty_corpus_is_nan():
    assert np.isnan(quality.bleu([], [], "eng"))
    assert np.isnan(quality.chrf([], []))
    assert np.isnan(quality.wer([], []))
    assert quality.sentence_chrf([], []).shape == (0,)


@pytest.mark.parametrize("fn", [lambda h, r: quality.bleu(h, r, "eng"), quality.chrf,
                                lambda h, r: quality.combined(h, r, "eng"),
                                lambda h, r: quality.sentence_bleu(h, r, "eng"),
                                quality.sentence_chrf, quality.wer, quality.cer,
                                quality.sentence_wer, quality.sentence_cer])
def test_length_mismatch_is_config_error(fn):
    with pytest.raises(ConfigError, match="hyps/refs"):
        fn(["a b", "c d"], ["a b"])


def test_bad_entries_and_languages_are_config_errors():
    with pytest.raises(ConfigError, match="refs: entry 1"):
        quality.chrf(["a", "b"], ["a", None])
    with pytest.raises(ConfigError, match="single string"):
        quality.wer("hello", "hello")
    with pytest.raises(ConfigError, match="tgt_lang"):
        quality.bleu(["a", "b"], ["a", "b"], ["eng"])
