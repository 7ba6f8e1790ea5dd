"""Start-up time of the CLI: median wall time of `grader --help`, `grader --version` and one offline grade.

Against a minimal typer app (one command, typer's own help, in this same Python) timed in the same run: the
figures that matter are how much more than its `--help` the grader's commands take.

Usage: python bench/startup.py [runs]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MINIMAL_APP = """
import typer

app = typer.Typer()


@app.command()
def hello(name: str, loud: bool = typer.Option(False, help="Shout.")) -> None:
    \"\"\"Say hello.\"\"\"
    typer.echo(name.upper() if loud else name)


app()
"""


def compile_grader() -> None:
    """Byte-compile the grader, as `pip install` does: a timed run must not compile its modules from source.

    An editable install writes __pycache__ on first import, unless PYTHONDONTWRITEBYTECODE is set (as on some
    CI and sandbox machines); then every run would compile every module again (~0.1 s for a batch), which
    the SDK in site-packages, compiled at install, never pays. Existing .pyc files are read even then.
    """
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "grader")], check=True)


def median_walls(commands: list[list[str]], runs: int, env: dict[str, str] | None = None) -> list[float]:
    """Median wall time of each command, run in turn (round-robin) so a busy moment of the machine hits all alike."""
    times: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for args, kept in zip(commands, times, strict=True):
            start = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True, env=env)
            kept.append(time.perf_counter() - start)
    return [statistics.median(kept) for kept in times]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    script = Path(sys.executable).with_name("grader")
    grader = [str(script)] if script.exists() else [sys.executable, "-m", "grader"]
    # No key, no base URL, a fresh home: the offline judge, and no cache of anyone's.
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
    compile_grader()
    print(f"command: python bench/startup.py {runs}")
    with tempfile.TemporaryDirectory() as tmp:
        env["HOME"] = tmp
        app = Path(tmp) / "minimal_app.py"
        app.write_text(MINIMAL_APP, encoding="utf-8")
        example = str(REPO / "examples" / "q05_answer.txt")
        labelled = [
            ("python -c pass", [sys.executable, "-c", "pass"]),
            ("minimal typer app --help", [sys.executable, str(app), "--help"]),
            ("grader --help", [*grader, "--help"]),
            ("grader --version", [*grader, "--version"]),
            ("grader grade (offline)", [*grader, "grade", "q05", "--answer-file", example, "--no-cache"]),
        ]
        walls = median_walls([args for _, args in labelled], runs, env)
    minimal = walls[1]
    for (label, _), wall in zip(labelled, walls, strict=True):
        extra = f" = minimal --help {'+' if wall >= minimal else '-'} {abs(wall - minimal) * 1000:3.0f} ms"
        print(f"{label:<25} {wall * 1000:7.0f} ms{extra if label.startswith('grader') else ''}")
    print(f"(medians of {runs} whole-process runs)")


if __name__ == "__main__":
    main()
