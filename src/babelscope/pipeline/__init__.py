"""The whole study as one resumable run (``babelscope run`` / ``babelscope demo``)."""

from babelscope.pipeline.dryrun import dry_run
from babelscope.pipeline.runner import STAGES, Run, run_pipeline

__all__ = ["STAGES", "Run", "dry_run", "run_pipeline"]
