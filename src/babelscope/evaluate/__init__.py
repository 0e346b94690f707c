"""Output metrics (METHODS §8): output language, translation and recognition quality, code-mixing,
and bootstrap confidence intervals, per sample and per group.

Modules: :mod:`.lid` (language identification), :mod:`.quality` (BLEU, chrF++, combined, WER, CER),
:mod:`.codemix` (M- and I-index by script), :mod:`.bootstrap` (percentile and paired bootstrap),
:mod:`.summary` (score a table of outputs, summarise per group); language codes come from :mod:`babelscope.vocab.languages`.
Everything runs offline.
"""

from babelscope.evaluate.bootstrap import bootstrap_ci, paired_diff_ci
from babelscope.evaluate.codemix import i_index, m_index, token_buckets, tokenize
from babelscope.vocab.languages import to_iso639_3
from babelscope.evaluate.lid import identify_languages
from babelscope.evaluate.quality import (bleu, bleu_tokenizer, cer, chrf, combine_scores, combined,
                                         sentence_bleu, sentence_cer, sentence_chrf, sentence_wer,
                                         wer)
from babelscope.evaluate.summary import score_outputs, summarize

__all__ = [
    "bleu", "bleu_tokenizer", "bootstrap_ci", "cer", "chrf", "combine_scores", "combined",
    "i_index", "identify_languages", "m_index", "paired_diff_ci", "score_outputs", "sentence_bleu",
    "sentence_cer", "sentence_chrf", "sentence_wer", "summarize", "to_iso639_3", "token_buckets",
    "tokenize", "wer",
]
