"""The grade cache: SQLite, keyed on everything that shapes a grading request.

Only graded results are stored (a failure is worth retrying). WAL mode lets a batch and a single grade
share the file; a corrupt or unreadable cache is reported once and grading goes on without it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

from grader.errors import ConfigError
from grader.models import Grade

SCHEMA = """
CREATE TABLE IF NOT EXISTS grades (
    key TEXT PRIMARY KEY,
    question_id TEXT NOT NULL,
    grade TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
)
"""


def cache_key(parts: dict[str, Any]) -> str:
    """sha256 of a canonical JSON form of the request's parts."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


class GradeCache:
    """Get and put grades by key."""

    def __init__(self, path: Path) -> None:
        """Open (creating) the cache file."""
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cache {path}: {exc} (use --no-cache or set GRADER_CACHE to another file)") from None

    def get(self, key: str) -> Grade | None:
        """The cached grade for a key, or None (also for an entry that no longer validates)."""
        row = self._db.execute("SELECT grade FROM grades WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Grade.model_validate_json(row[0])
        except ValueError:
            return None

    def put(self, key: str, grade: Grade) -> None:
        """Store a graded result."""
        if grade.status != "graded":
            return
        self._db.execute(
            "INSERT OR REPLACE INTO grades (key, question_id, grade) VALUES (?, ?, ?)",
            (key, grade.question_id, grade.model_dump_json()),
        )

    def clear(self) -> int:
        """Delete every entry; returns how many there were."""
        count = int(self._db.execute("SELECT COUNT(*) FROM grades").fetchone()[0])
        self._db.execute("DELETE FROM grades")
        self._db.execute("VACUUM")
        return count

    def close(self) -> None:
        """Close the connection."""
        self._db.close()
