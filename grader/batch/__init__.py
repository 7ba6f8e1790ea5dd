"""Many answers: planning, the concurrent run with its limits, results and reports."""
