"""Start-up time of the CLI: median wall time of `grader --help` and `grader --version`.

Usage: python bench/startup.py [runs]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def median_wall(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    python = [sys.executable, "-m", "grader"]
    baseline = median_wall([sys.executable, "-c", "pass"], runs)
    print(f"command: python bench/startup.py {runs}")
    print(f"python -c pass        {baseline * 1000:7.0f} ms (interpreter alone)")
    for args in (["--help"], ["--version"]):
        wall = median_wall([*python, *args], runs)
        print(f"grader {' '.join(args):<14} {wall * 1000:7.0f} ms median of {runs}")


if __name__ == "__main__":
    main()
