"""What espeak-ng is given to read, and a check that it read it in the language asked for.

espeak-ng 1.51 has no reading for kanji: its Japanese voice says the English words "Chinese letter"
(or "Japanese letter") for each one, while it reads kana correctly. Japanese text is therefore
turned into its pronunciation in katakana first, with MeCab's UniDic dictionary (``fugashi`` +
``unidic-lite``): the ``pron`` field of each word gives how it is said, so the particles は, へ and
を come out as ワ, エ and オ, and long vowels as ー. The text record keeps the original script; only
the synthesizer sees the kana.

Mandarin uses the voice ``cmn-latn-pinyin`` (see :data:`babelscope.vocab.languages.VOICES`): the voice
named ``cmn`` turns Hanzi into pinyin with tone digits and then reads the digits in English.

**The gate.** espeak-ng's phoneme trace (``-x``) marks every switch to another language's rules
with that language in parentheses — ``(en)tS'aIni:z(ja)l'et@`` is "Chinese letter" read in
English inside Japanese. :func:`fallbacks` finds those marks; :func:`check_speakable` refuses an
utterance that has any.
"""

from __future__ import annotations

import functools
import re
import subprocess
from dataclasses import dataclass

from babelscope.errors import AudioError, ConfigError

#: a language switch in espeak-ng's phoneme trace: "(en)", "(ja)", "(en-us)", "(cmn)"
_SWITCH = re.compile(r"\(([a-z]{2,3}(?:-[a-z0-9]+)*)\)")
#: the pronunciation of a word MeCab does not know is "*" or missing; the surface form is used then
_NO_PRON = {"", "*"}


class SpeechFallbackError(AudioError):
    """espeak-ng read (part of) an utterance with another language's rules."""


@dataclass(frozen=True)
class Fallback:
    text: str          # the sentence as given
    spoken: str        # what espeak-ng was given (kana for Japanese)
    lang: str
    voice: str
    switched_to: tuple[str, ...]
    trace: str

    def describe(self) -> str:
        frag = self.trace if len(self.trace) <= 120 else self.trace[:117] + "..."
        spoken = "" if self.spoken == self.text else f" (read as {self.spoken!r})"
        return (f"espeak-ng voice {self.voice!r} read {self.text!r}{spoken} partly as "
                f"{', '.join(self.switched_to)}: phonemes {frag!r}")


@functools.lru_cache(maxsize=1)
def _tagger():
    try:
        import fugashi
        import unidic_lite
    except ImportError:  # pragma: no cover - both are dependencies of babelscope
        raise ConfigError("Japanese speech needs the packages fugashi and unidic-lite (pip install fugashi "
                          "unidic-lite); they are dependencies of babelscope") from None
    return fugashi.Tagger(f"-d {unidic_lite.DICDIR}")


def japanese_kana(text: str) -> str:
    """The pronunciation of Japanese ``text`` in katakana (UniDic's ``pron``), punctuation kept."""
    out = []
    for word in _tagger()(text):
        pron = getattr(word.feature, "pron", None)
        out.append(word.surface if pron is None or pron in _NO_PRON else pron)
        if word.white_space:
            out.insert(-1, word.white_space)
    return "".join(out)


def speakable_text(text: str, lang: str) -> str:
    """What espeak-ng is given for ``text`` in ``lang`` (the text itself, or Japanese as kana)."""
    return japanese_kana(text) if lang == "jpn" else text


def phoneme_trace(text: str, voice: str, espeak: str) -> str:
    """espeak-ng's phoneme mnemonics for ``text`` read by ``voice`` (its ``-x`` output, one line)."""
    proc = subprocess.run([espeak, "--stdin", "-v", voice, "-x", "-q"], input=text.encode("utf-8"),
                          capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise AudioError(f"espeak-ng failed on {text!r} (voice {voice}): "
                         f"{proc.stderr.decode(errors='replace').strip()}")
    return " ".join(proc.stdout.decode("utf-8", errors="replace").split())


def fallbacks(trace: str) -> tuple[str, ...]:
    """The languages espeak-ng switched to in ``trace`` (in order, each once); () when none."""
    return tuple(dict.fromkeys(_SWITCH.findall(trace)))


def check_speakable(text: str, lang: str, voice: str, espeak: str) -> tuple[str, Fallback | None]:
    """``(what to synthesize, the fallback or None)`` for ``text`` in ``lang`` read by ``voice``."""
    spoken = speakable_text(text, lang)
    trace = phoneme_trace(spoken, voice, espeak)
    switched = fallbacks(trace)
    return spoken, (Fallback(text, spoken, lang, voice, switched, trace) if switched else None)
