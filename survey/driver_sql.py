"""Fixed Core statements compiled once per database and run as the driver's own SQL.

A candidate's answer is written while no other answer may write (SQLite has one writer at a time;
see database.one_writer_at_a_time), so every microsecond spent between its first statement and its
commit is a microsecond every other answer waits. SQLAlchemy's per-execution work for a cached
statement (building the parameters from the compiled form, the execution context) cost more there
than the statements themselves. A DriverStatement does that work once: the statement is compiled
for the database, its parameters are put in the driver's order with each column type's own bind
processing, and it runs through `Connection.exec_driver_sql`, so it stays in the connection's
transaction and the engine's events still see it.

Only statements whose whole effect is in their SQL qualify: no Python-side column defaults, no
expanding IN lists (both are rejected when the statement is prepared).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement


@dataclass(frozen=True)
class DriverStatement:
    """One statement as the driver runs it: its SQL, and how named values become its parameters."""

    sql: str
    # Per parameter in the driver's order: its bind name, its type's processing (a datetime to
    # SQLite's text, a dict to JSON) or None, and whether the statement binds its own value (the
    # literal 'completed' of a SET, say), with that value already processed.
    slots: tuple[tuple[str, Callable[[Any], Any] | None, bool, Any], ...]
    positional: bool

    def parameters(self, values: Mapping[str, Any]) -> tuple | dict:
        """The driver's parameters for one execution, from column (or bind) name → value."""
        processed = [
            fixed_value if fixed else (process(values[name]) if process else values[name])
            for name, process, fixed, fixed_value in self.slots
        ]
        if self.positional:
            return tuple(processed)
        return dict(zip((slot[0] for slot in self.slots), processed, strict=True))

    def execute(self, connection: Connection, values: Mapping[str, Any]) -> CursorResult:
        return connection.exec_driver_sql(self.sql, self.parameters(values))


def prepare(statement: ClauseElement, dialect: Dialect, columns: Iterable[str] = ()) -> DriverStatement:
    """Compile `statement` for `dialect`; `columns`: those an INSERT without values of its own is
    given at each execution. The callers keep the result (per_database)."""
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    if getattr(compiled, "insert_prefetch", None) or getattr(compiled, "update_prefetch", None):
        raise ValueError("a statement with Python-side column defaults cannot run as driver SQL")
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a statement with an expanding IN list cannot run as driver SQL")
    slots = []
    rendered = {name: bind for bind, name in compiled.bind_names.items()}
    # Positional styles list a bind once per place it appears; named ones once.
    for name in compiled.positiontup if compiled.positional else rendered:
        bind = rendered[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        fixed = not bind.required and bind.value is not None
        value = (process(bind.value) if process else bind.value) if fixed else None
        slots.append((name, process, fixed, value))
    return DriverStatement(compiled.string, tuple(slots), compiled.positional)


def per_database(build: Callable[..., DriverStatement]) -> Callable[..., DriverStatement]:
    """Cache a function building a DriverStatement for a dialect (and any further hashable
    arguments) per kind of database: a dialect object is made per engine, its SQL is not."""
    built: dict[tuple, DriverStatement] = {}

    @functools.wraps(build)
    def for_dialect(dialect: Dialect, *args: Any) -> DriverStatement:
        key = (dialect.name, dialect.driver, dialect.paramstyle, dialect.server_version_info, *args)
        statement = built.get(key)
        if statement is None:
            statement = built[key] = build(dialect, *args)
        return statement

    return for_dialect
