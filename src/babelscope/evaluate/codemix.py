"""Code-mixing of an output text by script (METHODS §8, "Code-mixing").

Tokens
------
A text (``str``) is split into tokens by this rule:

1. split on whitespace;
2. inside each whitespace token, every CJK letter (Han, Hiragana, Katakana — scripts written without
   spaces) is a token of its own, and each maximal run of other characters is one token.

So ``"我喜欢Python和Java。"`` gives ``我 喜 欢 Python 和 Java。`` and ``"naïve café"`` gives two tokens.
A token list (any non-string sequence, e.g. the decoded model tokens) is used as given.

Buckets
-------
Each token's letters (Unicode category ``L*``) decide its bucket, by their Unicode Script property:

* ``latin`` — all letters Script=Latin (including full-width Latin and ``º``/``ª`` as in ``nº``);
* ``cjk`` — all letters Han, Hiragana or Katakana (incl. ``々`` and the prolonged sound mark ``ー``);
* ``other`` — all letters from other scripts (Cyrillic, Hangul, Arabic, ...);
* ``mixed`` — letters from more than one of these three classes (e.g. a model token ``Python编``, or
  ``Москваcity``). With rule 2 above, a string never yields a Latin+CJK mixed token.

Tokens with no letter (digits, punctuation, symbols, combining marks) are skipped: they neither
count as tokens nor break or make a switch. The few letters of Script=Common or Inherited take the
scripts their Script_Extensions property lists: ``ー`` (U+30FC; Hiragana, Katakana) and ``〆`` are
CJK, ``ʼ`` (U+02BC) is Latin, the Arabic tatweel ``ـ`` is other. Those it does not assign to any
script (``µ``, ``ℓ``, mathematical letters) belong to every script, and count as non-letters.
Letters and scripts both come from the ``regex`` module's Unicode tables.

Indices
-------
With ``p_j`` the share of (counted) tokens in bucket ``j`` and ``k`` the number of buckets seen:

* ``M = (1 - sum p_j^2) / ((k - 1) * sum p_j^2)``, ``0`` when ``k <= 1``;
* ``I = switch points / (tokens - 1)``, where a switch point is a pair of adjacent counted tokens in
  different buckets; ``0`` when there are fewer than 2 tokens.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence

import regex

BUCKETS: tuple[str, ...] = ("latin", "cjk", "mixed", "other")

_LETTER = regex.compile(r"\p{L}")
_SHARED = regex.compile(r"[\p{Script=Common}\p{Script=Inherited}]")
_LATIN = regex.compile(r"\p{Script=Latin}")
_CJK = regex.compile(r"[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]")
# for Common/Inherited letters: the scripts that use them (Script_Extensions)
_NO_SCRIPT_X = regex.compile(r"[\p{scx=Common}\p{scx=Inherited}]")
_LATIN_X = regex.compile(r"\p{scx=Latin}")
_CJK_X = regex.compile(r"[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}]")

Text = str | Sequence[str]


@functools.lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """``"latin"``, ``"cjk"`` or ``"other"`` for a letter; ``None`` for a non-letter or a letter of
    no particular script (see the module docstring)."""
    if _LETTER.match(ch) is None:
        return None
    if _SHARED.match(ch) is None:
        return "latin" if _LATIN.match(ch) else "cjk" if _CJK.match(ch) else "other"
    if _NO_SCRIPT_X.match(ch):
        return None
    return "cjk" if _CJK_X.match(ch) else "latin" if _LATIN_X.match(ch) else "other"


def tokenize(text: str) -> list[str]:
    """Split ``text`` into tokens by the rule in the module docstring."""
    tokens: list[str] = []
    for word in text.split():
        run = ""
        for ch in word:
            if char_script(ch) == "cjk":
                if run:
                    tokens.append(run)
                    run = ""
                tokens.append(ch)
            else:
                run += ch
        if run:
            tokens.append(run)
    return tokens


def token_bucket(token: str) -> str | None:
    """The script bucket of ``token``, or ``None`` when it has no letter."""
    scripts = {s for s in map(char_script, token) if s is not None}
    if not scripts:
        return None
    return scripts.pop() if len(scripts) == 1 else "mixed"


def token_buckets(text: Text) -> list[str]:
    """Buckets of the counted tokens of ``text`` (a string, or a list of tokens used as given)."""
    tokens = tokenize(text) if isinstance(text, str) else [str(t) for t in text]
    return [b for b in map(token_bucket, tokens) if b is not None]


def m_index(text: Text) -> float:
    """Multilingual index over the script buckets of ``text``'s tokens (0 for one bucket or none)."""
    counts = Counter(token_buckets(text))
    k = len(counts)
    if k <= 1:
        return 0.0
    n = sum(counts.values())
    sum_p2 = sum((c / n) ** 2 for c in counts.values())
    return (1.0 - sum_p2) / ((k - 1) * sum_p2)


def i_index(text: Text) -> float:
    """Integration index: share of adjacent token pairs that switch bucket (0 below 2 tokens)."""
    buckets = token_buckets(text)
    if len(buckets) < 2:
        return 0.0
    switches = sum(a != b for a, b in zip(buckets, buckets[1:]))
    return switches / (len(buckets) - 1)
