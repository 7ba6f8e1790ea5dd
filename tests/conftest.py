"""Shared fixtures: no network, no real keys, a fresh cache, and the fake OpenAI-compatible server."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fakeserver import FakeOpenAIServer  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runapi", action="store_true", help="run tests that call a real LLM API")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--runapi"):
        return
    skip = pytest.mark.skip(reason="calls a real LLM API: pass --runapi")
    for item in items:
        if "api" in item.keywords:
            item.add_marker(skip)


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"tests may not reach the network (tried {host})")
    _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[None]:
    """No OPENAI_* or GRADER_* from the developer's shell, a fresh cache, a cold tiktoken cache."""
    for name in list(os.environ):
        if name.startswith(("OPENAI_", "GRADER_", "AZURE_OPENAI")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GRADER_CACHE", str(tmp_path / "cache.sqlite"))
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "tiktoken"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if "api" not in request.keywords:
        monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    yield


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAIServer]:
    """One local OpenAI-compatible server for the session; reset() between tests via the fixture below."""
    server = FakeOpenAIServer().start()
    yield server
    server.stop()


@pytest.fixture
def fake_server(fake_openai_server: FakeOpenAIServer) -> Iterator[FakeOpenAIServer]:
    """The session server with an empty queue, log and default behaviour."""
    from fakeserver import first_choice, top_level

    server = fake_openai_server
    server.queue.clear()
    server.requests.clear()
    server.headers.clear()
    server.arrivals.clear()
    server.latency = 0.0
    server.faults = None
    server.policy = top_level
    server.choose = first_choice
    yield server
    server.queue.clear()


@pytest.fixture
def repo() -> Path:
    """The repository root (the shipped bank lives here in an editable install)."""
    return REPO


@pytest.fixture
def q05_answer() -> str:
    return (REPO / "examples" / "q05_answer.txt").read_text(encoding="utf-8")
