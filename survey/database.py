"""Per-database engine settings."""

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session


def configure_engine(engine: Engine) -> None:
    """SQLite: enforce foreign keys, wait on locks instead of failing, and use WAL for files."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        # Deleted and overwritten content is zeroed, not left in free pages: erased names and
        # released held answers leave no readable trace in the file.
        cursor.execute("PRAGMA secure_delete=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def begin_claim(session: Session) -> None:
    """Start a transaction that claims queue rows; on SQLite, take the write lock before reading.

    PostgreSQL locks the selected rows (FOR UPDATE SKIP LOCKED). SQLite has no row locks, and
    its default deferred transaction would let two processes read the same due rows before
    either writes; BEGIN IMMEDIATE makes the read-then-claim one exclusive step instead.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
