"""Many answers: planning (plan.py), the concurrent run (run.py) with its limits (limits.py), reports (reports.py)."""

from grader.batch.run import BatchOptions, BatchOutcome, DryRun, arun_batch, dry_run, run_batch

__all__ = ["BatchOptions", "BatchOutcome", "DryRun", "arun_batch", "dry_run", "run_batch"]
