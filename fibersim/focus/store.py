"""The recordings index: when fiber data was received, kept in SQLite (the real server's MongoDB).

The store outlives core restarts, like the database outlives the server pod, and can be made
unreachable on purpose (``/_mock/store/down``) to reproduce the incident's crash loop. The data
path never writes per block: ``RecordingIndexer`` keeps the open recording in memory and
writes it in batches (on ``flush``, called about once a second and before every query).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

#: A pause in data time longer than this starts a new recording.
RECORDING_BREAK_S = 2.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY,
    start_s REAL NOT NULL,
    end_s REAL,               -- NULL while still recording
    last_seen_s REAL NOT NULL
)
"""


class StoreSelectionTimeoutError(ConnectionError):
    """The store cannot be reached; the message imitates pymongo's start-up failure."""


class RecordingStore:
    """SQLite-backed recordings index that can be switched unreachable and back."""

    def __init__(self, location: str) -> None:
        self.location = location
        self.reachable = True
        self._db: sqlite3.Connection | None = None

    @property
    def address(self) -> str:
        return f"sqlite[{self.location}]"

    def _connection(self) -> sqlite3.Connection:
        if not self.reachable:
            raise StoreSelectionTimeoutError(
                f"{self.address}: [Errno -3] Temporary failure in name resolution")
        if self._db is None:
            try:
                db = sqlite3.connect(self.location, check_same_thread=False)
                db.execute(_SCHEMA)
            except sqlite3.Error as error:
                raise StoreSelectionTimeoutError(f"{self.address}: {error}") from None
            self._db = db
        return self._db

    def ping(self) -> None:
        """What the core does at start-up: fail if the store cannot be reached."""
        self._connection()

    def next_id(self) -> int:
        row = self._connection().execute("SELECT COALESCE(MAX(id), 0) FROM recordings").fetchone()
        return int(row[0]) + 1

    def close_open_recordings(self) -> None:
        """A starting core ends the recordings its predecessor left open at their last data."""
        with self._connection() as db:
            db.execute("UPDATE recordings SET end_s = last_seen_s WHERE end_s IS NULL")

    def save(self, rows: list[tuple[int, float, float | None, float]]) -> None:
        """Insert or update ``(id, start_s, end_s or None, last_seen_s)`` rows in one batch."""
        with self._connection() as db:
            db.executemany(
                "INSERT INTO recordings (id, start_s, end_s, last_seen_s) VALUES (?, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET end_s = excluded.end_s,"
                " last_seen_s = excluded.last_seen_s", rows)

    def overlapping(self, start_s: float, end_s: float) -> list[tuple[float, float]]:
        """``(start, end)`` of recordings overlapping the window; end -1 while recording."""
        rows = self._connection().execute(
            "SELECT start_s, COALESCE(end_s, -1) FROM recordings"
            " WHERE start_s <= ? AND COALESCE(end_s, last_seen_s) >= ? ORDER BY start_s",
            (end_s, start_s)).fetchall()
        return [(float(start), float(end)) for start, end in rows]

    def all_recordings(self) -> list[tuple[float, float]]:
        """Every recording as ``(start, end or last data time)``, for the timeline page."""
        rows = self._connection().execute(
            "SELECT start_s, COALESCE(end_s, last_seen_s) FROM recordings ORDER BY start_s"
        ).fetchall()
        return [(float(start), float(end)) for start, end in rows]

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@dataclass
class _OpenRecording:
    id: int
    start_s: float
    last_seen_s: float


class RecordingIndexer:
    """Turns data block times into recordings, writing to the store in batches."""

    def __init__(self, store: RecordingStore) -> None:
        self._store = store
        self._next_id = store.next_id()
        self._open: _OpenRecording | None = None
        self._pending: dict[int, tuple[int, float, float | None, float]] = {}

    def on_data(self, start_s: float, end_s: float) -> None:
        """Data covering ``[start_s, end_s)`` arrived (cheap: memory only)."""
        current = self._open
        if current is not None and start_s - current.last_seen_s > RECORDING_BREAK_S:
            self.end_recording()
            current = None
        if current is None:
            current = self._open = _OpenRecording(self._next_id, start_s, end_s)
            self._next_id += 1
        current.last_seen_s = max(current.last_seen_s, end_s)
        self._pending[current.id] = (current.id, current.start_s, None, current.last_seen_s)

    def end_recording(self) -> None:
        """The fiber went away: the open recording ends at its last data."""
        current, self._open = self._open, None
        if current is not None:
            self._pending[current.id] = (current.id, current.start_s, current.last_seen_s,
                                         current.last_seen_s)

    def flush(self) -> None:
        """Write pending changes; if the store is unreachable, raise and keep them for later."""
        if self._pending:
            self._store.save(list(self._pending.values()))
            self._pending.clear()
