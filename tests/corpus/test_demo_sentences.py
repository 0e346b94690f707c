"""The demo corpus's sentences: complete, distinct, grammatical where a rule is easy to state, and
every one of them spoken by espeak-ng in its own language."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from babelscope.corpus.demo_corpus import DEMO_LANGS, demo_rows

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


def test_groups_are_complete_and_distinct():
    rows = demo_rows()
    assert len(rows) == 914 and len({r["group"] for r in rows}) == 914
    assert sum(r["split"] == "test" for r in rows) == 91
    for lang in DEMO_LANGS:
        texts = [r[lang] for r in rows]
        assert all(t.strip() for t in texts), lang
        assert len(set(texts)) == len(texts), (lang, [t for t in texts if texts.count(t) > 1][:3])


def test_everyday_groups_follow_the_grammar():
    by_eng = {r["eng"]: r for r in demo_rows()}
    # written by hand: German accusative and dative, French partitive and elision, Spanish negation
    assert by_eng["I have an umbrella."]["deu"] == "Ich habe einen Regenschirm."
    assert by_eng["We have a book."]["deu"] == "Wir haben ein Buch."
    assert by_eng["She has a watch."]["deu"] == "Sie hat eine Uhr."
    assert by_eng["I can't find the key."]["deu"] == "Ich finde den Schlüssel nicht."
    assert by_eng["The pen is under the bed."]["deu"] == "Der Stift ist unter dem Bett."
    assert by_eng["I need the book."]["fra"] == "J'ai besoin du livre."
    assert by_eng["We need the map."]["fra"] == "Nous avons besoin de la carte."
    assert by_eng["She needs the computer."]["fra"] == "Elle a besoin de l'ordinateur."
    assert by_eng["She can't find the ticket."]["spa"] == "Ella no encuentra el billete."
    assert by_eng["I can't find the ticket."]["spa"] == "No encuentro el billete."
    assert by_eng["It is one o'clock."]["spa"] == "Es la una."
    assert by_eng["Yesterday my sister went to Rome."]["fra"] == "Hier, ma sœur est allée à Rome."
    assert by_eng["Do you have a cup?"]["jpn"] == "カップがありますか。"


@needs_espeak
def test_every_sentence_is_spoken_in_its_language():
    """espeak-ng's phoneme trace of all sentences of a language (one call per language) has no
    switch to another language's rules."""
    from babelscope.corpus.speakable import speakable_text
    from babelscope.vocab.languages import VOICES

    rows = demo_rows()
    for lang in DEMO_LANGS:
        text = "\n".join(speakable_text(r[lang], lang) for r in rows)
        out = subprocess.run(["espeak-ng", "--stdin", "-v", VOICES[lang], "-x", "-q"], input=text.encode(),
                             capture_output=True, check=True).stdout.decode()
        switches = re.findall(r"\([a-z-]+\)", out)
        assert switches == [], (lang, switches[:5])
