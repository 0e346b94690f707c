"""The vocabulary of verdicts: the five claims, their rules as printed, the decision settings and the
record of one verdict (:class:`Claim`) with the tests it rests on (:class:`Test`).

A verdict is a statistical decision (METHODS §10): every tested part names its statistic, its
estimate with an interval at the stated level and/or a one-sided p-value, and the counts it rests
on. "Supported" needs every part tested and passed (an intersection–union test: each part at level
α, so the whole claim is at level α without a correction); one failed part makes it "not
supported"; missing, NaN, degenerate or too-small inputs make a part "not testable here".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from babelscope.config.schema import StatsCfg

SUPPORTED = "supported"
NOT_SUPPORTED = "not supported"
NOT_TESTABLE = "not testable here"
VERDICTS = (SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE)

CLAIMS = {
    1: "Cross-modal overlap of language-representation neurons is highest at the first recorded step "
       "and falls at later steps.",
    2: "Language-control neurons found from speech input steer text-input generation to the target "
       "language, more strongly at later steps.",
    3: "Encoder representations grow more language-agnostic with depth.",
    4: "Modality-selective units are sharply localized in the decoder's cross-attention key and value "
       "projections.",
    5: "Speech-conditioned decoding and non-dominant scripts (jpn, cmn) show higher activation "
       "concentration.",
}

RULES = {
    1: "(a) Above chance: at the first recorded step the total diagonal overlap Σ_L |speech set of L ∩ text set "
       "of L| is tested against independent random k-sets out of U units (exact tail of a sum of "
       "hypergeometrics), p < α. (b) Falls: for every later step, the first-step minus later-step mean "
       "overlap / k has a bootstrap interval over sentences (sets re-selected per replicate, "
       "analysis/overlap_boot.csv) with its lower end > 0. Needs ≥ min_samples sentence groups.",
    2: "Speech → text steering runs: the per-sample forced − random-baseline difference in is_expected (output "
       "identified as the steered-to language); for a dose-response sweep, averaged over the sweep's points "
       "(the curve's mean height above its random baselines). (a) At the latest step range every run has an effect > 0 with "
       "its paired bootstrap interval above 0 and a one-sided sign-flip permutation p < α, on ≥ min_samples "
       "samples. (b) The latest range steers more than the earliest (ranges ordered by their whole extent: "
       "the earlier one ends before the later one starts): the paired per-sample late − early difference of "
       "those effects has its interval above 0 and p < α.",
    3: "Per encoder (analysis/encoder_depth_boot.csv): the selectivity excess of a layer is the mean over "
       "sampled units of the best AP over languages minus the same with permuted labels (chance). Supported "
       "when for every encoder with ≥ 3 layers the bootstrap interval of the least-squares slope of excess on "
       "layer lies below 0 and the first layer's excess interval lies above 0.",
    4: "Per task family and step (analysis/modality_units.csv): of the k top modality units of the whole "
       "decoder, x sit in the cross-attention key/value projections (K of U units). Supported when at every "
       "step k ≥ min_units, the hypergeometric enrichment test P(X ≥ x) < α, and K/V is the most enriched "
       "category (share of top-k ÷ share of units).",
    5: "From analysis/concentration_boot.csv (decoder-stream Gini, bootstrap over sentences): (a) speech − text, "
       "paired within step, task family and language; (b) jpn/cmn − Latin script, within step, task and "
       "modality. Each part passes when its interval lies above 0.",
}


#: the level and minimum sizes of every decision: the run config's ``[stats]`` table
DecisionSettings = StatsCfg


def settings_from_run(run: dict[str, Any] | None) -> StatsCfg:
    """The ``[stats]`` settings recorded in a run's ``run.json`` (defaults for what it lacks)."""
    st = ((run or {}).get("settings") or {}).get("stats") or {}
    return StatsCfg(**{k: st[k] for k in StatsCfg.model_fields if k in st})


@dataclass
class Test:
    """One tested part of a claim."""

    part: str
    statistic: str
    estimate: float | None = None
    interval: tuple[float, float] | None = None
    p_value: float | None = None
    n: str = ""
    passed: bool | None = None
    note: str = ""

    def describe(self) -> str:
        bits = [self.statistic]
        if self.estimate is not None:
            e = self.estimate
            bits.append(f"= {int(e)}" if float(e).is_integer() and abs(e) >= 1 else f"= {e:+.4f}")
        if self.interval is not None:
            bits.append(f"[{self.interval[0]:+.4f}, {self.interval[1]:+.4f}]")
        if self.p_value is not None:
            bits.append(f"p = {self.p_value:.3g}")
        if self.n:
            bits.append(f"({self.n})")
        return " ".join(bits)

    def outcome(self) -> str:
        return {True: "passed", False: "did not pass", None: "not testable"}[self.passed] + \
            (f" ({self.note})" if self.note else "")


@dataclass
class Claim:
    """One claim's verdict, the tests and numbers behind it and the rule that produced it."""

    number: int
    claim: str
    rule: str
    verdict: str
    reason: str
    numbers: list[tuple[str, str]] = field(default_factory=list)
    source: str = ""
    tests: list[Test] = field(default_factory=list)
    alpha: float = 0.05

    def as_row(self) -> dict[str, Any]:
        return {"claim": self.number, "statement": self.claim, "verdict": self.verdict, "reason": self.reason,
                "tests": " | ".join(f"{t.part}: {t.describe()} — {t.outcome()}" for t in self.tests),
                "alpha": self.alpha, "numbers": "; ".join(f"{k} = {v}" for k, v in self.numbers), "rule": self.rule,
                "source": self.source}


def combine(parts: Sequence[bool | None]) -> str:
    """Verdict of a claim with several parts: a failed tested part is decisive; all must be tested to
    support."""
    if any(p is False for p in parts):
        return NOT_SUPPORTED
    if parts and all(p is True for p in parts):
        return SUPPORTED
    return NOT_TESTABLE


def make_claim(n: int, tests: Sequence[Test], reason: str | None, numbers=None, source: str = "",
               settings: DecisionSettings | None = None, verdict: str | None = None) -> Claim:
    """A claim's record; ``reason`` None: every test's part, result and outcome in one line."""
    alpha = (settings or DecisionSettings()).alpha
    if reason is None:
        reason = "; ".join(f"{t.part}: {t.describe()} — {t.outcome()}" for t in tests)
    v = verdict if verdict is not None else combine([t.passed for t in tests])
    return Claim(n, CLAIMS[n], RULES[n].replace("α", f"α = {alpha:g}"), v, reason, list(numbers or []), source,
                 list(tests), alpha)
