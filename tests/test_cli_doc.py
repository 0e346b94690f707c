"""docs/cli.md matches the CLI's --help (regenerate with scripts/gen_cli_doc.py)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    # rendered in a fresh process without the suite's lowered ranking minimums (tests/conftest.py), so the
    # help shows the shipped defaults as a user sees them
    env = {k: v for k, v in os.environ.items() if not k.startswith("BABELSCOPE_MIN_")}
    code = (f"import sys; sys.path.insert(0, {str(ROOT / 'scripts')!r}); import gen_cli_doc; "
            "sys.stdout.write(gen_cli_doc.render())")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert (ROOT / "docs" / "cli.md").read_text() == out.stdout, \
        "docs/cli.md is out of date: run python scripts/gen_cli_doc.py"
