"""The command line: the only layer that prints or exits (`grader.cli:main` is the console entry point).

app.py holds the root command and registers the subcommands of batch.py, eval.py, rubric.py and audit.py;
options.py what they share.
"""

from grader.cli.app import app, main

__all__ = ["app", "main"]
