"""Connecting to Ray for the ``ray`` backends of ``record`` and ``rank`` (Ray is an optional extra).

Ray is imported here only, and only when a Ray backend is asked for: the local backend never needs it.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

from babelscope.errors import ConfigError


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("backend 'ray' needs Ray, which is not installed: pip install 'babelscope[ray]' "
                          "(or pip install 'ray[default]>=2.30')") from None
    return ray


@contextlib.contextmanager
def ray_session(address: str | None = None) -> Iterator[Any]:
    """Yield the ``ray`` module, connected.

    An already initialised Ray (``ray.init`` called by the user, a test, or an earlier call) is used
    as it is. Otherwise ``address`` (or the ``RAY_ADDRESS`` environment variable) names the cluster to
    join (``auto`` joins the cluster started on this machine with ``ray start --head``); with neither,
    a local cluster is started on this machine's CPUs and GPUs. Either way the connection stays open
    for later calls (the record and rank stages of one run share it) until the process exits or
    ``ray.shutdown()`` is called.
    """
    ray = import_ray()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        kwargs: dict[str, Any] = {"address": address} if address else {"include_dashboard": False}
        try:
            ray.init(logging_level="WARNING", **kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"ray address {address!r}: cannot connect to a Ray cluster ({exc}); start one "
                              "with `ray start --head` or omit --ray-address to run on a local cluster") from None
    yield ray


def cluster_gpus(ray: Any) -> int:
    return int(ray.cluster_resources().get("GPU", 0))


def cluster_cpus(ray: Any) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
