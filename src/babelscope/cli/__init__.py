"""The ``babelscope`` command line: one thin command per pipeline stage over the Python API."""

from __future__ import annotations

import importlib
import sys
import warnings

import typer
from rich.console import Console
from rich.markup import escape

from babelscope.errors import BabelscopeError, BabelscopeWarning

app = typer.Typer(name="babelscope", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
                  help="Find, test and show language- and modality-selective neurons in speech-text models.")
err_console = Console(stderr=True)

for _mod in ("babelscope.cli.record_cmds", "babelscope.cli.run_cmds", "babelscope.cli.rank_cmds",
             "babelscope.cli.intervene_cmds", "babelscope.cli.zoo_cmds", "babelscope.cli.corpus_cmds",
             "babelscope.cli.report_cmds"):
    importlib.import_module(_mod).register(app)


_python_show_warning = warnings.showwarning


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """babelscope's own warnings as one ``warning:`` line; others as Python prints them."""
    if issubclass(category, BabelscopeWarning):
        err_console.print(f"[bold yellow]warning:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
    else:
        _python_show_warning(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors print one clear line and exit with status 2 (no traceback)."""
    warnings.showwarning = _show_warning
    try:
        # without standalone mode, click returns the exit code of an interrupt (130) or a usage
        # abort instead of exiting: it must reach the shell, or `babelscope rank ... && next` carries on
        code = app(args=argv, standalone_mode=False)
    except KeyboardInterrupt:
        code = 130
    except BabelscopeError as exc:
        # escape: a message quoting a file name or setting like "[/]" or "[bold]" is text, not markup
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:  # a read-only folder, a full disk, a vanished file: what and where, in one line
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(f"[bold red]error:[/] {escape(where + (exc.strerror or str(exc)))} "
                          f"({type(exc).__name__}); nothing half-written was kept under a final name",
                          highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # click usage errors
        # typer may vendor its own click: recognise usage errors by their interface
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(code, int) and code != 0:
        if code == 130:
            err_console.print("interrupted: nothing half-written was kept under a final name; finished work "
                              "(recorded chunks, finished run stages) is kept and the same command resumes it",
                              highlight=False, soft_wrap=True)
        sys.exit(code)
