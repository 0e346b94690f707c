"""The report stage: figures, claim verdicts and one self-contained HTML file built from a run
folder (contract in ``docs/report.md``)."""

from __future__ import annotations

from babelscope.report.claims import (NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, Claim, evaluate_claims)
from babelscope.report.data import RunData, load_run
from babelscope.report.html import build_report

__all__ = ["NOT_SUPPORTED", "NOT_TESTABLE", "SUPPORTED", "Claim", "RunData", "build_report",
           "evaluate_claims", "load_run"]

from babelscope.stage_module import make_stage_callable  # noqa: E402

make_stage_callable(__name__, "babelscope.api:report")  # babelscope.report(...) is babelscope.api.report(...)
