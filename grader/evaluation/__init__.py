"""Measuring the grader: agreement with human scores (eval) and with rubric exemplars (calibrate)."""
