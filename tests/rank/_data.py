"""Test data for ranking: a parallel samples table and an in-memory store over it."""

from __future__ import annotations

import numpy as np
import pandas as pd

from babelscope.rank import ArrayStore

LANGS = ("cmn", "deu", "eng", "fra", "jpn", "spa")


def make_samples(n_groups: int = 12, langs=LANGS) -> pd.DataFrame:
    """Every sentence group in every language, for the five tasks and both modalities."""
    rows = []
    for g in range(n_groups):
        for lang in langs:
            for task, modality, src, tgt in (("s2t", "speech", lang, "eng"), ("t2t", "text", lang, "eng"),
                                             ("asr", "speech", lang, lang),
                                             ("en2x_s2t", "speech", "eng", lang),
                                             ("en2x_t2t", "text", "eng", lang)):
                rows.append({"sample_id": f"{g}-{lang}-{task}", "corpus_id": f"{g}-{lang}-{modality}",
                             "group": f"g{g}", "task": task, "src_lang": src, "tgt_lang": tgt,
                             "modality": modality, "text": f"sentence {g} in {lang}"})
    return pd.DataFrame(rows)


SITES = {
    "speech_encoder.layers.0.ffn.fc1": dict(component="speech_encoder", group="ffn", layer=0, kind="linear"),
    "text_decoder.layers.0.self_attn.q_proj": dict(component="text_decoder", group="self_attn", layer=0,
                                                   kind="linear"),
    "text_decoder.layers.0.cross_attention.k_proj": dict(component="text_decoder", group="cross_attn",
                                                         layer=0, kind="linear"),
    "text_decoder.layers.0.ffn.fc1": dict(component="text_decoder", group="ffn", layer=0, kind="linear"),
    "text_decoder.layers.1.ffn.fc1": dict(component="text_decoder", group="ffn", layer=1, kind="linear"),
}
UNITS = {"speech_encoder.layers.0.ffn.fc1": 23, "text_decoder.layers.0.self_attn.q_proj": 17,
         "text_decoder.layers.0.cross_attention.k_proj": 11, "text_decoder.layers.0.ffn.fc1": 40,
         "text_decoder.layers.1.ffn.fc1": 29}
STEP_VIEWS = ("step=2/mean", "step=2/last", "step=7/mean")


def make_store(samples: pd.DataFrame, seed: int = 0, dtype=np.float32, missing_step7: float = 0.2) -> ArrayStore:
    """Random responses with ties (rounded values); speech-encoder rows of text samples are missing,
    and a share of samples has no response at step 7 (sequence ended early)."""
    rng = np.random.default_rng(seed)
    n = len(samples)
    arrays, valid = {}, {}
    speech = (samples["modality"] == "speech").to_numpy()
    ended = rng.random(n) < missing_step7
    for site, info in SITES.items():
        u = UNITS[site]
        if info["component"] == "speech_encoder" or info["group"] == "cross_attn":
            views = ("encoder",)
        else:
            views = STEP_VIEWS
        for v in views:
            x = np.round(rng.standard_normal((n, u)) * 2, 1).astype(dtype)
            ok = np.ones(n, bool)
            if info["component"] == "speech_encoder":
                ok = speech.copy()
            if v.startswith("step=7"):
                ok &= ~ended
            x[~ok] = np.nan
            arrays[(site, v)] = x
            valid[(site, v)] = ok
    return ArrayStore(samples, arrays, SITES, valid=valid, model="fake-model")
