"""Judges decide the level of each criterion; all of them return the same Verdict."""
