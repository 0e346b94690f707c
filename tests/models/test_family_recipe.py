"""docs/architecture.md, "add a model family": one adapter class and one registry entry, both made inside
this test (a text-only mBART with the output language forced as the decoder's first token, a family
babelscope does not ship). Loading by folder, the dry run's site plan, ``babelscope models`` and
recording then work without touching any other file; what is recorded is checked against plain
transformers calls on the same model."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pytest
import torch

from babelscope.corpus import build_task_samples, read_manifest
from babelscope.models.base import ModelAdapter, PreparedBatch, load_weights
from babelscope.models.registry import FAMILIES, Family

STEPS = (1, 2, 4)


class ToyTextAdapter(ModelAdapter):
    """``MBartForConditionalGeneration`` on text; the decoder starts from ``[</s>, __xxx__]``."""

    family = "toy_text"
    task_requests = {t: "forced first token = the target language's token" for t in ("t2t", "en2x_t2t")}
    input_modalities = ("text",)
    component_prefixes = {"model.encoder.": "text_encoder", "model.decoder.": "text_decoder"}
    #: a site rule of this family: the norm right after the embedding is grouped with the embedding
    site_groups = {"layernorm_embedding": "embed"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        table = getattr(self.model.generation_config, "lang_to_id", None) or {}
        self._lang_ids = {tok.strip("_"): int(i) for tok, i in table.items()}
        self.language_codes = {lang: lang for lang in self._lang_ids}

    @classmethod
    def hf_model_class(cls) -> type:
        from transformers import MBartForConditionalGeneration

        return MBartForConditionalGeneration

    @classmethod
    def load(cls, path: str, *, name: str, source: dict[str, Any], device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> "ToyTextAdapter":
        from transformers import AutoTokenizer

        model = load_weights(cls.hf_model_class(), path, dtype=dtype)
        return cls(model, AutoTokenizer.from_pretrained(path), None, name=name, source=source, device=device)

    @property
    def eos_token_id(self) -> int:
        return int(self.model.config.eos_token_id)

    @property
    def decoder_prompt_length(self) -> int:
        return 2

    def excluded_module(self, name: str) -> bool:
        return name.rsplit(".", 1)[-1] in ("embed_positions", "lm_head")

    def batch_key(self, sample) -> tuple:
        return (sample.modality,)

    def prepare(self, samples: Sequence, audio: Sequence[np.ndarray | None]) -> PreparedBatch:
        enc = self.tokenizer([s.text for s in samples], padding=True, return_tensors="pt")
        start = int(self.model.config.decoder_start_token_id)
        prompt = torch.tensor([[start, self._lang_ids[self.model_lang(s.tgt_lang)]] for s in samples])
        return PreparedBatch(inputs={"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"]},
                             modality="text", tgt_lang="+".join(sorted({s.tgt_lang for s in samples})),
                             task="+".join(sorted({s.task for s in samples})),
                             lengths_by_time={enc["input_ids"].shape[1]: enc["attention_mask"].sum(1)},
                             extra={"decoder_input_ids": prompt})

    def generate(self, batch: PreparedBatch, max_new_tokens: int) -> torch.Tensor:
        with torch.inference_mode():
            return self.model.generate(**batch.inputs, decoder_input_ids=batch.extra["decoder_input_ids"],
                                       max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)

    def decoder_input_module(self) -> torch.nn.Module:
        return self.model.model.decoder.embed_tokens


@pytest.fixture(scope="module")
def toy_folder(tmp_path_factory):
    from transformers import MBartConfig, MBartForConditionalGeneration

    from babelscope.models.builtin import DEMO_LANGS, seed_texts, write_generation_config
    from babelscope.models.tokenizer_build import build_bos_tokenizer

    out = tmp_path_factory.mktemp("toy-mbart")
    tok = build_bos_tokenizer(seed_texts(), DEMO_LANGS, out)
    ids = tok.convert_tokens_to_ids
    cfg = MBartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=2, encoder_attention_heads=2,
                      decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=128,
                      dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, init_std=0.2,
                      pad_token_id=ids("<pad>"), bos_token_id=ids("<s>"), eos_token_id=ids("</s>"),
                      decoder_start_token_id=ids("</s>"), forced_eos_token_id=None)
    torch.manual_seed(0)
    MBartForConditionalGeneration(cfg).eval().save_pretrained(str(out))
    write_generation_config(out, {"lang_to_id": {f"__{l}__": ids(f"__{l}__") for l in DEMO_LANGS},
                                  "decoder_start_token_id": ids("</s>"), "eos_token_id": ids("</s>"),
                                  "pad_token_id": ids("<pad>"), "bos_token_id": ids("<s>"),
                                  "forced_eos_token_id": None})
    return out


@pytest.fixture
def registered(monkeypatch):
    """The recipe's one registry line, for the duration of a test."""
    monkeypatch.setitem(FAMILIES, "toy_text", Family("toy_text", f"{__name__}:ToyTextAdapter", ("mbart",)))


def _module_names(model, prefix, kinds):
    return {prefix + n for n, m in model.get_submodule(prefix.rstrip(".")).named_modules()
            if isinstance(m, kinds) and not n.endswith("embed_positions")}


def test_unregistered_model_type_is_refused_by_name(toy_folder):
    from babelscope.errors import ModelLoadError
    from babelscope.models import load_model

    with pytest.raises(ModelLoadError, match="model_type 'mbart'"):
        load_model(str(toy_folder))


def test_recipe_a_new_family_loads_plans_lists_and_records(registered, toy_folder, corpus_dir, tmp_path):
    from typer.testing import CliRunner

    from babelscope.cli import app
    from babelscope.models import load_model, meta_adapter
    from babelscope.record import RecordSettings, record

    adapter = load_model(str(toy_folder))
    assert type(adapter) is ToyTextAdapter and adapter.describe()["family"] == "toy_text"
    model = adapter.model

    # sites: every Linear / LayerNorm / Embedding of both stacks (plain module walk), cross-attention K/V
    # on the encoder stream, and the dry run plans the same sites from the config alone
    sites = {s.name: s for s in adapter.sites()}
    want = set()
    for prefix in ToyTextAdapter.component_prefixes:
        want |= _module_names(model, prefix, (torch.nn.Linear, torch.nn.LayerNorm, torch.nn.Embedding))
    assert {n for n, s in sites.items() if s.kind not in ("post_act", "layer")} == want
    # layer outputs: the children of each stack's ``layers`` ModuleList, as wide as the model
    layers = {n for prefix in ToyTextAdapter.component_prefixes
              for n, m in model.named_modules() if n.startswith(prefix) and n.rpartition(".")[2].isdigit()
              and isinstance(model.get_submodule(n.rpartition(".")[0]), torch.nn.ModuleList)}
    assert {n for n, s in sites.items() if s.kind == "layer"} == layers and layers
    assert {s.n_units for s in sites.values() if s.kind == "layer"} == {model.config.d_model}
    assert {s.component for s in sites.values()} == {"text_encoder", "text_decoder"}
    assert sites["model.decoder.layernorm_embedding"].group == "embed"
    assert sites["model.decoder.layers.1.final_layer_norm"].group == "norm"
    assert sites["model.decoder.layers.1.fc1"].layer == 1
    kv = [n for n in sites if "encoder_attn." in n and n.endswith(("k_proj", "v_proj"))]
    assert len(kv) == 4 and {sites[n].stream for n in kv} == {"encoder"}
    assert [s.name for s in meta_adapter(str(toy_folder)).sites()] == [s.name for s in adapter.sites()]

    # babelscope models lists the family with its tasks
    res = CliRunner().invoke(app, ["models"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "toy_text" in res.output and "en2x_t2t" in res.output

    # recording: tokens equal transformers' own generate (forced_bos_token_id), batch 1; decoder steps equal
    # a fresh forward over each prefix; encoder responses equal the mean over the unpadded tokens
    samples = build_task_samples(read_manifest(corpus_dir), ["t2t", "en2x_t2t"], max_groups=2)
    st = record(adapter, samples, tmp_path / "store",
                RecordSettings(steps=STEPS, sites=("*",), batch_size=4, max_new_tokens=6), progress=False)
    assert set(st.sites) == set(sites)
    dec = [n for n in st.sites if st.site(n).stream == "decoder" and st.site(n).kind == "linear"]
    enc = [n for n in st.sites if st.site(n).component == "text_encoder" and st.site(n).kind == "linear"]
    tok = adapter.tokenizer
    checked = 0
    for i, s in enumerate(samples):
        x = tok([s.text], return_tensors="pt")
        with torch.no_grad():
            seq = model.generate(**x, forced_bos_token_id=tok.convert_tokens_to_ids(f"__{s.tgt_lang}__"),
                                 max_new_tokens=7, do_sample=False, num_beams=1)[0]
        gen = seq.tolist()[2:]
        gen = gen[: gen.index(adapter.eos_token_id)] if adapter.eos_token_id in gen else gen[:6]
        assert list(st.samples["output_tokens"][i]) == gen, s.sample_id
        if i not in (0, len(samples) - 1):
            continue
        for step in STEPS:
            if step > len(seq):
                continue
            got = {}
            hs = [model.get_submodule(n).register_forward_hook(
                (lambda n: lambda mod, a, o: got.__setitem__(n, o.detach()[0]))(n)) for n in dec + enc]
            with torch.no_grad():
                model(**x, decoder_input_ids=seq[None, :step])
            for h in hs:
                h.remove()
            for n in dec:
                np.testing.assert_allclose(st.responses(n, f"step={step}/mean")[i], got[n].mean(0).numpy(),
                                           atol=1e-4, rtol=0, err_msg=f"{n} step {step}")
                checked += 1
            for n in enc:
                np.testing.assert_allclose(st.responses(n, "encoder")[i], got[n].mean(0).numpy(), atol=1e-4,
                                           rtol=0, err_msg=n)
                checked += 1
    assert checked > 50
