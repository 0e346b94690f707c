"""Output language identification (METHODS §8, "Output language").

:func:`identify_languages` names the language of each generated text and, when the expected (or
steered-to) language is given, the probability the identifier gives that language.

Backends
--------
* **py3langid** (default, offline, bundled model; loaded once per process and cached). It is asked for
  normalised probabilities over all of its languages (``norm_probs=True`` and ``rank``), so
  ``expected_prob`` is a real probability, comparable across texts.
* **fastText** ``lid.176.bin`` when ``fasttext_model=PATH`` is given; needs the ``fasttext`` module
  (``pip install fasttext``), which babelscope does not install. Its softmax over all 176 labels is used.

Identifier labels are mapped to ISO 639-3 (:func:`babelscope.vocab.languages.to_iso639_3`:
``en -> eng``, ``zh -> cmn``, ``ar -> arb``, ...); labels without a mapping are kept as given.

Texts without a language
------------------------
A text that is ``None``, empty, whitespace-only or has no letter at all (only digits, punctuation or
symbols) has no language: ``lid_lang == ""``, ``lid_prob == 0``, ``expected_prob == 0`` and
``is_expected == False``. The same holds for a text in which py3langid finds no known character
n-gram at all (e.g. ``"OK"``, ``"Hola"``, ``"Paris"``): it then returns a flat distribution over all
languages, whose top label (``sr``) is arbitrary.

Expected languages the identifier does not know (e.g. ``ast`` for py3langid, or any language left out
by ``langs=``) get ``expected_prob = NaN`` — not measurable, rather than measured zero — and
``is_expected = False``.
"""

from __future__ import annotations

import copy
import functools
import math
import os
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from babelscope.errors import ConfigError
from babelscope.vocab.languages import to_iso639_3

#: fastText lid.176 labels that mean something else than the ISO code they look like (``als`` is
#: Alemannic there, taken from Wikipedia's language codes)
FASTTEXT_OVERRIDES: dict[str, str] = {"als": "gsw"}

_FLAT_RATIO = 2.0 + 1e-6
"""py3langid returns a uniform distribution (aliased labels doubled) for text without any known
feature; a distribution whose top probability is at most this multiple of its lowest is treated as
'no language'."""

Distribution = dict[str, float]
"""Probability of each candidate language (ISO 639-3), summing to 1."""


def _has_language(text: str | None) -> bool:
    return isinstance(text, str) and any(ch.isalpha() for ch in text)


# --- py3langid --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _py3langid_base() -> Any:
    """The full py3langid identifier with normalised probabilities (loaded once)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    loader = getattr(LanguageIdentifier, "from_model_file", None) or getattr(
        LanguageIdentifier, "from_pickled_model")
    return loader(MODEL_FILE, norm_probs=True)


@functools.lru_cache(maxsize=16)
def _py3langid(langs: frozenset[str] | None) -> Any:
    """py3langid identifier, restricted to the labels ``langs`` when given (cached per set)."""
    base = _py3langid_base()
    if langs is None:
        return base
    restricted = copy.copy(base)  # set_languages re-assigns attributes, so a shallow copy is safe
    restricted.set_languages(sorted(langs))
    return restricted


def _py3langid_backend(langs: Sequence[str] | None) -> tuple[Callable[[str], Distribution], set[str]]:
    base = _py3langid_base()
    labels_by_code: dict[str, list[str]] = {}
    for label in base.labels:
        labels_by_code.setdefault(to_iso639_3(label), []).append(label)
    chosen: frozenset[str] | None = None
    if langs is not None:
        picked: set[str] = set()
        for code in langs:
            iso = to_iso639_3(str(code))
            if iso not in labels_by_code:
                raise ConfigError(f"langs: language {code!r} is unknown to py3langid "
                                  f"(known: {', '.join(sorted(labels_by_code))})")
            picked.update(labels_by_code[iso])
        chosen = frozenset(picked)
    identifier = _py3langid(chosen)

    def dist(text: str) -> Distribution:
        ranked = identifier.rank(text)
        probs = [float(p) for _, p in ranked]
        if len(probs) > 1 and max(probs) <= _FLAT_RATIO * min(probs):
            return {}  # no known character n-gram: a flat distribution, not an answer
        out: Distribution = {}
        for label, prob in ranked:
            code = to_iso639_3(label)
            out[code] = out.get(code, 0.0) + float(prob)
        return out

    known = {to_iso639_3(label) for label in identifier.labels}
    return dist, known


# --- fastText ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _fasttext_model(path: str) -> Any:
    try:
        import fasttext  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ConfigError(f"fasttext_model={path!r} needs the fasttext module, which is not "
                          "installed: pip install fasttext (or leave fasttext_model unset to use "
                          "the built-in py3langid identifier)") from exc
    return fasttext.load_model(path)


def _fasttext_code(label: str) -> str:
    raw = label.removeprefix("__label__")
    return FASTTEXT_OVERRIDES.get(raw, to_iso639_3(raw))


def _fasttext_backend(path: str | os.PathLike[str], langs: Sequence[str] | None
                      ) -> tuple[Callable[[str], Distribution], set[str]]:
    if not os.path.isfile(path):
        raise ConfigError(f"fasttext_model: no such file {str(path)!r} "
                          "(expected fastText's lid.176.bin)")
    model = _fasttext_model(str(path))
    known = {_fasttext_code(lab) for lab in model.get_labels()}
    keep: set[str] | None = None
    if langs is not None:
        keep = {to_iso639_3(str(code)) for code in langs}
        unknown = sorted(keep - known)
        if unknown:
            raise ConfigError(f"langs: language(s) {unknown} unknown to fastText model {str(path)!r}")
        known = keep

    def dist(text: str) -> Distribution:
        labels, probs = model.predict(text.replace("\n", " "), k=-1)
        out: Distribution = {}
        for label, prob in zip(labels, probs):
            code = _fasttext_code(label)
            if keep is None or code in keep:
                out[code] = out.get(code, 0.0) + float(prob)
        total = sum(out.values())
        return {c: p / total for c, p in out.items()} if total > 0 else out

    return dist, known


# --- public -----------------------------------------------------------------------------------


def _as_list(values: Sequence[Any] | str | None, n: int, name: str) -> list[Any] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return [values] * n
    out = list(values)
    if len(out) != n:
        raise ConfigError(f"{name}: {len(out)} values for {n} texts (lengths must match)")
    return out


def identify_languages(texts: Sequence[str | None], expected: Sequence[str] | str | None = None, *,
                       fasttext_model: str | os.PathLike[str] | None = None,
                       langs: Sequence[str] | None = None) -> pd.DataFrame:
    """Identify the language of each text.

    Args:
        texts: generated texts (``None`` counts as empty).
        expected: the expected language of each text (any code :func:`to_iso639_3` accepts), or one
            code for all texts, or ``None``.
        fasttext_model: path to fastText's ``lid.176.bin`` to use fastText instead of py3langid.
        langs: restrict the candidate languages to these codes (off by default); probabilities are
            then normalised over these languages only.

    Returns:
        One row per text (index ``0..n-1``) with ``lid_lang`` (ISO 639-3, ``""`` when the text has no
        language), ``lid_prob`` (probability of ``lid_lang``) and, when ``expected`` is given,
        ``expected_prob`` (probability of the expected language) and ``is_expected``.
    """
    if isinstance(texts, str):
        raise ConfigError("texts: expected a sequence of strings, got a single string")
    texts = list(texts)
    exp = _as_list(expected, len(texts), "expected")
    if langs is not None:
        langs = [langs] if isinstance(langs, str) else list(langs)
        if not langs:
            raise ConfigError("langs: empty list of candidate languages (use None for all)")
    if fasttext_model is not None:
        dist, known = _fasttext_backend(fasttext_model, langs)
    else:
        dist, known = _py3langid_backend(langs)

    rows: list[dict[str, Any]] = []
    for i, text in enumerate(texts):
        probs = dist(text) if _has_language(text) else {}
        if probs:
            lang, prob = max(probs.items(), key=lambda kv: kv[1])
        else:
            lang, prob = "", 0.0
        row: dict[str, Any] = {"lid_lang": lang, "lid_prob": float(prob)}
        if exp is not None:
            if not isinstance(exp[i], str) or not exp[i].strip():
                raise ConfigError(f"expected: entry {i} is {exp[i]!r}, not a language code")
            want = to_iso639_3(exp[i])
            if want not in known:
                row["expected_prob"] = math.nan
            else:
                row["expected_prob"] = float(probs.get(want, 0.0))
            row["is_expected"] = bool(lang != "" and lang == want)
        rows.append(row)
    columns = ["lid_lang", "lid_prob"] + (["expected_prob", "is_expected"] if exp is not None else [])
    frame = pd.DataFrame(rows, columns=columns)
    if exp is not None:
        frame["is_expected"] = frame["is_expected"].astype(bool)
    frame["lid_prob"] = frame["lid_prob"].astype(float)
    return frame
