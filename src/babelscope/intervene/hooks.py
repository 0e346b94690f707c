"""Forcing hooks: overwrite chosen units of their sites during one generate call.

``forcing_hooks(adapter, plan, batch)`` is a context manager that registers one forward hook per
forced site and removes every hook on exit, also when generation raises. Inside a hook the site's
output ``[batch, pos, d]`` (or ``[batch, d, pos]`` for channel-first convolutions, by the site's
``channel_axis``) is copied and the forced channels are replaced:

* encoder-stream sites (encoders, and the decoder's cross-attention key/value projections) fire
  once per input; the valid positions of the input are forced (padding is left alone so batched and
  single runs agree);
* decoder-stream sites fire once per decoding step with the new positions only (KV cache). A
  per-site counter knows which absolute positions the call holds; a position ``p`` is forced when
  step ``p + 1`` is inside the plan's step range, and, with ``positions="newest"``, only if ``p`` is
  the newest position of the call. With the KV cache, the states of earlier positions were computed
  when those positions were newest; ``newest`` therefore differs from ``all`` only on the start
  tokens, which the first call processes together.

Register forcing hooks before any recording hooks on the same modules: PyTorch runs forward hooks
in registration order, so the recorder then sees the forced values.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch

from babelscope.errors import SiteError
from babelscope.intervene.ops import get_intervention
from babelscope.intervene.spec import ForcingPlan, SiteForcing
from babelscope.models.base import ModelAdapter, PreparedBatch
from babelscope.models.hooks_util import temporary_hooks


def _overwrite(output: torch.Tensor, f: SiteForcing, pos_mask: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Copy of ``output`` with the site's intervention applied where ``pos_mask`` [batch, pos] is True."""
    axis = f.site.channel_axis
    x = output if axis == -1 else output.transpose(1, 2)  # [batch, pos, d]
    x = x.clone()
    vals = f.values_for(positions, x.shape[0]).to(device=x.device, dtype=x.dtype)
    x = get_intervention(f.op).apply(x, f.units.to(x.device), pos_mask.to(x.device), vals)
    return x if axis == -1 else x.transpose(1, 2)


def _encoder_hook(f: SiteForcing, batch: PreparedBatch):
    lengths = batch.lengths_by_time

    def hook(module, args, output):
        if not isinstance(output, torch.Tensor):
            raise SiteError(f"site {f.site.name}: output is {type(output).__name__}, not a tensor")
        T = output.shape[1] if f.site.channel_axis == -1 else output.shape[2]
        n = lengths.get(T)
        positions = torch.arange(T)
        if n is None:
            if output.shape[0] > 1:
                raise SiteError(f"site {f.site.name}: output has {T} positions, which matches none of the input's "
                                f"time axes {sorted(lengths)}; its padded positions are unknown, so it cannot be "
                                "forced in a batch")
            mask = torch.ones((1, T), dtype=torch.bool)
        else:
            mask = positions[None, :].to(n.device) < n[:, None]
        return _overwrite(output, f, mask, positions)

    return hook


def _decoder_hook(f: SiteForcing, plan: ForcingPlan):
    seen = [0]

    def hook(module, args, output):
        if not isinstance(output, torch.Tensor):
            raise SiteError(f"site {f.site.name}: output is {type(output).__name__}, not a tensor")
        T = output.shape[1] if f.site.channel_axis == -1 else output.shape[2]
        p0 = seen[0]
        seen[0] = p0 + T
        positions = torch.arange(p0, p0 + T)
        forced = plan.positions_forced(positions)
        if plan.positions == "newest":
            forced[:-1] = False
        if not bool(forced.any()):
            return None
        mask = forced[None, :].expand(output.shape[0], T)
        return _overwrite(output, f, mask, positions)

    return hook


@contextlib.contextmanager
def forcing_hooks(adapter: ModelAdapter, plan: ForcingPlan, batch: PreparedBatch) -> Iterator[None]:
    """Force ``plan`` during the generate calls inside the block (one batch)."""
    specs = []
    for name, f in plan.sites.items():
        fn = _encoder_hook(f, batch) if f.site.stream == "encoder" else _decoder_hook(f, plan)
        specs.append((adapter.module(name), "forward", fn))
    with temporary_hooks(specs):
        yield
