"""Reading a user's UTF-8 text file, with the one-line errors every command gives for it."""

from __future__ import annotations

from pathlib import Path

from grader.errors import InputError


def read_text(
    path: Path, what: str = "", *, max_bytes: int | None = None, folder: str = "is a folder, not a file"
) -> str:
    """The file's text (a UTF-8 BOM dropped), or InputError naming `what` and the path.

    `max_bytes` refuses larger files (read no further); `folder` is what to say when the path is a folder.
    """
    name = f"{what} {path}" if what else str(path)
    try:
        if path.is_dir():
            raise InputError(f"{name}: {folder}")
        with path.open("rb") as handle:
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{name}: larger than {max_bytes // 1000} kB; is it the right file?")
    if b"\0" in data:
        raise InputError(f"{name}: binary file, expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})") from None
