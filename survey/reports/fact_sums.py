"""Reading the report facts: the figures counted ahead per scope, summed over the scopes a report's
filters select (the facts themselves are written by survey/services/report_facts.py).

What each kind of fact counts, and how the facts are kept in step with every write, is said
there: the writers belong to the services, as they run in the transaction of the write that moves
them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import BigInteger, cast, func, select

from ..extensions import db
from ..models import SCOPE_KEYS, report_facts, report_scopes, report_text_facts

SCOPES = report_scopes.c
FACTS = report_facts.c
TEXT_FACTS = report_text_facts.c


def selected_scopes(filters: Any, grouped: bool) -> Any:
    """The ids of the scopes the filters select, at the widest level that still tells the filters
    (and a grouping by scope attributes, if `grouped`) apart: everything, over all months, or per
    month."""
    active = filters.active()
    level = 2 if not active and not grouped else 1 if not {"month_from", "month_to"} & set(active) else 0
    return select(SCOPES.id).where(SCOPES.level == level, *filters.on_columns(SCOPES))


def fact_rows(filters: Any, kinds: Iterable[str], *grouping: Any) -> list[Any]:
    """(*grouping, kind, item, label, value, count) of the facts of these kinds in the scopes the
    filters select, summed over those scopes: a few hundred rows whatever the data's size."""
    names = [FACTS.kind, FACTS.item, FACTS.label, FACTS.value]
    scopes = selected_scopes(filters, grouped=bool(grouping))
    statement = (
        select(*grouping, *names, cast(func.sum(FACTS["count"]), BigInteger))
        .select_from(report_facts)
        .join(report_scopes, SCOPES.id == FACTS.scope_id)
        .where(FACTS.kind.in_(list(kinds)), FACTS.scope_id.in_(scopes))
        .group_by(*grouping, *names)
        .order_by(*grouping, *names)
    )
    return list(db.session.execute(statement))


def text_fact_rows(filters: Any, kind: str) -> list[tuple[str, str, str, int]]:
    """(stage, label, text, count) of one kind of text fact in the scopes the filters select,
    summed over those scopes."""
    scopes = selected_scopes(filters, grouped=True)  # by stage
    statement = (
        select(
            SCOPES.stage, TEXT_FACTS.label, TEXT_FACTS.text, cast(func.sum(TEXT_FACTS["count"]), BigInteger)
        )
        .select_from(report_text_facts)
        .join(report_scopes, SCOPES.id == TEXT_FACTS.scope_id)
        .where(TEXT_FACTS.kind == kind, TEXT_FACTS.scope_id.in_(scopes))
        .group_by(SCOPES.stage, TEXT_FACTS.label, TEXT_FACTS.text)
    )
    return [tuple(row) for row in db.session.execute(statement)]


def scope_keys(connection: Any) -> dict[tuple[Any, ...], int]:
    """Every fact by scope attributes rather than scope id (what a recount is compared on)."""
    keys = [SCOPES.level, *(SCOPES[name] for name in SCOPE_KEYS)]
    statement = select(*keys, FACTS.kind, FACTS.item, FACTS.label, FACTS.value, FACTS["count"]).join(
        report_scopes, SCOPES.id == FACTS.scope_id
    )
    return {tuple(row[:-1]): row[-1] for row in connection.execute(statement)}
