"""A rate-limit storage in a SQLite file, shared by every process of one machine.

`limits` (behind Flask-Limiter) keeps counters in memory by default: each gunicorn worker would
then count alone, and two workers would allow twice the limit. This storage keeps the counters in
one small SQLite file (`RATELIMIT_STORAGE_URI=sqlite:////path/to/ratelimits.sqlite`, the default
under `instance/`), written with one atomic statement per hit. Several machines need a storage
they all reach: `redis://…`.
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import threading
import time
from pathlib import Path

from limits.storage import Storage

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS counters "
    "(key TEXT PRIMARY KEY, hits INTEGER NOT NULL, expires_at REAL NOT NULL)"
)
# One statement: start a fresh window when the old one has ended, else add to it.
INCREMENT = """
INSERT INTO counters (key, hits, expires_at) VALUES (:key, :amount, :now + :expiry)
ON CONFLICT (key) DO UPDATE SET
    hits = CASE WHEN expires_at <= :now THEN :amount ELSE hits + :amount END,
    expires_at = CASE WHEN expires_at <= :now THEN :now + :expiry ELSE expires_at END
RETURNING hits
"""
# Expired rows are swept every so many increments, so the file stays small.
SWEEP_EVERY = 500


class SQLiteStorage(Storage):
    """Fixed-window counters in a SQLite file (WAL mode: readers never wait for the writer)."""

    STORAGE_SCHEME = ["sqlite"]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options) -> None:
        # As in SQLAlchemy URLs: sqlite:///relative/path, sqlite:////absolute/path.
        location = uri.split("://", 1)[1].removeprefix("/")
        if not location:
            raise ValueError("RATELIMIT_STORAGE_URI=sqlite:///… needs a file path that every worker shares")
        self.path = Path(location)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._increments = itertools.count(1)
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        with self._connection() as connection:
            connection.execute(SCHEMA)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened again after a fork (a connection never crosses processes)."""
        connection = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            connection = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add `amount` to the key's counter, starting a window of `expiry` seconds when none is open."""
        now = time.time()
        connection = self._connection()
        row = connection.execute(
            INCREMENT, {"key": key, "amount": amount, "now": now, "expiry": expiry}
        ).fetchone()
        if next(self._increments) % SWEEP_EVERY == 0:
            connection.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
        return int(row[0])

    def get(self, key: str) -> int:
        """The key's count in its current window (0 when none is open)."""
        row = (
            self._connection()
            .execute("SELECT hits FROM counters WHERE key = ? AND expires_at > ?", (key, time.time()))
            .fetchone()
        )
        return int(row[0]) if row else 0

    def get_expiry(self, key: str) -> float:
        """When the key's window ends (now when none is open)."""
        now = time.time()
        row = (
            self._connection()
            .execute("SELECT expires_at FROM counters WHERE key = ? AND expires_at > ?", (key, now))
            .fetchone()
        )
        return float(row[0]) if row else now

    def check(self) -> bool:
        """Whether the file can be read."""
        try:
            self._connection().execute("SELECT 1").fetchone()
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        """Forget every counter; returns how many there were."""
        return self._connection().execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        """Forget one key's counter."""
        self._connection().execute("DELETE FROM counters WHERE key = ?", (key,))
