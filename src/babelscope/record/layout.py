"""Where each site's units live in the store: one array per view, sites side by side along ``unit``.

A view is ``encoder`` (sites pooled once per sample) or ``step=S/mean`` / ``step=S/last`` (decoder
sites at step S). Keeping all sites of a view in one ``[sample, unit]`` array (instead of one array
per site) makes a chunk of samples a handful of writes rather than hundreds — zarr's per-array cost
would otherwise dominate recording — and lets xarray users slice units by site, component, layer
or kind through unit coordinates. See docs/artifacts.md for the reasoning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from babelscope.vocab.sites import Site
from babelscope.vocab.views import View


@dataclass
class ViewLayout:
    view: str
    sites: list[str] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)

    @property
    def total(self) -> int:
        return (self.offsets[-1] + self.units[-1]) if self.sites else 0

    def add(self, site: str, n_units: int) -> None:
        self.offsets.append(self.total)
        self.sites.append(site)
        self.units.append(n_units)

    def span(self, site: str) -> tuple[int, int, int]:
        """(site index, first unit column, number of units)."""
        i = self.sites.index(site)
        return i, self.offsets[i], self.units[i]

    def to_dict(self) -> dict:
        return {"sites": self.sites, "offsets": self.offsets, "units": self.units}

    @classmethod
    def from_dict(cls, view: str, d: dict) -> "ViewLayout":
        return cls(view=view, sites=list(d["sites"]), offsets=list(d["offsets"]), units=list(d["units"]))


def site_views(site: Site, steps: Sequence[int], decoder_views: Sequence[str]) -> list[str]:
    if site.stream == "encoder":
        return ["encoder"]
    return [View.step_view(s, v) for s in sorted(set(steps)) for v in decoder_views]


def make_layout(sites: Sequence[Site], steps: Sequence[int], decoder_views: Sequence[str]) -> dict[str, ViewLayout]:
    out: dict[str, ViewLayout] = {}
    for site in sites:
        for view in site_views(site, steps, decoder_views):
            out.setdefault(view, ViewLayout(view)).add(site.name, site.n_units)
    order = sorted(out, key=lambda v: View(v).sort_key())
    return {v: out[v] for v in order}
