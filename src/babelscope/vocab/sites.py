"""Sites: the typed record of one hooked module, and the grammar that selects sites (METHODS §2).

A :class:`Site` is what every stage knows of a module: its path, kind, component, group, layer,
channel axis, unit count and stream. The model adapters enumerate sites (models/sites.py); the
store keeps them in its manifest (:meth:`babelscope.record.store.Activations.site`); ranking, sets,
forcing and the report read them back. :func:`select_sites` is the one selection grammar (shell
glob, ``re:REGEX`` or a component name) for all of them.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from babelscope.errors import SiteError
from babelscope.vocab.components import COMPONENTS, EXTRA_KINDS

CROSS_ATTN_KV = re.compile(r"(cross_attention|encoder_attn)\.(k_proj|v_proj)$")


@dataclass(frozen=True)
class Site:
    """One hooked module. Its units are the output channels along ``channel_axis``.

    ``stream`` says how responses are pooled: ``"encoder"`` sites are pooled once per sample over the
    valid positions of their own time axis (this includes the decoder's cross-attention key/value
    projections, which only ever see the encoder output); ``"decoder"`` sites are pooled per decoding
    step.
    """

    name: str
    kind: str
    component: str
    group: str
    layer: int
    channel_axis: int
    n_units: int
    stream: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "component": self.component,
            "group": self.group,
            "layer": self.layer,
            "channel_axis": self.channel_axis,
            "n_units": self.n_units,
            "stream": self.stream,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Site":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})



def is_kv_site(name: str) -> bool:
    """Whether a module path is a decoder cross-attention key or value projection."""
    return CROSS_ATTN_KV.search(str(name)) is not None


def site_stream(component: str, name: str) -> str:
    """``"decoder"`` for decoder-stream sites (one value per decoder position: a response per step,
    forced per step), ``"encoder"`` for encoder-stream sites (one value per input: the encoders, and
    the decoder's cross-attention key/value projections, which only see the encoder output)."""
    return "decoder" if component == "text_decoder" and not is_kv_site(name) else "encoder"


#: leaf names of attention output projections (SeamlessM4T text stacks, Whisper, mBART: out_proj;
#: the conformer speech encoder: linear_out)
ATTN_OUT_LEAVES = ("out_proj", "linear_out")

#: named site selections: ``--sites all`` / ``--sites study`` (a pattern like any other)
SITE_PRESETS = {
    "all": "the paper's default (METHODS §2): every Linear, Conv1d, LayerNorm, Embedding and GLU module "
           "and FFN post-activation of the speech encoder, text encoder and text decoder",
    "study": "what interpretability studies record: FFN post-activations, attention output projections, "
             "the decoder's cross-attention keys and values, and each layer's output (the residual stream)",
}


def _in_preset(preset: str, site: Site) -> bool:
    if preset == "all":
        return site.kind not in EXTRA_KINDS
    leaf = site.name.rsplit(".", 1)[-1]
    return (site.kind in ("post_act", "layer") or is_kv_site(site.name)
            or (site.kind == "linear" and leaf in ATTN_OUT_LEAVES))


def select_sites(sites: Sequence[Site], patterns: Iterable[str] | str | None = None, *,
                 components: Iterable[str] | None = None, kinds: Iterable[str] | None = None,
                 where: str = "model") -> list[Site]:
    """Sites matching any pattern (and the given components/kinds), in model order.

    A pattern is a shell glob over module paths (``text_decoder.layers.*.ffn.fc1``), a regular
    expression written ``re:...``, a component name (``text_decoder``: the paper's default sites of
    that component, so not its layer outputs) or a preset of :data:`SITE_PRESETS` (``all``,
    ``study``). Globs and regular expressions match every site's path, layer outputs
    (``text_decoder.layers.3``) included. Every pattern must match at
    least one site: a typo is an error, not an empty selection. ``where`` names the sites' owner in
    that error (``"model"``, or e.g. ``"the store"``).
    """
    if isinstance(patterns, str):
        patterns = [p for p in patterns.split(",") if p.strip()]
    patterns = [p.strip() for p in (patterns or ["*"])]
    comps = set(components) if components else None
    if comps:
        bad = comps - set(COMPONENTS)
        if bad:
            raise SiteError(f"unknown component(s) {sorted(bad)}; choose from {list(COMPONENTS)}")
    kind_set = set(kinds) if kinds else None
    chosen: dict[str, Site] = {}
    for pat in patterns:
        if pat in COMPONENTS:
            match = [s for s in sites if s.component == pat and s.kind not in EXTRA_KINDS]
        elif pat in SITE_PRESETS:
            match = [s for s in sites if _in_preset(pat, s)]
        elif pat.startswith("re:"):
            try:
                rx = re.compile(pat[3:])
            except re.error as exc:
                raise SiteError(f"site pattern {pat!r}: invalid regular expression ({exc})") from None
            match = [s for s in sites if rx.search(s.name)]
        else:
            match = [s for s in sites if fnmatch.fnmatchcase(s.name, pat)]
        if comps is not None:
            match = [s for s in match if s.component in comps]
        if kind_set is not None:
            match = [s for s in match if s.kind in kind_set]
        if not match:
            example = sites[0].name if sites else "(none)"
            hint = "; list them with `babelscope sites --model ...`" if where == "model" else ""
            raise SiteError(f"site pattern {pat!r} matches no site of {'this model' if where == 'model' else where} "
                            f"(e.g. {example!r}{hint})")
        for s in match:
            chosen[s.name] = s
    order = {s.name: i for i, s in enumerate(sites)}
    return sorted(chosen.values(), key=lambda s: order[s.name])
