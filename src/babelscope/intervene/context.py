"""``forcing(adapter, sets, ...)``: force units in every generate call made inside a ``with`` block.

In the style of baukit's ``Trace``: one context manager, hooks removed on exit (also when the block
raises)::

    with forcing(adapter, deu_set, factor=2.0, steps=(2, 12)) as plan:
        outputs = generate_texts(adapter, samples)      # or adapter.generate(batch, n) directly

Inside the block the adapter's ``generate`` puts :func:`~babelscope.intervene.hooks.forcing_hooks`
around each call (the encoder-stream hooks need the batch's valid lengths, which only a prepared
batch knows), so whatever generates through the adapter in this process — :func:`generate_texts`,
your own loop over ``adapter.prepare`` / ``adapter.generate`` — is forced. Blocks nest: the inner
forcing's hooks run after the outer one's, on the same calls. To *record* a forced model, pass the
plan to ``record(..., forcing=plan)`` instead: the recorder then registers the forcing hooks before its
own, so the store holds the forced values at the forced sites too.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from babelscope.intervene.hooks import forcing_hooks
from babelscope.intervene.spec import Forcing, ForcingPlan, resolve
from babelscope.models.base import ModelAdapter
from babelscope.rank.select import NeuronSet


@contextlib.contextmanager
def forcing(adapter: ModelAdapter, sets: NeuronSet | Forcing | ForcingPlan | tuple | list, *,
            value: str = "on_p50", factor: float = 1.0, positions: str = "all",
            steps: tuple[int, int] | None = None, op: str = "replace",
            allow_encoder_stream: bool = False) -> Iterator[ForcingPlan]:
    """Force ``sets`` (a neuron set, several, a :class:`Forcing` or a resolved :class:`ForcingPlan`)
    in every ``adapter.generate`` call inside the block; yields the checked plan.

    The keyword arguments are :class:`Forcing`'s (ignored when a ``Forcing`` or plan is given)."""
    if isinstance(sets, ForcingPlan):
        plan = sets
    else:
        spec = sets if isinstance(sets, Forcing) else Forcing(
            sets=(sets,) if isinstance(sets, NeuronSet) else tuple(sets), value=value, factor=factor,
            positions=positions, steps=steps, op=op, allow_encoder_stream=allow_encoder_stream)
        plan = resolve(spec, adapter)
    own = vars(adapter).get("generate")  # set by an enclosing block
    inner = adapter.generate

    def generate(batch, max_new_tokens):
        with forcing_hooks(adapter, plan, batch):
            return inner(batch, max_new_tokens)

    adapter.generate = generate  # type: ignore[method-assign]
    try:
        yield plan
    finally:
        if own is None:
            del adapter.generate
        else:
            adapter.generate = own  # type: ignore[method-assign]
