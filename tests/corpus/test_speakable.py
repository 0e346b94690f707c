"""Speech that speaks its language: Japanese read from kana, Mandarin by the pinyin voice, and the
gate that refuses an utterance espeak-ng reads with another language's rules.

The checks read espeak-ng's own phoneme trace (``espeak-ng -x``), called here directly, not through
babelscope: a language switch shows as ``(en)`` etc. in it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from babelscope.corpus import synth
from babelscope.vocab.languages import VOICES
from babelscope.corpus.speakable import SpeechFallbackError, japanese_kana, speakable_text

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")

JAPANESE = ["猫は暖かい椅子の上で寝ています。", "私は毎朝駅へ歩いて行きます。", "東京の冬は寒いですが、空は青いです。",
            "友達に手紙を書きました。"]
MANDARIN = ["你好，我是学生。", "猫在温暖的椅子上睡觉。", "我每天早上坐火车去北京。", "今天的天气很好。"]


def _trace(text: str, voice: str) -> str:
    out = subprocess.run(["espeak-ng", "--stdin", "-v", voice, "-x", "-q"], input=text.encode(), capture_output=True,
                         check=True).stdout.decode()
    return " ".join(out.split())


def _switches(trace: str) -> list[str]:
    return re.findall(r"\(([a-z-]+)\)", trace)


def test_kana_readings_of_particles_and_long_vowels():
    # written by hand: は and へ are said "wa" and "e", を "o"; 東京 is トーキョー
    assert japanese_kana("私は学校へ行きます。") == "ワタクシワガッコーエイキマス。"
    assert japanese_kana("東京で手紙を書きました。") == "トーキョーデテガミオカキマシタ。"
    assert speakable_text("Hallo Welt", "deu") == "Hallo Welt"


@needs_espeak
def test_japanese_and_mandarin_are_read_without_falling_back_to_another_language():
    for text in JAPANESE:
        assert _switches(_trace(text, "ja")), f"the kanji of {text!r} should trip espeak-ng (the test must be able to fail)"
        spoken = speakable_text(text, "jpn")
        assert not re.search(r"[\u4e00-\u9fff]", spoken), spoken  # no kanji left
        assert _switches(_trace(spoken, VOICES["jpn"])) == [], (text, spoken)
    for text in MANDARIN:
        assert "en" in _switches(_trace(text, "cmn")), f"the voice 'cmn' reads {text!r} as English tone digits"
        trace = _trace(speakable_text(text, "cmn"), VOICES["cmn"])
        assert _switches(trace) == [] and re.search(r"\d", trace), (text, trace)  # pinyin with tone numbers
    # and what synthesize speaks passes its own gate: audio comes out
    for text, lang in ((JAPANESE[0], "jpn"), (MANDARIN[0], "cmn")):
        wav, fallback = synth.synthesize_checked(text, lang)
        assert fallback is None and wav.size > 16000 * 0.5


@needs_espeak
def test_the_gate_refuses_a_fallback_and_counts_it_when_allowed(tmp_path):
    from babelscope.corpus.synth_corpus import synthesize_corpus
    from babelscope.corpus.validate import validate_corpus

    with pytest.raises(SpeechFallbackError, match=r"voice 'ja' read '彼はWi-Fiを使います。' .* partly as en"):
        synth.synthesize("彼はWi-Fiを使います。", "jpn")
    src = tmp_path / "groups.jsonl"
    src.write_text("\n".join(json.dumps(g, ensure_ascii=False) for g in [
        {"group": "g1", "eng": "He uses the Wi-Fi.", "jpn": "彼はWi-Fiを使います。"},
        {"group": "g2", "eng": "The cat sleeps.", "jpn": "猫は寝ています。"}]) + "\n")
    with pytest.raises(Exception, match=r"groups\.jsonl, line 1: speech synthesis failed for group 'g1', language jpn"):
        synthesize_corpus(src, tmp_path / "c", progress=False)
    assert not (tmp_path / "c").exists()
    synthesize_corpus(src, tmp_path / "c", progress=False, allow_fallback=True)
    prov = json.loads((tmp_path / "c" / "synth.json").read_text())
    assert prov["fallbacks"] == {"jpn": ["g1-jpn-speech"]}
    rep = validate_corpus(tmp_path / "c")
    counts = rep.table.set_index(["lang", "modality"])["fallbacks"]
    assert counts[("jpn", "speech")] == 1 and counts[("eng", "speech")] == 0
    assert [p.kind for p in rep.warnings if p.kind == "fallback"] == ["fallback"]
    # the same count from espeak-ng again, without synth.json's list
    (tmp_path / "c" / "synth.json").unlink()
    again = validate_corpus(tmp_path / "c", check_speech=True).table.set_index(["lang", "modality"])["fallbacks"]
    assert again[("jpn", "speech")] == 1 and again.sum() == 1
