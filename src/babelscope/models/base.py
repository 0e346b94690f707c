"""The model-adapter interface: what every model family provides to the rest of babelscope.

An adapter wraps one loaded Hugging Face model and answers five questions the recorder and the
intervention code need, without either of them knowing the family:

* which sites (hookable modules) exist, with their channel axis and unit count (:meth:`sites`);
* how to turn a list of task samples into model inputs (:meth:`prepare`);
* how to generate greedily for a prepared batch (:meth:`generate`);
* which module receives the decoder's input ids (:meth:`decoder_input_module`), so the recorder can
  see exactly which token each decoder position processed;
* how valid positions map to each encoder-side time axis (``PreparedBatch.lengths_by_time``).

Tensor shape conventions (TransformerLens style) are written as ``[batch, pos, d]`` in comments.
"""

from __future__ import annotations

import abc
import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Sequence

import numpy as np
import torch

from babelscope.models.sites import enumerate_sites
from babelscope.vocab.sites import Site

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.corpus.tasks import TaskSample

@dataclass
class PreparedBatch:
    """Inputs for one homogeneous generate call (one modality, one target, one task token).

    ``lengths_by_time`` maps the length of an encoder-side time axis (e.g. the number of speech
    feature frames after padding, or the adaptor's sub-sampled length) to the number of valid
    positions of every sample on that axis: ``{T: LongTensor[batch]}``.
    """

    inputs: dict[str, torch.Tensor]
    modality: str
    tgt_lang: str
    task: str
    lengths_by_time: dict[int, torch.Tensor]
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return int(next(iter(self.inputs.values())).shape[0])


class ModelAdapter(abc.ABC):
    """Base class of the per-family adapters (``models/registry.py`` lists them)."""

    family: ClassVar[str]
    #: the tasks of the task table (:mod:`babelscope.vocab.tasks`) this family can run, each with how the
    #: model is asked for it (shown by ``babelscope models``)
    task_requests: ClassVar[dict[str, str]]
    #: the input modalities the family's model accepts
    input_modalities: ClassVar[tuple[str, ...]] = ("speech", "text")
    #: module-path prefix -> component name
    component_prefixes: ClassVar[dict[str, str]]
    #: ISO 639-3 code -> the model's own code for it, for every language the model can be asked for
    #: (set by each adapter's ``__init__`` from its generation config or tokenizer)
    language_codes: dict[str, str]
    #: module-path prefix -> number added to its layer index (a stack that continues another's numbering;
    #: SeamlessM4T v2's speech adaptor after the conformer layers); set per instance when the config decides it
    layer_offsets: dict[str, int] = {}
    #: module leaf name -> site group (``self_attn``, ``cross_attn``, ``ffn``, ``conv``, ...), consulted before
    #: the name rules of :mod:`babelscope.models.sites` for a family whose module names those rules do not know
    site_groups: ClassVar[dict[str, str]] = {}

    def __init__(self, model: torch.nn.Module, tokenizer: Any, feature_extractor: Any, *,
                 name: str, source: dict[str, Any], device: str = "cpu") -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.feature_extractor = feature_extractor
        self.name = name
        self.source = source
        self.device = torch.device(device)
        self._sites: list[Site] | None = None

    @classmethod
    @abc.abstractmethod
    def hf_model_class(cls) -> type:
        """The transformers model class this adapter wraps."""

    @classmethod
    def meta(cls, config: Any, name: str) -> "ModelAdapter":
        """An adapter over a model built from ``config`` without weights (call under
        ``torch.device("meta")``): enough to enumerate sites for a dry run."""
        return cls(cls.hf_model_class()(config), None, None, name=name, source={"id": name, "revision": "config-only"})

    # -- description -------------------------------------------------------------------------
    @property
    def supported_tasks(self) -> tuple[str, ...]:
        return tuple(self.task_requests)

    @property
    def sample_rate(self) -> int:
        return int(getattr(self.feature_extractor, "sampling_rate", 16000))

    @property
    def languages(self) -> tuple[str, ...]:
        """ISO 639-3 codes this model can be asked for (as target and, for text, as source)."""
        return tuple(sorted(self.language_codes))

    def model_lang(self, lang: str) -> str:
        """The model's own code for an ISO 639-3 language code (raises ``ConfigError`` if unknown)."""
        from babelscope.errors import ConfigError

        if lang not in self.language_codes:
            raise ConfigError(f"language {lang!r} is not supported by {self.name} "
                              f"(it knows {', '.join(self.languages)})")
        return self.language_codes[lang]

    @property
    @abc.abstractmethod
    def eos_token_id(self) -> int: ...

    @property
    @abc.abstractmethod
    def decoder_prompt_length(self) -> int:
        """Number of start tokens the decoder is given before the first generated token."""

    def check_generation_length(self, max_new_tokens: int, what: str = "max_new_tokens") -> None:
        """A :class:`ConfigError` naming ``what`` when the start tokens plus ``max_new_tokens`` exceed
        the decoder's position table (Whisper: ``max_target_positions``, 448 for the real models)."""
        from babelscope.errors import ConfigError

        limit = getattr(getattr(self.model, "config", None), "max_target_positions", None)
        if isinstance(limit, int) and self.decoder_prompt_length + max_new_tokens > limit:
            raise ConfigError(f"{what}: {max_new_tokens} new tokens after {self.decoder_prompt_length} start tokens "
                              f"exceed the decoder's {limit} positions ({self.name}); use at most "
                              f"{limit - self.decoder_prompt_length}")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.name!r}, family={self.family!r}, inputs={list(self.input_modalities)}, "
                f"tasks={list(self.supported_tasks)}, languages={list(self.languages)}, device={str(self.device)!r})")

    def describe(self) -> dict[str, Any]:
        """Identity of the model for artifact manifests."""
        return {"name": self.name, "family": self.family, **self.source,
                "dtype": str(next(self.model.parameters()).dtype).replace("torch.", "")}

    # -- sites ----------------------------------------------------------------------------------
    def sites(self) -> list[Site]:
        if self._sites is None:
            self._sites = enumerate_sites(self)
        return list(self._sites)

    def excluded_module(self, name: str) -> bool:
        """True for modules that are not per-sample sites (positional tables, modules called twice)."""
        return False

    def glu_units(self, name: str, module: torch.nn.Module) -> int:
        raise NotImplementedError(f"{self.family}: no unit count rule for GLU site {name!r}")

    def module(self, name: str) -> torch.nn.Module:
        return self.model.get_submodule(name)

    # -- inputs and generation ------------------------------------------------------------------
    @abc.abstractmethod
    def batch_key(self, sample: "TaskSample") -> tuple:
        """Samples with equal keys can share one generate call."""

    @abc.abstractmethod
    def prepare(self, samples: Sequence["TaskSample"], audio: Sequence[np.ndarray | None]) -> PreparedBatch:
        """Model inputs for samples that share one :meth:`batch_key`."""

    @abc.abstractmethod
    def generate(self, batch: PreparedBatch, max_new_tokens: int) -> torch.Tensor:
        """Greedy, single-beam generation; returns ``LongTensor[batch, seq]`` as HF ``generate`` does."""

    @abc.abstractmethod
    def decoder_input_module(self) -> torch.nn.Module:
        """The module whose first positional input is the decoder's ``input_ids`` at every call."""

    def batch_invariance(self, batch: PreparedBatch) -> contextlib.AbstractContextManager:
        """Context that makes a padded batch compute what each sample alone would (default: no-op)."""
        return contextlib.nullcontext()

    def decode(self, token_ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(token_ids), skip_special_tokens=True).strip()

    def iter_modules(self) -> Iterator[tuple[str, torch.nn.Module]]:
        for prefix in self.component_prefixes:
            root = self.model.get_submodule(prefix.rstrip("."))
            for sub, mod in root.named_modules():
                yield (prefix + sub if sub else prefix.rstrip(".")), mod


def load_weights(model_cls: Any, path: str, **kwargs: Any) -> torch.nn.Module:
    """``model_cls.from_pretrained(path)`` with pickle checkpoints loaded safely.

    Weights come from ``*.safetensors`` files whenever the folder (or hub repo) has them. A folder
    holding only a pickle checkpoint (``pytorch_model.bin``) is read with ``torch.load(...,
    weights_only=True)``, which unpickles tensors and plain containers only; a checkpoint that
    needs anything else (e.g. a class or function reference, the way a malicious pickle runs code)
    is refused with :class:`ModelLoadError`, never loaded with ``weights_only=False``.
    """
    import pickle

    from safetensors import SafetensorError

    from babelscope.errors import ModelLoadError

    try:
        return model_cls.from_pretrained(path, weights_only=True, **kwargs)
    except SafetensorError as exc:
        raise ModelLoadError(f"cannot load the weights of {path!r}: a .safetensors file is corrupt or truncated "
                             f"({exc}); download or copy it again") from None
    except pickle.UnpicklingError as exc:
        first = next((l for l in str(exc).splitlines() if "GLOBAL" in l or "unsupported" in l.lower()), "")
        first = first.split(". Please")[0].split(". Check")[0].strip().rstrip(".")  # not torch's "allowlist it" hint
        raise ModelLoadError(
            f"refused to load the pickle checkpoint of {path!r}: it holds more than tensors, and babelscope "
            f"loads pickle weights only with torch.load(weights_only=True){' (' + first.strip() + ')' if first else ''}. "
            "Use a model folder with .safetensors weights (or convert a checkpoint you trust to safetensors)") from None
