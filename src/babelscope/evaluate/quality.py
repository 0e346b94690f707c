"""Translation and recognition quality (METHODS §8).

* BLEU: sacreBLEU with ``effective_order=True``; the tokenizer follows the target language
  (:data:`BLEU_TOKENIZERS`: ``zh`` for Chinese, ``char`` for Japanese — ``ja-mecab`` needs a download —
  and for the other scripts written without spaces, ``13a`` otherwise).
* chrF++: sacreBLEU ``CHRF(char_order=6, word_order=2, beta=2)``.
* combined = 0.6 * BLEU + 0.4 * chrF (both on sacreBLEU's 0-100 scale).
* WER and CER: jiwer, after lower-casing and stripping hypotheses and references.

Corpus-level functions return one float (NaN for zero sentences); ``sentence_*`` functions return one
value per sentence as a float array. Hypotheses and references are aligned lists of strings; a
length mismatch or a non-string entry is a :class:`ConfigError`.

``bleu``'s ``tgt_lang`` may be one code or one code per sentence. When the sentences of a corpus need
different tokenizers, each sentence is tokenized with its own and corpus BLEU is computed from the
pooled n-gram statistics (sacreBLEU with ``tokenize="none"`` on the pre-tokenized text), which equals
sacreBLEU's own result whenever all sentences share one tokenizer.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import jiwer
import numpy as np
from sacrebleu.metrics import BLEU, CHRF

from babelscope.errors import ConfigError
from babelscope.vocab.languages import to_iso639_3

BLEU_TOKENIZERS: dict[str, str] = {
    "cmn": "zh", "yue": "zh", "wuu": "zh",
    "jpn": "char", "tha": "char", "lao": "char", "khm": "char", "mya": "char",
}
"""sacreBLEU tokenizer per target language (ISO 639-3); any other language uses ``13a``."""

COMBINED_WEIGHTS: tuple[float, float] = (0.6, 0.4)
"""Weights of BLEU and chrF in the combined score."""

Langs = str | Sequence[str]


def bleu_tokenizer(tgt_lang: str) -> str:
    """The sacreBLEU tokenizer used for target language ``tgt_lang`` (any accepted code)."""
    return BLEU_TOKENIZERS.get(to_iso639_3(tgt_lang), "13a")


@functools.lru_cache(maxsize=None)
def _bleu_metric(tokenize: str) -> BLEU:
    return BLEU(effective_order=True, tokenize=tokenize)


@functools.lru_cache(maxsize=1)
def _chrf_metric() -> CHRF:
    return CHRF(char_order=6, word_order=2, beta=2)


def _check(hyps: Sequence[Any], refs: Sequence[Any]) -> tuple[list[str], list[str]]:
    if isinstance(hyps, str) or isinstance(refs, str):
        raise ConfigError("hyps/refs: expected sequences of strings, got a single string")
    h, r = list(hyps), list(refs)
    if len(h) != len(r):
        raise ConfigError(f"hyps/refs: {len(h)} hypotheses but {len(r)} references "
                          "(lengths must match)")
    for name, seq in (("hyps", h), ("refs", r)):
        for i, s in enumerate(seq):
            if not isinstance(s, str):
                raise ConfigError(f"{name}: entry {i} is {type(s).__name__} {s!r}, not a string")
    return h, r


def _tokenizers(tgt_lang: Langs, n: int) -> list[str]:
    if isinstance(tgt_lang, str):
        return [bleu_tokenizer(tgt_lang)] * n
    langs = list(tgt_lang)
    if len(langs) != n:
        raise ConfigError(f"tgt_lang: {len(langs)} languages for {n} sentences (lengths must match)")
    return [bleu_tokenizer(str(lang)) for lang in langs]


def bleu(hyps: Sequence[str], refs: Sequence[str], tgt_lang: Langs) -> float:
    """Corpus BLEU (0-100) of ``hyps`` against one reference each, tokenized for ``tgt_lang``."""
    h, r = _check(hyps, refs)
    if not h:
        return math.nan
    toks = _tokenizers(tgt_lang, len(h))
    if len(set(toks)) == 1:
        return float(_bleu_metric(toks[0]).corpus_score(h, [r]).score)
    tok_objs = {t: _bleu_metric(t).tokenizer for t in set(toks)}
    h_tok = [tok_objs[t](s.rstrip()) for t, s in zip(toks, h)]
    r_tok = [tok_objs[t](s.rstrip()) for t, s in zip(toks, r)]
    return float(_bleu_metric("none").corpus_score(h_tok, [r_tok]).score)


def sentence_bleu(hyps: Sequence[str], refs: Sequence[str], tgt_lang: Langs) -> np.ndarray:
    """Sentence BLEU (0-100) of each hypothesis, same settings as :func:`bleu`."""
    h, r = _check(hyps, refs)
    toks = _tokenizers(tgt_lang, len(h))
    return np.array([_bleu_metric(t).sentence_score(a, [b]).score for t, a, b in zip(toks, h, r)],
                    dtype=float)


def chrf(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF++ (0-100): character order 6, word order 2, beta 2."""
    h, r = _check(hyps, refs)
    if not h:
        return math.nan
    return float(_chrf_metric().corpus_score(h, [r]).score)


def sentence_chrf(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """Sentence chrF++ (0-100) of each hypothesis, same settings as :func:`chrf`."""
    h, r = _check(hyps, refs)
    metric = _chrf_metric()
    return np.array([metric.sentence_score(a, [b]).score for a, b in zip(h, r)], dtype=float)


def combine_scores(bleu_score: Any, chrf_score: Any) -> Any:
    """``0.6 * BLEU + 0.4 * chrF`` for floats or arrays of matching shape."""
    wb, wc = COMBINED_WEIGHTS
    out = wb * np.asarray(bleu_score, dtype=float) + wc * np.asarray(chrf_score, dtype=float)
    return float(out) if out.ndim == 0 else out


def combined(hyps: Sequence[str], refs: Sequence[str], tgt_lang: Langs) -> float:
    """Corpus-level combined score ``0.6 * bleu + 0.4 * chrf``."""
    return float(combine_scores(bleu(hyps, refs, tgt_lang), chrf(hyps, refs)))


def _normalise(hyps: Sequence[str], refs: Sequence[str]) -> tuple[list[str], list[str]]:
    h, r = _check(hyps, refs)
    return [s.lower().strip() for s in h], [s.lower().strip() for s in r]


def wer(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus word error rate (total word edits / total reference words), lower-cased and stripped."""
    h, r = _normalise(hyps, refs)
    return float(jiwer.wer(r, h)) if h else math.nan


def cer(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus character error rate, lower-cased and stripped."""
    h, r = _normalise(hyps, refs)
    return float(jiwer.cer(r, h)) if h else math.nan


def sentence_wer(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """Word error rate of each hypothesis against its reference (jiwer), lower-cased and stripped."""
    h, r = _normalise(hyps, refs)
    return np.array([jiwer.wer(b, a) for a, b in zip(h, r)], dtype=float)


def sentence_cer(hyps: Sequence[str], refs: Sequence[str]) -> np.ndarray:
    """Character error rate of each hypothesis against its reference (jiwer)."""
    h, r = _normalise(hyps, refs)
    return np.array([jiwer.cer(b, a) for a, b in zip(h, r)], dtype=float)
