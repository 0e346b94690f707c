"""Small tokenizers made by the project, for the built-in models.

* SeamlessM4T: a SentencePiece BPE model whose ids follow the real checkpoint's convention
  (``<unk>``=0, ``<s>``=1, ``</s>``=2 in the SentencePiece file; transformers adds the fairseq
  offset so ``<pad>``=0, ``<unk>``=1, ``<s>``=2, ``</s>``=3) plus ``__xxx__`` language tokens.
* Whisper: a byte-level BPE (Whisper's own tokenizer family) with Whisper's special tokens.

Both are trained on the given texts, single-threaded, so the same texts give the same files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence


def build_seamless_tokenizer(texts: Sequence[str], langs: Sequence[str], out_dir: Path, vocab_size: int = 1000):
    import sentencepiece as spm
    from transformers import SeamlessM4TTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)), model_prefix=str(out_dir / "sentencepiece.bpe"),
        vocab_size=vocab_size, model_type="bpe", character_coverage=1.0, num_threads=1,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, seed_sentencepiece_size=100000,
        shuffle_input_sentence=False)
    (out_dir / "sentencepiece.bpe.vocab").unlink(missing_ok=True)
    tok = SeamlessM4TTokenizer(vocab_file=str(out_dir / "sentencepiece.bpe.model"),
                               additional_special_tokens=[f"__{l}__" for l in langs])
    tok.save_pretrained(str(out_dir))
    # transformers 5 writes a tokenizer.json for this model that does not reload (NOTES.md);
    # the SentencePiece file plus tokenizer_config.json is the reloadable form.
    (out_dir / "tokenizer.json").unlink(missing_ok=True)
    return SeamlessM4TTokenizer.from_pretrained(str(out_dir))


WHISPER_SPECIALS_AFTER_LANGS = ("<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>",
                                "<|nospeech|>", "<|notimestamps|>")


def build_whisper_tokenizer(texts: Sequence[str], whisper_langs: Sequence[str], out_dir: Path,
                            vocab_size: int = 800):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import WhisperTokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    tk.train_from_iterator(list(texts), trainer)
    spec = json.loads(tk.to_str())
    vocab = spec["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in spec["model"]["merges"]]
    tok = WhisperTokenizer(vocab=vocab, merges=merges)
    specials = ["<|startoftranscript|>"] + [f"<|{l}|>" for l in whisper_langs] + list(WHISPER_SPECIALS_AFTER_LANGS)
    tok.add_special_tokens({"additional_special_tokens": specials})
    tok.save_pretrained(str(out_dir))
    return WhisperTokenizer.from_pretrained(str(out_dir))


def build_bos_tokenizer(texts: Sequence[str], langs: Sequence[str], out_dir: Path, vocab_size: int = 800):
    """A byte-level BPE with ``<s> <pad> </s> <unk>`` and one ``__xxx__`` token per language: the
    forced-first-token convention of encoder-decoder models that name the output language that way."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>"] + [f"__{l}__" for l in langs]
    tk = Tokenizer(models.BPE(unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=specials, show_progress=False)
    tk.train_from_iterator(list(texts), trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<s>", pad_token="<pad>", eos_token="</s>",
                                  unk_token="<unk>", additional_special_tokens=specials[4:])
    tok.save_pretrained(str(out_dir))
    return PreTrainedTokenizerFast.from_pretrained(str(out_dir))
