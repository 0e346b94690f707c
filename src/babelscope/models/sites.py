"""Enumerate and select sites (METHODS §2).

The channel axis of a site comes from its module type, never from a tensor shape:

============  ================================  ===========================
module type   output layout                     channel axis
============  ================================  ===========================
Linear        ``[batch, pos, d_out]``           -1
LayerNorm     ``[batch, pos, d]``               -1
Embedding     ``[batch, pos, d]``               -1
Conv1d        ``[batch, channels, pos]``        1
GLU(dim=k)    halves axis ``k``                 ``k`` (1 in conformer convs)
activation    post-activation of an FFN's       -1 (follows the FFN's first
              first Linear                       Linear)
layer         a transformer layer's output      -1 (its width is that of the
              ``[batch, pos, d]`` (the residual  layer's last LayerNorm)
              stream after the layer)
============  ================================  ===========================

Layer outputs (the modules ``....layers.N``) are not among the paper's default sites; they are
offered for the ``study`` preset and by name (see :func:`babelscope.vocab.sites.select_sites`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import torch
from torch import nn

from babelscope.errors import SiteError
from babelscope.vocab.sites import Site, site_stream

if TYPE_CHECKING:  # pragma: no cover
    from babelscope.models.base import ModelAdapter

#: names of an FFN's first projection, whose post-activation counterpart is offered as a site
FFN_FIRST_LINEAR = ("fc1", "intermediate_dense")
#: attribute names of activation modules applied to an FFN's first projection
ACTIVATION_NAMES = ("act", "activation_fn", "intermediate_act_fn")
_LAYER = re.compile(r"(?:^|\.)layers\.(\d+)(?:\.|$)")


def _kind(module: nn.Module) -> str | None:
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, nn.Conv1d):
        return "conv1d"
    if isinstance(module, nn.LayerNorm):
        return "layernorm"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, nn.GLU):
        return "glu"
    return None


def _layer_width(layer: nn.Module) -> int | None:
    """Width of a transformer layer's output: that of its last LayerNorm (every pre- and post-LN layer
    of the supported families ends its residual branch at the model width); None without one."""
    norms = [m for m in layer.modules() if isinstance(m, nn.LayerNorm)]
    return int(norms[-1].normalized_shape[-1]) if norms else None


def _group(name: str, kind: str, overrides: dict[str, str]) -> str:
    leaf = name.rsplit(".", 1)[-1]
    if leaf in overrides:
        return overrides[leaf]
    if kind == "layer":
        return "layer"
    if kind == "layernorm":
        return "norm"
    if kind == "embedding":
        return "embed"
    if "cross_attention" in name or "encoder_attn" in name:
        return "cross_attn"
    if "self_attn" in name or leaf in ("linear_q", "linear_k", "linear_v", "linear_out"):
        return "self_attn"
    if kind == "post_act" or "ffn" in name or leaf in ("fc1", "fc2", "intermediate_dense", "output_dense"):
        return "ffn"
    if "conv" in name or kind in ("conv1d", "glu"):
        return "conv"
    return "other"


def _layer_index(name: str, offsets: dict[str, int]) -> int:
    m = _LAYER.search(name)
    if not m:
        return -1
    idx = int(m.group(1))
    for prefix, off in offsets.items():
        if name.startswith(prefix):
            return idx + off
    return idx


def _ffn_first_linear(parent: nn.Module) -> nn.Linear | None:
    for n in FFN_FIRST_LINEAR:
        child = getattr(parent, n, None)
        if isinstance(child, nn.Linear):
            return child
    return None


def enumerate_sites(adapter: "ModelAdapter") -> list[Site]:
    """All sites of METHODS §2 in the adapter's three stacks, in module order."""
    component_of = adapter.component_prefixes
    offsets, groups = adapter.layer_offsets, adapter.site_groups
    sites: list[Site] = []
    modules = dict(adapter.iter_modules())
    for name, module in modules.items():
        if adapter.excluded_module(name):
            continue
        kind = _kind(module)
        axis = -1
        n_units: int | None = None
        if kind == "linear":
            n_units = module.out_features
        elif kind == "conv1d":
            n_units, axis = module.out_channels, 1
        elif kind == "layernorm":
            n_units = int(module.normalized_shape[-1])
        elif kind == "embedding":
            n_units = module.embedding_dim
        elif kind == "glu":
            axis = module.dim if module.dim >= 0 else -1
            if axis not in (1, -1):
                raise SiteError(f"{name}: GLU over axis {module.dim} is not supported")
            n_units = adapter.glu_units(name, module)
        else:
            parent_name, _, leaf = name.rpartition(".")
            if (leaf.isdigit() and parent_name.rpartition(".")[2] == "layers"
                    and isinstance(modules.get(parent_name), nn.ModuleList)):
                width = _layer_width(module)
                if width is not None:
                    kind, n_units = "layer", width
            elif leaf in ACTIVATION_NAMES and parent_name in modules:
                first = _ffn_first_linear(modules[parent_name])
                if first is not None:
                    kind, n_units = "post_act", first.out_features
        if kind is None or n_units is None:
            continue
        component = next(c for p, c in component_of.items() if name.startswith(p))
        stream = site_stream(component, name)
        sites.append(Site(name=name, kind=kind, component=component, group=_group(name, kind, groups),
                          layer=_layer_index(name, offsets), channel_axis=axis, n_units=int(n_units),
                          stream=stream))
    return sites


def module_channel_last(output: torch.Tensor, axis: int) -> torch.Tensor:
    """View ``output`` as ``[batch, pos, units]`` given the site's channel axis."""
    return output if axis == -1 else output.transpose(1, 2)
