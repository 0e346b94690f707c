"""The torch thread policy of every process that runs the model (recording, forcing).

A float reduction split over a different number of threads sums in a different order, so the
number of torch intra-op threads is part of what a store's numbers depend on. It is one setting
(``RecordSettings.threads``, config ``[record] threads``, CLI ``--threads``): the local recorder,
every Ray actor and every intervention apply it the same way, and the store's ``record.json`` and
``manifest.json`` say which value was used. ``None`` means what torch picks in the calling process
(its ``torch.get_num_threads()``, which follows ``OMP_NUM_THREADS``); it is resolved to a number
before anything is written, so two stores always state their thread counts.

With the same thread count on the same machine, results are bitwise equal whichever backend
computed them; across thread counts (or devices) they agree to the tolerance documented in
docs/scale.md, which :func:`babelscope.record.compare_stores` checks.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from babelscope.errors import ConfigError


def check_threads(threads: object, what: str = "threads") -> None:
    """``threads`` is ``None`` or an integer >= 1, else a :class:`ConfigError` naming ``what``."""
    if threads is None:
        return
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"{what}: expected an integer >= 1 (torch intra-op threads) or none for torch's "
                          f"default, got {threads!r}")


def resolve_threads(threads: int | None) -> int:
    """The thread count to use: ``threads``, or torch's current default when it is ``None``."""
    import torch

    check_threads(threads)
    return torch.get_num_threads() if threads is None else int(threads)


def threads_now() -> int:
    """The torch intra-op thread count in effect now (what a chunk's completion record states)."""
    import torch

    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """Run the body with ``threads`` torch intra-op threads (``None``: leave torch's setting) and
    restore the previous count on exit. Yields the count in effect."""
    import torch

    n = resolve_threads(threads)
    old = torch.get_num_threads()
    if n != old:
        torch.set_num_threads(n)
    try:
        yield n
    finally:
        if torch.get_num_threads() != old:
            torch.set_num_threads(old)
