"""One reader for users' text files: every bad file is one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import InputError
from grader.text.textfile import read_text


@pytest.mark.parametrize(
    ("content", "kwargs", "expected"),
    [
        pytest.param("plain ünïcode\n", {}, "plain ünïcode\n", id="utf8"),
        pytest.param("\ufeffwith a BOM", {}, "with a BOM", id="bom_dropped"),
        pytest.param("", {}, "", id="empty_is_fine_here"),
        pytest.param("x" * 10, {"max_bytes": 10}, "x" * 10, id="at_the_limit"),
    ],
)
def test_reads(tmp_path: Path, content: str, kwargs: dict[str, int], expected: str) -> None:
    path = tmp_path / "f.txt"
    path.write_text(content, encoding="utf-8")
    assert read_text(path, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        pytest.param(None, {}, "answer file {path}: no such file", id="missing"),
        pytest.param(b"a\x00b", {}, "answer file {path}: binary file, expected text", id="nul_byte"),
        pytest.param(b"caf\xe9", {}, "answer file {path}: not UTF-8 text (byte 3)", id="latin1"),
        pytest.param(b"x" * 2001, {"max_bytes": 2000}, "answer file {path}: larger than 2 kB", id="too_large"),
        pytest.param("folder", {}, "answer file {path}: is a folder, not a file", id="folder"),
        pytest.param("folder", {"folder": "pass DIR/x"}, "answer file {path}: pass DIR/x", id="folder_hint"),
    ],
)
def test_refuses_with_one_line(
    tmp_path: Path, content: bytes | str | None, kwargs: dict[str, object], message: str
) -> None:
    path = tmp_path / "f.txt"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_text(path, "answer file", **kwargs)  # type: ignore[arg-type]
    text = str(caught.value)
    assert text.startswith(message.format(path=path)) and "\n" not in text


def test_without_a_label_the_path_leads(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^/.*nothing\.jsonl: no such file$"):
        read_text(tmp_path / "nothing.jsonl")
