"""Per-database engine settings, and how a lost database connection is recognised and let go."""

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, scoped_session

logger = logging.getLogger(__name__)

# What a database that is down, restarting or out of connections raises. Other errors
# (an integrity violation, a bad query) are bugs or input problems, not an outage.
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError, PoolTimeout)


def engine_options(url: str, options: dict) -> dict:
    """The engine options for a database: no ping before each checkout on SQLite.

    The ping (a `SELECT 1` on every checkout) lets a request survive a database server that
    restarted since the connection was pooled; a SQLite file has no server to lose, so there it
    is one statement per request for nothing.
    """
    if make_url(url).get_backend_name() == "sqlite":
        return {**options, "pool_pre_ping": False}
    return options


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


# SQLite lets one connection write at a time; the others poll with growing sleeps (1, 2, 5, 10 …
# 100 ms: its busy handler), so under load a waiting writer sleeps long after the lock is free.
# The survey's answers instead queue: the threads of a process on a lock, the processes on an
# exclusive lock of a file beside the database (the kernel wakes the next one the moment the
# writer before it commits). Other writers are not queued and still meet the busy handler.
# One turn per transaction: a service holding it must not ask for it again.
_THREADS = threading.Lock()
_lock_files: dict[tuple[int, str], int] = {}


@contextlib.contextmanager
def one_writer_at_a_time(session: Session | scoped_session) -> Iterator[None]:
    """Around a short write transaction (begin to commit): on a SQLite file, writers take turns;
    on PostgreSQL, which locks rows, and an in-memory SQLite, nothing."""
    url = session.get_bind().url
    if url.get_backend_name() != "sqlite" or not _plain_file(url):
        yield
        return
    with _THREADS:
        descriptor = _lock_file(url.database)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)


def _plain_file(url: URL) -> bool:
    """Whether a SQLite URL names a database file by path (not in memory, not a `file:` URI,
    whose lock file could not be put beside it by name)."""
    database = url.database or ""
    uri = str(url.query.get("uri", "")).lower() in ("true", "1")
    return database not in ("", ":memory:") and not uri and not database.startswith("file:")


def _lock_file(database: str) -> int:
    """This process's descriptor of the database's lock file (`<database>.write-lock`), opened by
    this process itself: a descriptor inherited across a fork would share the parent's lock."""
    key = (os.getpid(), database)
    if key not in _lock_files:
        _lock_files[key] = os.open(f"{database}.write-lock", os.O_RDWR | os.O_CREAT, 0o600)
    return _lock_files[key]


def database_unavailable(exc: BaseException | None) -> bool:
    """Whether an exception, or one it came from, says the database is out of reach."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, UNAVAILABLE_ERRORS):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def remove_session(session: scoped_session) -> None:
    """End a request's (or a worker pass's) session without ever raising for a lost connection.

    Closing a session rolls back its transaction; when the server has just gone away, that
    ROLLBACK fails on the dead socket. The connection is then invalidated (dropped from the
    pool, no round trip) and the session forgotten, so the next request starts clean instead
    of the error escaping the app after its response was chosen.
    """
    try:
        session.remove()
    except SQLAlchemyError as exc:
        logger.warning("discarding a database connection that was lost: %s", exc.__class__.__name__)
        # Invalidating may fail too (already as broken as it can be): forgetting it is all that is left.
        with contextlib.suppress(SQLAlchemyError):
            session.registry().invalidate()
        session.registry.clear()
