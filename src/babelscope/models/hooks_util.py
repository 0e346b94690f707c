"""A minimal context manager for temporary PyTorch hooks, removed on exit even after an error."""

from __future__ import annotations

import contextlib
from typing import Callable, Iterable, Iterator

import torch


@contextlib.contextmanager
def temporary_hooks(specs: Iterable[tuple[torch.nn.Module, str, Callable]]) -> Iterator[None]:
    """Register ``(module, kind, fn)`` hooks (kind ``forward`` or ``forward_pre``) for the block."""
    handles = []
    try:
        for module, kind, fn in specs:
            if kind == "forward":
                handles.append(module.register_forward_hook(fn))
            elif kind == "forward_pre":
                handles.append(module.register_forward_pre_hook(fn))
            else:
                raise ValueError(f"unknown hook kind {kind!r}")
        yield
    finally:
        for h in handles:
            h.remove()
