"""Train babel-mini: a small SeamlessM4T v2 (same transformers class as the real model) on the demo corpus.

Recipe (every number is an argument of :func:`train_mini`):

* data: the ``train`` split of the demo corpus (text and espeak-ng speech, six languages), the five
  tasks of METHODS §1 built by :func:`babelscope.corpus.build_task_samples`;
* tokenizer: SentencePiece BPE trained on the training texts, plus ``__xxx__`` language tokens;
* model: ``SeamlessM4Tv2Model``, hidden 192, 4 heads, text encoder 2 layers, speech encoder 3
  layers, decoder 3 layers, FFN 768, adaptor stride 8;
* optimisation: AdamW, linear warm-up then cosine decay, label smoothing 0.1, gradient clipping 1.0;
  steps alternate between a speech batch of 12 (asr, s2t, en2x_s2t mixed) and a text batch of 32 (t2t, en2x_t2t);
* inputs go through the same adapter code as inference (:meth:`SeamlessAdapter.prepare`, with the
  adaptor's padding fix), so training and analysis see identical features.

Seeded: the same arguments on the same machine give the same weights.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from babelscope.errors import ConfigError


@dataclass
class MiniConfig:
    steps: int = 2400
    seed: int = 0
    lr: float = 1e-3
    warmup: int = 200
    speech_batch: int = 12
    text_batch: int = 32
    label_smoothing: float = 0.1
    vocab_size: int = 2000
    hidden: int = 192
    heads: int = 4
    ffn: int = 768
    text_encoder_layers: int = 2
    speech_encoder_layers: int = 3
    decoder_layers: int = 3
    dropout: float = 0.1
    threads: int = 2

    def validate(self) -> None:
        for name in ("steps", "speech_batch", "text_batch", "vocab_size", "hidden", "heads", "ffn", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"train-mini: {name} must be >= 1, got {getattr(self, name)}")
        if self.hidden % self.heads:
            raise ConfigError(f"train-mini: hidden ({self.hidden}) must be divisible by heads ({self.heads})")


def mini_model_config(tok, cfg: MiniConfig):
    from transformers import SeamlessM4Tv2Config

    from babelscope.models.builtin import MINIMAL_SPEECH_GENERATION

    return SeamlessM4Tv2Config(
        vocab_size=len(tok), hidden_size=cfg.hidden, encoder_layers=cfg.text_encoder_layers,
        decoder_layers=cfg.decoder_layers, encoder_ffn_dim=cfg.ffn, decoder_ffn_dim=cfg.ffn,
        encoder_attention_heads=cfg.heads, decoder_attention_heads=cfg.heads,
        speech_encoder_layers=cfg.speech_encoder_layers, speech_encoder_attention_heads=cfg.heads,
        speech_encoder_intermediate_size=cfg.ffn, conv_depthwise_kernel_size=15, adaptor_stride=8,
        max_position_embeddings=256, max_new_tokens=64,
        pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
        decoder_start_token_id=tok.eos_token_id, encoder_layerdrop=0.0, decoder_layerdrop=0.0,
        speech_encoder_layerdrop=0.0, dropout=cfg.dropout, attention_dropout=0.0, activation_dropout=0.0,
        adaptor_dropout=cfg.dropout, speech_encoder_dropout=cfg.dropout,
        **MINIMAL_SPEECH_GENERATION)


def _targets(tok, samples, lang_ids: dict[str, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoder inputs, attention mask and labels for ``[</s>, __tgt__, tokens..., </s>]``.

    The first label (``__tgt__``) is masked: generation is always given it.
    """
    eos, pad = tok.eos_token_id, tok.pad_token_id
    seqs = [[eos, lang_ids[s.tgt_lang]] + tok.encode(s.reference, add_special_tokens=False) + [eos] for s in samples]
    L = max(len(q) for q in seqs) - 1
    dec = torch.full((len(seqs), L), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), L), dtype=torch.long)
    labels = torch.full((len(seqs), L), -100, dtype=torch.long)
    for i, q in enumerate(seqs):
        n = len(q) - 1
        dec[i, :n] = torch.tensor(q[:-1])
        mask[i, :n] = 1
        labels[i, 1:n] = torch.tensor(q[2:])
    return dec, mask, labels


def _lr(step: int, cfg: MiniConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def train_mini(out: str | Path, corpus_dir: str | Path, cfg: MiniConfig | None = None, *,
               progress: bool = True, log=print) -> Path:
    """Train babel-mini into ``out`` (an ordinary Hugging Face model folder); returns ``out``."""
    from transformers import SeamlessM4TFeatureExtractor, SeamlessM4Tv2Model

    from babelscope.corpus import build_task_samples, read_manifest
    from babelscope.corpus.audio import read_audio
    from babelscope.models import quiet_transformers
    from babelscope.models.builtin import DEMO_LANGS, write_generation_config
    from babelscope.models.seamless import SeamlessAdapter
    from babelscope.models.tokenizer_build import build_seamless_tokenizer
    from babelscope.progress import progress_bar

    cfg = cfg or MiniConfig()
    cfg.validate()
    quiet_transformers()
    torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = read_manifest(corpus_dir)
    train_records = [r for r in corpus.records if r.split in (None, "train")]
    if not train_records:
        raise ConfigError(f"{corpus_dir}: no training records (split 'train')")
    samples = build_task_samples(corpus, ["asr", "s2t", "t2t", "en2x_s2t", "en2x_t2t"],
                                 split="train" if train_records[0].split else None)
    speech = [s for s in samples if s.modality == "speech" and s.reference]
    text = [s for s in samples if s.modality == "text" and s.reference]
    log(f"train-mini: {len(speech)} speech and {len(text)} text samples from {len(train_records)} records")

    texts = sorted({r.text for r in train_records if r.modality == "text"})
    tok = build_seamless_tokenizer(texts, DEMO_LANGS, out, vocab_size=cfg.vocab_size)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = SeamlessM4Tv2Model(mini_model_config(tok, cfg))
    fe = SeamlessM4TFeatureExtractor()
    lang_ids = {l: tok.convert_tokens_to_ids(f"__{l}__") for l in DEMO_LANGS}
    model.generation_config.text_decoder_lang_to_code_id = lang_ids
    adapter = SeamlessAdapter(model, tok, fe, name="babel-mini", source={"id": "babel-mini"})
    model.train()  # the adapter puts the model in eval mode
    n_params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith(("t2u_model", "vocoder")))
    log(f"train-mini: {n_params / 1e6:.2f} M parameters (without speech generation)")
    audio = {s.audio: read_audio(s.audio, 16000) for s in speech}

    params = [p for n, p in model.named_parameters() if not n.startswith(("t2u_model", "vocoder"))]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    rng = random.Random(cfg.seed)
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100, label_smoothing=cfg.label_smoothing)
    log_path = out / "training_log.jsonl"
    t0, history = time.time(), []
    with log_path.open("w") as logf, progress_bar(progress, "train babel-mini", total=cfg.steps) as advance:
        for step in range(cfg.steps):
            is_speech = step % 2 == 0
            pool, bs = (speech, cfg.speech_batch) if is_speech else (text, cfg.text_batch)
            batch_samples = rng.sample(pool, bs)
            batch = adapter.prepare(batch_samples, [audio.get(s.audio) for s in batch_samples])
            dec, dmask, labels = _targets(tok, batch_samples, lang_ids)
            for g in opt.param_groups:
                g["lr"] = _lr(step, cfg)
            kwargs = dict(batch.inputs)
            with adapter.batch_invariance(batch):
                logits = model(**kwargs, decoder_input_ids=dec, decoder_attention_mask=dmask).logits
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            history.append(float(loss.detach()))
            if (step + 1) % 50 == 0 or step + 1 == cfg.steps:
                rec = {"step": step + 1, "loss": float(np.mean(history[-50:])), "lr": _lr(step, cfg),
                       "elapsed_s": round(time.time() - t0, 1)}
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                if not progress:
                    log(f"train-mini: {rec}")
            advance(1)
    model.eval()
    minutes = (time.time() - t0) / 60
    # float16 on disk keeps the shipped file small; it loads back as float32
    model.half().save_pretrained(str(out))
    fe.save_pretrained(str(out))
    write_generation_config(out, {
        "text_decoder_lang_to_code_id": lang_ids, "decoder_start_token_id": tok.eos_token_id,
        "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id, "bos_token_id": tok.bos_token_id})
    (out / "training.json").write_text(json.dumps({
        "config": asdict(cfg), "train_records": len(train_records), "speech_samples": len(speech),
        "text_samples": len(text), "parameters_without_speech_generation": n_params,
        "train_minutes": round(minutes, 1), "final_loss": float(np.mean(history[-50:])),
        "torch": torch.__version__}, indent=2))
    log(f"train-mini: done in {minutes:.1f} min, final loss {np.mean(history[-50:]):.3f}")
    return out
