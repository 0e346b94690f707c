"""A rich progress bar for the long-running ranking and concentration loops (disable-able)."""

from __future__ import annotations

from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)


def progress_bar(enabled: bool, stage: str = "rank") -> Progress:
    """A progress bar over units; ``enabled=False`` makes every call a no-op."""
    return Progress(TextColumn(f"[bold]{stage}[/] {{task.description}}"), BarColumn(),
                    MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    disable=not enabled)
