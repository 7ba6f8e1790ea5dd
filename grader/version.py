"""The grader's version (read by the build, and recorded in every grade's provenance)."""

__version__ = "0.1.0"
