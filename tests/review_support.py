"""Shared set-up for the `grader review` tests: a private bank, batches graded offline, a server in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from grader.cli import app

REPO = Path(__file__).resolve().parent.parent
TRANSCRIPTS = REPO / "tests" / "data" / "transcripts"
TWO_TRANSCRIPTS = [TRANSCRIPTS / "zoom_priya_raman.vtt", TRANSCRIPTS / "teams_sofia_alvarez.vtt"]
HOSTILE = (
    "A VAE has an encoder and a decoder and is trained on the evidence lower bound; a GAN pits a generator "
    "against a discriminator. <script>document.title='pwned';window.pwned=1</script>"
    "<img src=x onerror=\"document.title='pwned';window.pwned=1\"> The VAE gives a latent space you can sample."
)


def copy_bank(target: Path) -> Path:
    """A private copy of the shipped bank (so --to-bank writes there, not into the repository)."""
    target.mkdir(parents=True)
    shutil.copy(REPO / "questions.yaml", target / "questions.yaml")
    shutil.copytree(REPO / "rubrics", target / "rubrics")
    shutil.copytree(REPO / "prompts", target / "prompts")
    return target


def grade_batch(inputs: list[Path], out: Path, bank: Path) -> Path:
    """`grader batch INPUTS --out OUT --backend offline --bank BANK`, in process."""
    result = CliRunner().invoke(
        app, ["batch", *map(str, inputs), "--out", str(out), "--backend", "offline", "--bank", str(bank), "--no-cache"],
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return out


def hostile_table(path: Path) -> Path:
    """An answer table with one hostile answer and one plain one."""
    rows = [
        {"candidate": "Mallory <b>Bold</b>", "question_id": "q05", "answer": HOSTILE},
        {"candidate": "Ada", "question_id": "q09", "answer": "The KL term keeps the approximate posterior close to "
         "the prior, a standard normal, so the latent space is smooth and you can sample from it."},
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def graded_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank and a batch of two transcripts (8 answers) graded offline against it, made once per session."""
    root = tmp_path_factory.mktemp("review")
    grade_batch(TWO_TRANSCRIPTS, root / "out", copy_bank(root / "bank"))
    return root


@pytest.fixture
def bank(tmp_path: Path, graded_once: Path) -> Path:
    """A private copy of the shipped bank, for this test alone."""
    shutil.copytree(graded_once / "bank", tmp_path / "bank")
    return tmp_path / "bank"


@pytest.fixture
def batch_dir(tmp_path: Path, bank: Path, graded_once: Path) -> Path:
    """The batch of two transcripts (8 answers), graded offline against the bank, for this test alone."""
    shutil.copytree(graded_once / "out", tmp_path / "out")
    return tmp_path / "out"


@dataclass
class Served:
    """A `grader review` process and the URL it printed."""

    process: subprocess.Popen[str]
    url: str

    @property
    def base(self) -> str:
        return self.url.split("/?", 1)[0]

    @property
    def token(self) -> str:
        return self.url.split("token=", 1)[1]


def serve(folder: Path, bank: Path, *args: str) -> Iterator[Served]:
    """Run `python -m grader review FOLDER` until the generator is closed; yields once the URL is printed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    env["GRADER_BANK"] = str(bank)
    process = subprocess.Popen(
        [sys.executable, "-m", "grader", "review", str(folder), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url:
            process.wait(timeout=10)
            pytest.fail(f"grader review printed no URL: {process.stderr.read() if process.stderr else ''}")
        _wait_listening(url)
        yield Served(process, url)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_listening(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 20
    while True:
        try:
            opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy from the shell
            with opener.open(url.replace("/?", "/api/session?"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
