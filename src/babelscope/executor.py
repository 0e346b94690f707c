"""Where and how the stages compute: chosen once, passed to record, rank and intervene.

An :class:`Executor` says which backend runs the work (``local``: this process; ``ray``: a Ray
cluster, joined at ``ray_address`` or started locally), how many workers Ray uses, the device of the
model replicas, and the torch intra-op threads of every process that runs the model (the store
records the count: :mod:`babelscope.threads`). The CLI builds one from its options, ``babelscope
run`` from the config (:meth:`Executor.from_config`); the stages only read it.

=============  ========================================  ==========================================
stage          ``local``                                 ``ray``
=============  ========================================  ==========================================
record         one process, chunk after chunk            one model replica per actor (GPU each
                                                         where the cluster has GPUs)
rank           blocks of units in this process           blocks of units as Ray tasks
intervene      this process (``threads``)                this process (``threads``)
=============  ========================================  ==========================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from babelscope.errors import ConfigError
from babelscope.threads import check_threads

BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Executor:
    """``backend``: local or ray; ``threads``: torch threads of model processes (None: torch's
    default here); ``workers``: Ray actors/tasks at once (None: per the cluster's GPUs/CPUs);
    ``device``: of the model replicas (None: the loaded model's, Ray actors pick cuda when the
    cluster has GPUs); ``ray_address``: the cluster to join (None: a local one)."""

    backend: str = "local"
    threads: int | None = None
    workers: int | None = None
    device: str | None = None
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend: choose from {list(BACKENDS)}, got {self.backend!r}")
        check_threads(self.threads)
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or self.workers < 1):
            raise ConfigError(f"workers must be an integer >= 1, got {self.workers!r}")

    @property
    def is_ray(self) -> bool:
        return self.backend == "ray"

    def driver_device(self, device: str) -> str:
        """The device of the driver's model copy: with Ray the driver only validates inputs and names
        the model, so it stays on the CPU and the workers get the accelerators."""
        return "cpu" if self.is_ray else device

    @classmethod
    def from_config(cls, cfg: Any) -> "Executor":
        """The executor of a run config (``[record] backend``, ``threads``; ``[model] device``)."""
        return cls(backend=cfg.record.backend, threads=cfg.record.threads,
                   device=None if cfg.model.device == "cpu" else cfg.model.device)
