"""Inputs that are not UTF-8 text, made readable: DOCX and PDF exports, and text in another encoding.

`readable` yields a UTF-8 text file the transcript readers can stream (the file itself when it already is
one), and says what it did ("read as windows-1252", "text of a DOCX"). DOCX is read with python-docx, PDF
with pypdf (both imported only when such a file comes); a PDF with no text layer (a scan) or a format no
library here reads (.doc, .pages, .rtf) is an InputError that says how to export it.
"""

from __future__ import annotations

import codecs
import contextlib
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from grader.errors import InputError
from grader.text.textfile import decode_bytes, read_bytes

DOCUMENT_SUFFIXES = (".docx", ".pdf")
UNREADABLE = {".doc": "Word 97", ".rtf": "RTF", ".pages": "Pages", ".odt": "OpenDocument", ".xlsx": "Excel"}
MAX_DOCUMENT_BYTES = 200_000_000
EXPORT_HINT = "export the transcript as .txt, .vtt or .docx"


def _is_utf8(path: Path) -> bool:
    """Whether a file is UTF-8 (or has a UTF-16 BOM, which the readers handle), checked in 1 MB pieces."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        head = handle.read(2)
        if head in (b"\xff\xfe", b"\xfe\xff"):
            return True
        handle.seek(0)
        try:
            while chunk := handle.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def docx_text(path: Path) -> str:
    """The paragraphs of a DOCX (Teams and Google Docs downloads), one a line; table rows as "cell: cell"."""
    try:
        import docx
    except ImportError:  # pragma: no cover - a dependency
        raise InputError(
            f"{path}: reading DOCX needs python-docx (pip install python-docx); or {EXPORT_HINT}"
        ) from None
    try:
        document = docx.Document(str(path))
    except Exception as exc:  # noqa: BLE001 - python-docx raises many kinds on a broken file
        raise InputError(f"{path}: not a readable DOCX ({type(exc).__name__}); {EXPORT_HINT}") from None
    lines = [line for p in document.paragraphs for line in p.text.splitlines()]
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells if c.text.strip()]
            lines.append(": ".join(dict.fromkeys(cells)))
    return "\n".join(teams_layout(lines))


_TEAMS_TIMING = re.compile(r"^\s*\d{1,2}:\d{1,2}:\d{1,2}(?:[.,]\d+)?\s*-->\s*\d{1,2}:\d{1,2}:\d{1,2}(?:[.,]\d+)?\s*$")


def teams_layout(lines: list[str]) -> list[str]:
    """Teams' DOCX layout (a timing line, the speaker's name alone on the next, then the text) as "Name: text".

    Other layouts come back unchanged.
    """
    timings = sum(bool(_TEAMS_TIMING.match(line)) for line in lines)
    if timings < 2:
        return lines
    out: list[str] = []
    speaker: str | None = None
    for line in lines:
        if _TEAMS_TIMING.match(line):
            speaker = ""
        elif not line.strip():
            continue
        elif speaker == "":
            speaker = line.strip().rstrip(":")
        elif speaker:
            out.append(f"{speaker}: {line.strip()}")
    return out


def pdf_text(path: Path) -> str:
    """The text layer of a PDF, page after page."""
    try:
        import pypdf
    except ImportError:  # pragma: no cover - a dependency
        raise InputError(f"{path}: reading PDF needs pypdf (pip install pypdf); or {EXPORT_HINT}") from None
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            raise InputError(f"{path}: an encrypted PDF; {EXPORT_HINT}")
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds on a broken file
        raise InputError(f"{path}: not a readable PDF ({type(exc).__name__}); {EXPORT_HINT}") from None
    if not text.strip():
        raise InputError(f"{path}: the PDF holds no text (a scan?); {EXPORT_HINT}")
    return text


@contextlib.contextmanager
def readable(path: Path, encoding: str | None = None) -> Iterator[tuple[Path, str | None]]:
    """(a UTF-8 file to read in place of `path`, what was done to make it, or None)."""
    suffix = path.suffix.lower()
    if suffix in UNREADABLE:
        raise InputError(f"{path}: a {UNREADABLE[suffix]} file cannot be read here; {EXPORT_HINT}")
    if suffix in DOCUMENT_SUFFIXES:
        text = docx_text(path) if suffix == ".docx" else pdf_text(path)
        note: str | None = f"read the text of the {suffix[1:].upper()}"
        new_suffix = ".txt"
    elif encoding is None and _is_utf8(path):
        yield path, None
        return
    else:
        data = read_bytes(path, str(path), max_bytes=MAX_DOCUMENT_BYTES)
        text, used = decode_bytes(data, str(path), encoding)
        if used is None:
            yield path, None
            return
        note, new_suffix = f"not UTF-8; read it as {used}", suffix
    with tempfile.TemporaryDirectory(prefix="grader-") as folder:
        converted = Path(folder) / (path.stem[:100] + new_suffix)
        converted.write_text(text, encoding="utf-8")
        yield converted, note
