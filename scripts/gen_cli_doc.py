"""Regenerate docs/cli.md from the CLI's own --help output (tests/test_cli_doc.py checks it is current).

    python scripts/gen_cli_doc.py            # rewrite docs/cli.md
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"


def commands() -> list[list[str]]:
    import typer

    from babelscope.cli import app

    out = [[]]
    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():
        out.append([name])
        for sub in getattr(cmd, "commands", {}) or {}:
            out.append([name, sub])
    return out


def help_text(args: list[str]) -> str:
    from typer.testing import CliRunner

    from babelscope.cli import app

    res = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "100", "TERM": "dumb", "NO_COLOR": "1"},
                             terminal_width=100)
    if res.exit_code != 0:
        raise RuntimeError(f"babelscope {' '.join(args)} --help failed: {res.output}")
    return "\n".join(line.rstrip() for line in res.output.strip("\n").splitlines())


def render() -> str:
    parts = ["# CLI reference", "",
             "Generated from `babelscope ... --help` by `scripts/gen_cli_doc.py`; a test fails when it is out of date.",
             ""]
    for args in commands():
        title = " ".join(["babelscope", *args])
        parts += [f"## `{title}`", "", "```", help_text(args), "```", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    DOC.write_text(render())
    print(DOC)
