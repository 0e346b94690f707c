"""Typed run configuration (``babelscope run CONFIG.toml``), validated with pydantic.

Every table forbids unknown keys, so a typo is an error naming the key instead of a silently
ignored setting. See ``configs/*.toml`` for complete examples and docs/run.md for every key.
"""

from __future__ import annotations

import math
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from babelscope.outputs import safe_name
from babelscope.defaults import MIN_NEGATIVES, MIN_POSITIVES
from babelscope.vocab.tasks import PRESETS, TASKS
ANALYSES = ("source_language", "target_language", "modality")
#: set components (babelscope.rank.select): text_decoder is the decoder stream, decoder_kv the
#: cross-attention key/value projections, decoder_all both
SetComponent = Literal["speech_encoder", "text_encoder", "text_decoder", "decoder_kv", "decoder_all", "decoder_attn",
                       "decoder_ffn"]


class _Strict(BaseModel):
    # strict: no coercion, so `k = true` or `batch_size = "8"` is an error naming the key, not 1 or 8
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ModelCfg(_Strict):
    name: str = "babel-mini"
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"


class CorpusCfg(_Strict):
    #: "demo" builds the built-in demo corpus into the run folder; otherwise a corpus folder
    source: str = "demo"
    split: Optional[str] = None
    max_groups: Optional[int] = Field(default=None, ge=1)
    langs: Optional[list[str]] = None
    pivot: str = "eng"


class RecordCfg(_Strict):
    tasks: list[str] = list(PRESETS)
    steps: list[int] = [2, 7, 12]
    sites: list[str] = Field(default=["text_decoder", "speech_encoder", "text_encoder"], min_length=1)
    batch_size: int = Field(default=16, ge=1)
    max_new_tokens: int = Field(default=24, ge=1)
    dtype: Literal["float32", "float16"] = "float32"
    backend: Literal["local", "ray"] = "local"
    #: torch intra-op threads of every process that runs the model (recording on either backend,
    #: interventions); none: torch's default on the driver (babelscope.threads)
    threads: Optional[int] = Field(default=None, ge=1)

    @field_validator("tasks")
    @classmethod
    def _tasks(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in TASKS]
        if bad or not v:
            raise ValueError(f"unknown task(s) {bad}; choose from {list(TASKS)}")
        return v

    @field_validator("steps")
    @classmethod
    def _steps(cls, v: list[int]) -> list[int]:
        if not v or any(s < 1 for s in v):
            raise ValueError("give at least one step, each >= 1")
        return sorted(set(v))


class RankCfg(_Strict):
    analyses: list[Literal["source_language", "target_language", "modality"]] = list(ANALYSES)  # type: ignore[assignment]
    block_units: int = Field(default=4096, ge=1)
    #: a label with fewer positives or negatives (samples with a response at the view) is not ranked
    #: (a warning; an error with strict): babelscope.rank.evidence
    min_positives: int = Field(default=MIN_POSITIVES, ge=1)
    min_negatives: int = Field(default=MIN_NEGATIVES, ge=1)
    strict: bool = False


class SelectCfg(_Strict):
    k: int = Field(default=100, ge=1)
    mode: Literal["top", "bottom", "both"] = "both"
    component: SetComponent = "text_decoder"
    seed: int = 0


class InterventionCfg(_Strict):
    name: str
    kind: Literal["steering", "median_replacement"] = "steering"
    #: the modality whose recordings the neuron set comes from, and the input modality forced
    source_modality: Literal["speech", "text"] = "speech"
    target_modality: Literal["speech", "text"] = "text"
    label: str
    #: the ranking step the set is selected at
    select_step: int = Field(default=2, ge=1)
    k: int = Field(default=100, ge=1)
    mode: Literal["top", "bottom", "both"] = "top"
    component: SetComponent = "text_decoder"
    #: what is done to the units: replace, add, scale or a registered intervention (babelscope.intervene.ops)
    op: str = "replace"
    value: Literal["on_p50", "on_p90", "off_p50", "off_mean", "zero"] = "on_p50"
    factor: float = 1.0
    positions: Literal["all", "newest"] = "all"
    steps: Optional[list[int]] = None
    #: with steps: force encoder-stream units of the set (cross-attention K/V) on every step anyway
    allow_encoder_stream: bool = False
    #: dose-response: run the intervention at each of these set sizes (instead of k) ...
    sweep_k: Optional[list[int]] = None
    #: ... and/or value factors (instead of factor), every point beside n_baselines random-unit baselines
    sweep_factor: Optional[list[float]] = None
    n_baselines: int = Field(default=5, ge=1)
    ask: Optional[str] = None
    max_per_lang: Optional[int] = Field(default=None, ge=1)
    baseline_seed: int = 0

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        # the results folder RUN/interventions/<name>: a name, never a path (babelscope.outputs)
        return safe_name(v, "name")

    @model_validator(mode="after")
    def _ask(self) -> "InterventionCfg":
        if self.ask is not None and self.ask == self.label:
            raise ValueError(f"ask ({self.ask!r}) must differ from label: steering towards the language that is "
                             "asked for leaves no sample")
        return self

    @field_validator("sweep_k")
    @classmethod
    def _sweep_k(cls, v: Optional[list[int]]) -> Optional[list[int]]:
        if v is not None and (not v or any(k < 1 for k in v) or len(set(v)) != len(v)):
            raise ValueError("sweep_k must be a non-empty list of distinct set sizes >= 1")
        return v

    @field_validator("sweep_factor")
    @classmethod
    def _sweep_factor(cls, v: Optional[list[float]]) -> Optional[list[float]]:
        if v is not None and (not v or len(set(v)) != len(v) or any(not math.isfinite(f) for f in v)):
            raise ValueError("sweep_factor must be a non-empty list of distinct finite factors")
        return v

    @property
    def is_sweep(self) -> bool:
        return self.sweep_k is not None or self.sweep_factor is not None

    @field_validator("steps")
    @classmethod
    def _range(cls, v: Optional[list[int]]) -> Optional[list[int]]:
        if v is not None and (len(v) != 2 or v[0] < 1 or v[1] <= v[0]):
            raise ValueError("steps must be [a, b] with 1 <= a < b (the step range [a, b))")
        return v


class InterveneCfg(_Strict):
    batch_size: int = Field(default=32, ge=1)
    max_new_tokens: int = Field(default=24, ge=1)
    lid_langs: Optional[list[str]] = None
    n_boot: int = Field(default=1000, ge=100)
    runs: list[InterventionCfg] = []

    @model_validator(mode="after")
    def _unique(self) -> "InterveneCfg":
        names = [r.name for r in self.runs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"intervention names must be unique; repeated: {sorted(dup)}")
        return self


class StatsCfg(_Strict):
    """The level, minimum sizes and resampling of the tests behind the report's verdicts (docs/report.md)."""

    #: level of every decision (one-sided tests; intervals at 1 - alpha)
    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    #: below this many samples (or sentence groups) per condition a part is "not testable here"
    min_samples: int = Field(default=20, ge=2)
    #: below this many selected units (k) an enrichment test is "not testable here"
    min_units: int = Field(default=20, ge=1)
    #: bootstrap replicates of the report's paired intervals (steering)
    n_boot: int = Field(default=1000, ge=100)
    #: random sign flips of the permutation tests
    n_perm: int = Field(default=10000, ge=100)
    #: bootstrap replicates of the analysis stage's re-ranking bootstraps (overlap, depth, concentration)
    n_boot_rerank: int = Field(default=200, ge=50)
    #: overlap bootstrap: each label's pool is this many times the selected top (and bottom) half
    pool: int = Field(default=4, ge=1)
    #: encoder-depth bootstrap: units sampled per layer
    units_per_layer: int = Field(default=128, ge=8)


class ReportCfg(_Strict):
    enabled: bool = True


class RunConfig(_Strict):
    #: where the config came from (a file path), for messages; not part of the config
    _source: Optional[str] = PrivateAttr(default=None)
    name: str = "babelscope-run"
    seed: int = Field(default=0, ge=0, le=2 ** 32 - 1)
    model: ModelCfg = ModelCfg()
    corpus: CorpusCfg = CorpusCfg()
    record: RecordCfg = RecordCfg()
    rank: RankCfg = RankCfg()
    select: SelectCfg = SelectCfg()
    stats: StatsCfg = StatsCfg()
    intervene: InterveneCfg = InterveneCfg()
    report: ReportCfg = ReportCfg()

    @model_validator(mode="after")
    def _consistent(self) -> "RunConfig":
        for r in self.intervene.runs:
            if r.select_step not in self.record.steps:
                raise ValueError(f"intervene.runs[{r.name!r}].select_step {r.select_step} is not a recorded step "
                                 f"{self.record.steps}")
        return self
