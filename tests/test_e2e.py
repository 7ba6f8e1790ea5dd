"""`python -m grader` as a subprocess, through the real SDK, against the local fake server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fakeserver import FakeOpenAIServer


def grader(*args: str, env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args], capture_output=True, text=True, env=env, input=stdin, timeout=60
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "GRADER_"))}
    env.update(extra)
    return env


def test_grade_through_the_real_sdk_prints_the_interface_json(
    fake_server: FakeOpenAIServer, repo: Path, tmp_path: Path
) -> None:
    answer = (repo / "examples" / "q05_answer.txt").read_text()
    env = clean_env(GRADER_CACHE=str(tmp_path / "c.sqlite"))
    result = grader("grade", "q05", "--answer-file", str(repo / "examples" / "q05_answer.txt"), "--base-url",
                    fake_server.url, "--format", "json", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["status"] == "graded" and data["backend"] == "openai" and data["score"] == 10.0
    body = fake_server.requests[0]
    assert body["response_format"]["json_schema"]["strict"] is True
    assert f">\n{answer}\n</answer-" in body["messages"][1]["content"]  # verbatim, delimited
    headers = {k.lower(): v for k, v in fake_server.headers[0].items()}
    assert headers["authorization"] == "Bearer not-needed"  # placeholder key for a keyless local server


def test_env_base_url_and_model_are_honoured(fake_server: FakeOpenAIServer, tmp_path: Path) -> None:
    env = clean_env(
        OPENAI_BASE_URL=fake_server.url, GRADER_MODEL="qwen2.5:7b-instruct", GRADER_CACHE=str(tmp_path / "c")
    )
    result = grader("grade", "q05", "--format", "json", env=env, stdin="A VAE has an encoder and a decoder.")
    assert result.returncode == 0, result.stderr
    assert fake_server.requests[0]["model"] == "qwen2.5:7b-instruct"
    assert json.loads(result.stdout)["usage"]["cost_usd"] is None  # no known price for a local model


def test_unreachable_model_exits_1_with_one_line(tmp_path: Path) -> None:
    env = clean_env(GRADER_CACHE=str(tmp_path / "c"))
    result = grader("grade", "q05", "--answer", "x", "--base-url", "http://127.0.0.1:9/v1", "--timeout", "2", env=env)
    assert result.returncode == 1
    assert "llm_unavailable: cannot connect to http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_stdin_terminal_is_an_error_not_a_wait(tmp_path: Path) -> None:
    import pty

    primary, secondary = pty.openpty()
    env = clean_env(GRADER_CACHE=str(tmp_path / "c"))
    result = subprocess.run(
        [sys.executable, "-m", "grader", "grade", "q05"],
        stdin=secondary,
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    os.close(primary)
    os.close(secondary)
    assert result.returncode == 1 and "no answer: pass --answer TEXT" in result.stderr


def test_help_is_fast_and_does_not_import_openai(tmp_path: Path) -> None:
    code = "import sys; from grader.cli import app; assert 'openai' not in sys.modules and 'jinja2' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_env())
    assert result.returncode == 0, result.stderr
