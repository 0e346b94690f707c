"""What ranking needs from an activation store, and which sites and views a ranking reads.

Ranking is written against the :class:`ActivationSource` protocol, which the Zarr-backed store of
:mod:`babelscope.record.store` satisfies, as do the in-memory stores of :mod:`babelscope.rank.memstore`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import pandas as pd

from babelscope.errors import ConfigError, StoreError
from babelscope.vocab.sites import Site, select_sites
from babelscope.vocab.views import ENCODER_VIEW, View



@runtime_checkable
class ActivationSource(Protocol):
    """Read access to recorded responses (one (samples, units) array per site and view)."""

    @property
    def sites(self) -> list[str]: ...

    def views(self, site: str) -> list[str]: ...

    def n_units(self, site: str) -> int: ...

    def responses(self, site: str, view: str, units: slice | None = None) -> np.ndarray: ...

    def valid(self, site: str, view: str) -> np.ndarray: ...

    def site(self, site: str) -> Site: ...

    @property
    def samples(self) -> pd.DataFrame: ...

    @property
    def manifest(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SitePlan:
    """One site to read: the view used, its metadata and the comparison-set rows with a response."""

    site: str
    view: str
    n_units: int
    component: str
    group: str
    layer: int
    rows: np.ndarray
    keep: np.ndarray

    @property
    def n_dropped(self) -> int:
        return int((~self.keep).sum())


def model_name(store: ActivationSource) -> str:
    model = (getattr(store, "manifest", None) or {}).get("model", {})
    return str(model.get("name", "unknown")) if isinstance(model, dict) else str(model)


def match_sites(store: ActivationSource, patterns: Sequence[str] | None = None,
                components: Sequence[str] | None = None) -> list[str]:
    """Names of the store's sites matching any pattern (shell glob, ``re:REGEX``, or a component
    name) within ``components``, in store order (:func:`babelscope.vocab.sites.select_sites`)."""
    return [s.name for s in select_sites([store.site(n) for n in store.sites], patterns, components=components,
                                        where="the store")]


def view_for(store: ActivationSource, site: str, view: str, encoder_fallback: bool) -> str | None:
    """The view to read at ``site`` for requested ``view`` (None: the site has no such response).

    With ``encoder_fallback``, decoder sites recorded once per sample (the cross-attention key and
    value projections, which see only the encoder output) answer a step view with ``encoder``.
    """
    views = store.views(site)
    if view in views:
        return view
    if encoder_fallback and view != ENCODER_VIEW and ENCODER_VIEW in views \
            and store.site(site).component == "text_decoder":
        return ENCODER_VIEW
    return None


def plan_sites(store: ActivationSource, rows: np.ndarray, view: str, *,
               sites: Sequence[str] | None = None, patterns: Sequence[str] | None = None,
               components: Sequence[str] | None = None,
               encoder_fallback: bool = True) -> tuple[list[SitePlan], dict[str, str]]:
    """Resolve the sites and views of a ranking and the rows each one keeps.

    Sites named in ``sites`` must have the view (else :class:`StoreError`); sites found by pattern
    or component without it are left out silently. Sites with no response for any sample of the
    comparison set (e.g. a text-encoder site for speech input) are skipped and reported in the
    second return value (site -> reason).
    """
    if sites is not None and (patterns or components):
        raise ConfigError("give either sites or patterns/components, not both")
    explicit = sites is not None
    if explicit:
        known = set(store.sites)
        for s in sites:  # type: ignore[union-attr]
            if s not in known:
                raise StoreError(f"site {s!r} is not in the store")
        names = list(sites)  # type: ignore[arg-type]
    else:
        names = match_sites(store, patterns, components)
    plans: list[SitePlan] = []
    skipped: dict[str, str] = {}
    n_total = len(store.samples)
    if len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= n_total):
        raise ConfigError(f"the analysis refers to sample rows up to {int(rows.max())} but the store has "
                          f"{n_total} samples: build the analysis from this store's samples table")
    for s in names:
        v = view_for(store, s, view, encoder_fallback)
        if v is None:
            if explicit:
                raise StoreError(f"site {s!r} has no view {view!r} (views: {store.views(s)})")
            continue
        valid = np.asarray(store.valid(s, v), dtype=bool)
        if valid.shape != (n_total,):
            raise StoreError(f"site {s!r} view {v!r}: valid mask has shape {valid.shape}, "
                             f"expected ({n_total},)")
        keep = valid[rows]
        if not keep.any():
            skipped[s] = f"no response at view {v!r} for any of the {len(rows)} samples"
            continue
        info = store.site(s)
        plans.append(SitePlan(s, v, int(store.n_units(s)), info.component, info.group, info.layer,
                              rows[keep], keep))
    if not any(p.view == view for p in plans):  # fallbacks alone mean the view does not exist
        have = sorted({v for s in store.sites for v in store.views(s)}, key=lambda v: View(v).sort_key())
        raise ConfigError(f"no site has view {view!r} with responses for this analysis "
                          f"(selected {len(names)} site(s); skipped: {sorted(skipped)[:3]}); the store's views: "
                          f"{', '.join(have)}")
    return plans, skipped
