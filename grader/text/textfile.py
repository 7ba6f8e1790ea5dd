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
    data = read_bytes(path, name, max_bytes=max_bytes, folder=folder)
    if b"\0" in data:
        raise InputError(f"{name}: binary file, expected text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text (byte {exc.start})") from None


def read_bytes(
    path: Path, name: str, *, max_bytes: int | None = None, folder: str = "is a folder, not a file"
) -> bytes:
    """The file's bytes, or InputError naming it (`max_bytes` refuses larger files, reading no further)."""
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
    return data


def decode_bytes(data: bytes, name: str, encoding: str | None = None) -> tuple[str, str | None]:
    """(text, the encoding used when it was not UTF-8) of any bytes; never raises UnicodeDecodeError.

    UTF-8 (a BOM dropped) first; then a UTF-16 BOM; then the given `encoding`; then the encoding
    charset-normalizer detects; Windows-1252 with replacement characters as the last resort. Text with NUL
    bytes and no UTF-16 BOM is binary: InputError.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace"), "utf-16"
    if encoding is not None:
        try:
            return data.decode(encoding), encoding
        except LookupError:
            raise InputError(f"--encoding {encoding!r}: not an encoding Python knows (try cp1252, latin-1)") from None
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: not {encoding} text (byte {exc.start}); try another --encoding") from None
    if b"\0" in data:
        raise InputError(f"{name}: binary file, expected text")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:  # most non-UTF-8 text is Windows-1252 (Word, Notepad): taken when it decodes to mostly ASCII letters
        text = data.decode("cp1252")
        letters = [c for c in text if c.isalpha()]
        if sum(not c.isascii() for c in letters) <= 0.3 * len(letters):
            return text, "windows-1252"
    except UnicodeDecodeError:
        pass
    guess = None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[:200_000]).best()
        guess = best.encoding if best is not None else None
    except ImportError:  # pragma: no cover - a dependency; kept optional for odd installs
        guess = None
    for candidate in (guess, "cp1252"):
        if candidate:
            try:
                return data.decode(candidate), _pretty(candidate)
            except (UnicodeDecodeError, LookupError):
                continue
    return data.decode("cp1252", errors="replace"), "windows-1252 (some bytes replaced)"


def _pretty(encoding: str) -> str:
    return {"cp1252": "windows-1252", "cp1250": "windows-1250", "latin_1": "latin-1"}.get(encoding, encoding)
