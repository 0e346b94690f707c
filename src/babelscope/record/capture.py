"""Step-aware capture of pooled responses during ONE KV-cached greedy generation (METHODS §2).

Hook semantics during ``generate``:

* encoder-stream sites fire once per call with ``[batch, pos, d]`` (channel-first convolutions are
  transposed first); they are pooled over the valid positions of their own time axis, looked up by
  that axis' length in ``PreparedBatch.lengths_by_time``;
* decoder-stream sites fire once per decoding step: ``[batch, P, d]`` for the P start tokens, then
  ``[batch, 1, d]``. Position ``p`` of the decoder is the same whether computed with the cache or by a
  fresh forward pass over the prefix (the decoder is causal), so one pass yields every step: the
  response at step ``s`` is the mean over positions ``0..s-1`` (view ``mean``) and the value at
  position ``s-1`` (view ``last``);
* the decoder's input ids are captured too, so each sample's real sequence (and where it ended) is
  known exactly: a step whose prefix runs past the sample's end-of-sequence is marked missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from babelscope.errors import SiteError
from babelscope.models.base import PreparedBatch
from babelscope.vocab.sites import Site
from babelscope.vocab.views import POOLS

ENCODER_POOLINGS = ("mean", "max", "last")
DECODER_VIEWS = POOLS


def _check_tensor(name: str, output) -> None:
    if not isinstance(output, torch.Tensor):  # e.g. a layer of a model family that returns a tuple
        raise SiteError(f"site {name}: output is {type(output).__name__}, not a tensor; it cannot be recorded")


@dataclass
class _DecoderState:
    pos: int = 0
    total: torch.Tensor | None = None  # running sum over positions, [batch, d], float32


@dataclass
class CaptureResult:
    """Pooled responses of one generate call; tensors are float32, on the model's device (moved to the
    CPU once, by the caller, when it writes them)."""

    encoder: dict[str, torch.Tensor]                       # site -> [batch, d]
    decoder: dict[tuple[str, int, str], torch.Tensor]      # (site, step, view) -> [batch, d]
    fed_ids: torch.Tensor                                  # [batch, positions fed to the decoder]
    step_valid: dict[int, torch.Tensor]                    # step -> bool [batch]
    generated: list[list[int]]                             # generated ids, cut before end-of-sequence


@dataclass
class StepCapture:
    sites: Sequence[Site]
    steps: Sequence[int]
    batch: PreparedBatch
    prompt_length: int
    eos_token_id: int
    encoder_pooling: str = "mean"
    decoder_views: Sequence[str] = DECODER_VIEWS
    _enc: dict[str, torch.Tensor] = field(default_factory=dict)
    _dec: dict[tuple[str, int, str], torch.Tensor] = field(default_factory=dict)
    _state: dict[str, _DecoderState] = field(default_factory=dict)
    _fed: list[torch.Tensor] = field(default_factory=list)
    _weights: dict[int, torch.Tensor] = field(default_factory=dict)  # time axis length -> [batch, pos]

    def __post_init__(self) -> None:
        if self.encoder_pooling not in ENCODER_POOLINGS:
            raise ValueError(f"encoder pooling must be one of {ENCODER_POOLINGS}")
        self._steps = sorted(set(int(s) for s in self.steps))
        self._max_step = self._steps[-1] if self._steps else 0

    # -- hooks -----------------------------------------------------------------------------------
    def hook_specs(self, module_of: Callable[[str], torch.nn.Module],
                   decoder_input: torch.nn.Module) -> list[tuple[torch.nn.Module, str, Callable]]:
        specs: list[tuple[torch.nn.Module, str, Callable]] = [(decoder_input, "forward_pre", self._on_decoder_input)]
        for site in self.sites:
            fn = self._encoder_hook(site) if site.stream == "encoder" else self._decoder_hook(site)
            specs.append((module_of(site.name), "forward", fn))
        return specs

    def _on_decoder_input(self, module, args):
        ids = args[0] if args else None
        if isinstance(ids, torch.Tensor) and ids.dtype == torch.long:
            self._fed.append(ids.detach().to("cpu", copy=True))
        return None

    def _encoder_hook(self, site: Site):
        name, axis, pooling = site.name, site.channel_axis, self.encoder_pooling
        lengths = self.batch.lengths_by_time
        weights = self._weights

        def hook(module, args, output):
            _check_tensor(name, output)
            if name in self._enc:
                raise SiteError(f"site {name} fired twice in one generate call; it is not a single encoder site")
            T = output.shape[1] if axis == -1 else output.shape[2]
            n = lengths.get(T)
            if n is None:
                raise SiteError(f"site {name}: output has {T} positions, which matches none of the input's "
                                f"time axes {sorted(lengths)}; its valid positions are unknown")
            x = output.detach().float()  # [batch, pos, d] or, channel-first, [batch, d, pos]
            if pooling == "mean":
                # one weight per valid position (1 / its count), shared by every site of this time axis
                w = weights.get(T)
                if w is None:
                    valid = torch.arange(T, device=x.device)[None, :] < n[:, None]
                    w = weights[T] = valid.float() / n.clamp(min=1)[:, None].float()
                # weighted sum over valid positions; for a channel-first output the transposed view
                # is as fast as a contiguous one (measured: bmm reads it as a transposed operand)
                pooled = torch.bmm(w[:, None, :], x if axis == -1 else x.transpose(1, 2))[:, 0]
            else:
                x = x if axis == -1 else x.transpose(1, 2)  # [batch, pos, d]
                if pooling == "max":
                    valid = torch.arange(T, device=x.device)[None, :] < n[:, None]
                    pooled = x.masked_fill(~valid[..., None], float("-inf")).amax(1)
                else:
                    pooled = x[torch.arange(x.shape[0], device=x.device), (n - 1).clamp(min=0)]
            self._enc[name] = pooled
            return None

        return hook

    def _decoder_hook(self, site: Site):
        name, axis = site.name, site.channel_axis
        steps, max_step, views = self._steps, self._max_step, tuple(self.decoder_views)
        recorded = frozenset(steps)
        want_mean, want_last = "mean" in views, "last" in views
        state = self._state.setdefault(name, _DecoderState())
        out = self._dec

        # Called for every decoder site at every generation step (~10^4 calls per batch at real
        # size): the one-token path does the least it can (one view, one in-place add).
        def hook(module, args, output):
            _check_tensor(name, output)
            p0 = state.pos
            n = output.shape[1] if axis == -1 else output.shape[2]
            state.pos = p0 + n
            if p0 >= max_step:
                return None
            if n == 1:
                x0 = (output[:, 0] if axis == -1 else output[:, :, 0]).detach()  # [batch, d], a view
                copied = x0.dtype != torch.float32
                if copied:
                    x0 = x0.float()
                if state.total is None:
                    state.total = x0.clone()
                else:
                    state.total.add_(x0)  # in place: no new [batch, d] tensor per site and step
                s = p0 + 1
                if s in recorded:
                    if want_mean:
                        out[(name, s, "mean")] = state.total / s
                    if want_last:
                        # a copy: the model may change its output in place after the hook
                        out[(name, s, "last")] = x0 if copied else x0.clone()
                return None
            x = (output if axis == -1 else output.transpose(1, 2)).detach()
            x = x[:, : max_step - p0].float()
            cs = x.cumsum(1)
            base = state.total
            for s in steps:
                j = s - 1 - p0
                if 0 <= j < x.shape[1]:
                    tot = cs[:, j] if base is None else base + cs[:, j]
                    if want_mean:
                        out[(name, s, "mean")] = tot / s
                    if want_last:
                        out[(name, s, "last")] = x[:, j].clone()  # x may be a view of the output
            last = cs[:, -1]
            state.total = last if base is None else base + last
            return None

        return hook

    # -- result ----------------------------------------------------------------------------------
    def result(self, sequences: torch.Tensor) -> CaptureResult:
        B = self.batch.size
        if not self._fed:
            raise SiteError("the decoder's input ids were not seen during generation")
        fed = torch.cat(self._fed, dim=1)
        P, eos = self.prompt_length, self.eos_token_id
        # ended[b, q] is True once an end-of-sequence token has been fed at a position in P..q
        gen_part = fed[:, P:] == eos
        ended = torch.zeros_like(fed, dtype=torch.bool)
        if gen_part.shape[1]:
            ended[:, P:] = gen_part.cumsum(1) > 0
        step_valid: dict[int, torch.Tensor] = {}
        for s in self._steps:
            if s - 1 < fed.shape[1]:
                step_valid[s] = ~ended[:, s - 1]
            else:
                step_valid[s] = torch.zeros(B, dtype=torch.bool)
        last_tok = sequences[:, -1].to("cpu")
        generated: list[list[int]] = []
        for b in range(B):
            toks = fed[b, P:].tolist() + [int(last_tok[b])]
            if eos in toks:
                toks = toks[: toks.index(eos)]
            generated.append(toks)
        return CaptureResult(encoder=dict(self._enc), decoder=dict(self._dec), fed_ids=fed,
                             step_valid=step_valid, generated=generated)
