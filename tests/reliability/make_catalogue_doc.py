"""Regenerate docs/bad-inputs.md from the bad-input catalogue (tests/reliability/catalogue.py).

    python tests/reliability/make_catalogue_doc.py [--check]

Runs every row (as the tests do) in a temporary folder and writes the message each input gets;
``--check`` only compares and exits 1 when the doc is out of date.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/ : import the catalogue as the package ``reliability``

DOC = HERE.parents[1] / "docs" / "bad-inputs.md"
# as in the suite (tests/conftest.py): the catalogue's two-sentence corpora are ranked below the default minimums
os.environ["BABELSCOPE_MIN_POSITIVES"] = "1"
os.environ["BABELSCOPE_MIN_NEGATIVES"] = "1"


def build() -> str:
    from reliability.catalogue import CASES, Ctx, Resources, normalize, render, run_case

    with tempfile.TemporaryDirectory(prefix="babelscope-catalogue-") as d:
        os.environ.setdefault("BABELSCOPE_CACHE", str(Path(d) / "cache"))
        res = Resources(Path(d) / "shared")
        messages = {}
        for i, case in enumerate(CASES):
            ctx = Ctx(Path(d) / f"row{i}", res)
            with contextlib.redirect_stdout(io.StringIO()):  # the commands' own tables
                messages[case.id] = normalize(run_case(case, ctx), ctx)
            print(f"{case.id}: {messages[case.id][:100]}", file=sys.stderr)
        return render(messages)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", action="store_true", help="compare only; exit 1 when the doc is out of date")
    args = ap.parse_args()
    text = build()
    if args.check:
        ok = DOC.is_file() and DOC.read_text(encoding="utf-8") == text
        print("up to date" if ok else f"{DOC} is out of date")
        return 0 if ok else 1
    DOC.write_text(text, encoding="utf-8")
    print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
