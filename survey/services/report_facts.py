"""Report facts: the figures that used to scan every response, debrief or invitation per request,
counted ahead per scope and kept in the transaction of every write that changes them.

A scope is one combination of grouping attributes (report_scopes: month, position, department,
stage, hiring manager, recruiter; a few thousand rows whatever the number of interviews); a fact
row counts one kind of thing in one scope (report_facts):

- ``sent``: invitations emailed, scoped by their interview (month of its end, its position's
  department, its current stage, hiring manager and recruiter), like the response rate's filters.
- ``calibration``: debriefs with an expected outcome whose interview has a decided outcome; label
  the expectation, value "1" when the outcome went the candidate's way. Interview scope.
- ``outcome_n`` / ``outcome``: named responses of interviews with an outcome other than pending,
  per outcome (label); ``outcome`` counts each numeric item's answer values. Interview scope.
- ``gap_pairs`` / ``gap`` / ``gap_rule``: named responses beside their interview's debrief,
  scoped by the response's own grouping attributes (copied at submit, like report_cells): how
  many pairs, each mirrored pair's candidate-minus-recruiter difference (value), and for each
  rule pair how many pairs it could judge and how many it flags.

Every fact is defined once, as SQL over the source rows (`_parts`). `rebuild_facts` counts them
all; a change recounts only the interviews it touches, before and after the write, and adds the
difference (`install_fact_keeper`, hooked to the session's flushes); a new response adds its own facts
(`record_response_facts`, called where the response is tallied). So the incremental counts are,
by construction, what a recount gives.

These are writes, kept in the transaction of the write that moves them, so they live among the
services; the reports read the facts through survey/reports/fact_sums.py.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    event,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import PASSIVE_NO_INITIALIZE, get_history

from ..driver_sql import DriverStatement, per_database, prepare
from ..extensions import db
from ..models import (
    DECIDED_OUTCOMES,
    EXPECTED_OUTCOMES,
    GAP_FACT_KINDS,
    IMPROVE_TEXT,
    ISSUES_TEXT,
    POSITIVE_OUTCOMES,
    SCOPE_KEYS,
    TEXT_FACT_KEYS,
    Debrief,
    Interview,
    Invitation,
    Position,
    QuestionSetVersion,
    Response,
    User,
    report_facts,
    report_scopes,
    report_text_facts,
)
from ..questions import DETRACTOR_MAX, NUMERIC_TYPES, PROMOTER_MIN, SCALE_PAIRS

SCOPES = report_scopes.c
FACTS = report_facts.c
TEXT_FACTS = report_text_facts.c
INTERVIEW_KINDS = frozenset({"sent", "calibration", "outcome_n", "outcome"})
RESPONSE_KINDS = frozenset({"outcome_n", "outcome", "gap_pairs", "gap", "gap_rule"})
TEXT_KINDS = frozenset({ISSUES_TEXT, IMPROVE_TEXT})
# Which facts a change to each kind of row can move.
INTERVIEW_FIELDS = (
    "ends_at",
    "position_id",
    "position",
    "stage",
    "hiring_manager",
    "recruiter_id",
    "recruiter",
)
DEBRIEF_KINDS = frozenset({"calibration", ISSUES_TEXT}) | GAP_FACT_KINDS
Key = tuple[Any, ...]  # (*scope, kind, item, label, value)


# --- The facts, as SQL over the source rows -----------------------------------------------------


def _month(column: Any, dialect: str) -> Any:
    """ "YYYY-MM" of a stored (naive UTC) time."""
    if dialect == "postgresql":
        return func.to_char(column, "YYYY-MM")
    return func.substr(column, 1, 7)


def _interview_scope(dialect: str) -> list[Any]:
    return [
        _month(Interview.ends_at, dialect).label("month"),
        Interview.position_id.label("position_id"),
        func.coalesce(Position.department, "").label("department"),
        Interview.stage.label("stage"),
        func.coalesce(Interview.hiring_manager, "").label("hiring_manager"),
        Interview.recruiter_id.label("recruiter_id"),
    ]


def _response_scope() -> list[Any]:
    return [
        Response.month.label("month"),
        func.coalesce(Response.position_id, 0).label("position_id"),
        func.coalesce(Response.department, "").label("department"),
        Response.stage.label("stage"),
        func.coalesce(Response.hiring_manager, "").label("hiring_manager"),
        func.coalesce(Response.recruiter_id, 0).label("recruiter_id"),
    ]


def _part(scope: list[Any], kind: str, item: Any = "", label: Any = "", value: Any = "") -> Any:
    """One fact's SELECT: the scope, the fact's names, how many; grouped by all but the count."""
    named = [
        _text(kind).label("kind"),
        _text(item).label("item"),
        _text(label).label("label"),
        _text(value).label("value"),
    ]
    grouping = [*scope, *(column for column in (item, label, value) if not isinstance(column, str))]
    return select(*scope, *named, func.count().label("n")), grouping


def _text(value: Any) -> Any:
    return literal(value, String) if isinstance(value, str) else value


def _answer(key: str) -> Any:
    return Response.answers[key].as_integer()


def _interview_parts(dialect: str, kinds: frozenset[str], items: list[str], restricted: bool) -> list[Any]:
    scope = _interview_scope(dialect)
    parts = []
    if "sent" in kinds:
        statement, grouping = _part(scope, "sent")
        statement = (
            statement.select_from(Invitation)
            .join(Interview, Interview.id == Invitation.interview_id)
            .join(Position, Position.id == Interview.position_id)
            .where(Invitation.sent_at.is_not(None))
        )
        parts.append(_restricted(statement, Interview.id, restricted).group_by(*grouping))
    if "calibration" in kinds:
        positive = case((Interview.outcome.in_(POSITIVE_OUTCOMES), "1"), else_="0")
        statement, grouping = _part(scope, "calibration", label=Debrief.expected_outcome, value=positive)
        statement = (
            statement.select_from(Interview)
            .join(Debrief, Debrief.interview_id == Interview.id)
            .join(User, User.id == Interview.recruiter_id)
            .join(Position, Position.id == Interview.position_id)
            .where(Interview.outcome.in_(DECIDED_OUTCOMES), Debrief.expected_outcome.in_(EXPECTED_OUTCOMES))
        )
        parts.append(_restricted(statement, Interview.id, restricted).group_by(*grouping))
    return parts


def _named_with_outcome(statement: Any) -> Any:
    return (
        statement.select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .join(Interview, Interview.id == Invitation.interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(Response.consent == "named", Interview.outcome != "pending")
    )


def _outcome_parts(
    dialect: str, kinds: frozenset[str], items: list[str], column: Any, restricted: bool
) -> list[Any]:
    scope = _interview_scope(dialect)
    parts = []
    if "outcome_n" in kinds:
        statement, grouping = _part(scope, "outcome_n", label=Interview.outcome)
        parts.append(_restricted(_named_with_outcome(statement), column, restricted).group_by(*grouping))
    if "outcome" in kinds:
        for key in items:
            value = cast(_answer(key), String)
            statement, grouping = _part(scope, "outcome", key, Interview.outcome, value)
            statement = _named_with_outcome(statement).where(_answer(key).is_not(None))
            parts.append(_restricted(statement, column, restricted).group_by(*grouping))
    return parts


def _gap_rules() -> dict[str, tuple[Any, Any]]:
    """Each rule pair: when it can judge a pair, and when it flags it (questions' rules in SQL)."""
    next_steps, signal = _answer("next_steps"), Debrief.next_step_signal
    clarity, cleared = _answer("role_clarity"), Debrief.doubts_cleared
    nps, referral = _answer("nps"), Debrief.referral_potential
    return {
        "next": (
            and_(signal.in_(("yes", "no")), next_steps.is_not(None)),
            or_(and_(signal == "yes", next_steps <= 2), and_(signal == "no", next_steps >= 4)),
        ),
        "doubts": (
            and_(cleared.is_not(None), clarity.is_not(None)),
            and_(cleared.is_(True), clarity <= 2),
        ),
        "referral": (
            and_(referral.is_not(None), nps.is_not(None)),
            or_(and_(referral >= 4, nps <= DETRACTOR_MAX), and_(referral <= 2, nps >= PROMOTER_MIN)),
        ),
    }


def _gap_parts(kinds: frozenset[str], column: Any, restricted: bool) -> list[Any]:
    scope = _response_scope()

    def paired(statement: Any) -> Any:
        # A named response beside its interview's debrief (an erased one has no invitation left).
        joined = (
            statement.select_from(Debrief)
            .join(Invitation, Invitation.interview_id == Debrief.interview_id)
            .join(Response, Response.invitation_id == Invitation.id)
        )
        return _restricted(joined, column, restricted)

    parts = []
    if "gap_pairs" in kinds:
        statement, grouping = _part(scope, "gap_pairs")
        parts.append(paired(statement).group_by(*grouping))
    if "gap" in kinds:
        for pair in SCALE_PAIRS:
            gap = _answer(pair.survey_key) - getattr(Debrief, pair.debrief_field)
            statement, grouping = _part(scope, "gap", pair.survey_key, value=cast(gap, String))
            parts.append(paired(statement).where(gap.is_not(None)).group_by(*grouping))
    if "gap_rule" in kinds:
        for name, conditions in _gap_rules().items():
            for label, condition in zip(("checked", "mismatch"), conditions, strict=True):
                statement, grouping = _part(scope, "gap_rule", name, label)
                parts.append(paired(statement).where(condition).group_by(*grouping))
    return parts


def _text_parts(dialect: str, kinds: frozenset[str], of: str | None) -> list[Any]:
    """Debriefs per process-issues text (interview scope; "" when none is mentioned) and
    `improve` answers per text, named or not (response scope), trimmed as the themes read them."""
    restricted = of is not None  # to the ids bound when the statement runs
    parts = []
    if ISSUES_TEXT in kinds and of != "responses":
        issues = func.trim(func.coalesce(Debrief.process_issues, ""))
        statement, grouping = _part(_interview_scope(dialect), ISSUES_TEXT, value=issues)
        statement = (
            statement.select_from(Debrief)
            .join(Interview, Interview.id == Debrief.interview_id)
            .join(Position, Position.id == Interview.position_id)
        )
        parts.append(_restricted(statement, Interview.id, restricted).group_by(*grouping))
    if IMPROVE_TEXT in kinds and of != "interviews":
        # Answers no longer tied to an interview (an erased candidate's) still count: by response.
        text = func.trim(Response.improve_text)
        named = case((Response.consent == "named", "named"), else_="anonymous")
        statement, grouping = _part(_response_scope(), IMPROVE_TEXT, label=named, value=text)
        statement = statement.select_from(Response).where(Response.improve_text.is_not(None), text != "")
        parts.append(_restricted(statement, Response.id, restricted).group_by(*grouping))
    return parts


def _restricted(statement: Any, column: Any, restricted: bool) -> Any:
    """The statement, or (restricted) only its rows whose column is in the expanding `ids` parameter."""
    return statement.where(column.in_(bindparam("ids", expanding=True))) if restricted else statement


@lru_cache(maxsize=128)
def fact_statement(dialect: str, kinds: frozenset[str], items: tuple[str, ...], of: str | None = None) -> Any:
    """Every fact of these kinds, from the source rows: of everything (`of` None), of some
    interviews (`of` "interviews") or of some responses ("responses": a response's own facts,
    outcome and gap kinds); the ids are the statement's expanding `ids` parameter.

    Built once per shape: every flush that touches an interview counts its facts twice, and
    building the union costs several times what running it does.
    """
    restricted = of is not None  # to the ids bound when the statement runs
    parts = []
    if of == "responses":
        parts += _outcome_parts(dialect, kinds, list(items), Response.id, restricted)
        parts += _gap_parts(kinds, Response.id, restricted)
    else:
        parts += _interview_parts(dialect, kinds, list(items), restricted)
        parts += _outcome_parts(dialect, kinds, list(items), Interview.id, restricted)
        parts += _gap_parts(kinds, Debrief.interview_id, restricted)
    parts += _text_parts(dialect, kinds, of)
    return union_all(*parts) if parts else None


def counted(
    connection: Any,
    kinds: frozenset[str],
    interview_ids: Iterable[int] | None = None,
    response_ids: Iterable[str] | None = None,
) -> Counter[Key]:
    """The facts of some interviews or responses as they stand now, by key."""
    # The items only matter to outcome facts (a delivered email, say, reads no question set).
    items = tuple(numeric_items(connection)) if "outcome" in kinds else ()
    of, ids = ("responses", response_ids) if response_ids is not None else ("interviews", interview_ids)
    if ids is None:
        of = None
    statement = fact_statement(connection.dialect.name, kinds, items, of)
    if statement is None:
        return Counter()
    parameters = {} if of is None else {"ids": list(ids)}
    return Counter({tuple(row[:-1]): int(row[-1]) for row in connection.execute(statement, parameters)})


# --- Writing them ------------------------------------------------------------------------------


def _insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


LEVELS = (0, 1, 2)
EVERYTHING = ("", 0, "", "", "", 0)


def _levels(scope: Key) -> list[tuple[int, Key]]:
    """The scopes a fact of this combination is counted in: itself, over all months, everything."""
    return [(0, scope), (1, ("", *scope[1:])), (2, EVERYTHING)]


SCOPE_COLUMNS = (SCOPES.level, *(SCOPES[name] for name in SCOPE_KEYS))
SCOPES_PER_STATEMENT = 1_024  # seven parameters each: well inside every database's limit


@lru_cache(maxsize=16)
def _scope_ids_statement(size: int) -> Any:
    """The ids of `size` scopes, each bound as its own row of parameters (s0_0, s0_1 …): compiled
    once per size. An expanding parameter would be rendered into the SQL anew at every execution,
    which cost more than the rest of a delivered email's facts."""
    rows = [
        tuple_(*(bindparam(f"s{row}_{i}", type_=column.type) for i, column in enumerate(SCOPE_COLUMNS)))
        for row in range(size)
    ]
    return select(SCOPES.id, *SCOPE_COLUMNS).where(tuple_(*SCOPE_COLUMNS).in_(rows))


def _scope_ids(connection: Any, scopes: set[tuple[int, Key]]) -> dict[tuple[int, Key], int]:
    """Each scope's id, read at once, and created first where it is new (most changes land in
    existing scopes)."""
    wanted = {(level, *scope): (level, scope) for level, scope in scopes}
    found = _found_scopes(connection, list(wanted))
    # In one fixed order, as every row below: two transactions touching the same rows then lock
    # them in the same order and wait for each other instead of deadlocking (PostgreSQL).
    missing = sorted(key for key in wanted if key not in found)
    if missing:
        rows = [dict(zip(("level", *SCOPE_KEYS), key, strict=True)) for key in missing]
        connection.execute(_insert(connection.dialect.name, report_scopes).on_conflict_do_nothing(), rows)
        found.update(_found_scopes(connection, missing))
    return {scope: found[key] for key, scope in wanted.items()}


def _found_scopes(connection: Any, keys: list[Key]) -> dict[Key, int]:
    found = {}
    for start in range(0, len(keys), SCOPES_PER_STATEMENT):
        chunk = keys[start : start + SCOPES_PER_STATEMENT]
        size = 1 << (len(chunk) - 1).bit_length()  # a few sizes, each compiled once
        chunk += chunk[-1:] * (size - len(chunk))  # padded with a repeat, which IN ignores
        parameters = {f"s{row}_{i}": value for row, key in enumerate(chunk) for i, value in enumerate(key)}
        statement = _scope_ids_statement(size)
        found.update((tuple(row[1:]), row[0]) for row in connection.execute(statement, parameters))
    return found


def apply_changes(connection: Any, changes: Counter[Key]) -> None:
    """Add each key's change to its fact at every level (creating scopes and facts as needed; a
    fact that reaches zero is removed, as a recount would not have it)."""
    width = len(SCOPE_KEYS)
    leveled: Counter[tuple[tuple[int, Key], Key]] = Counter()
    for key, n in changes.items():
        for scope in _levels(key[:width]):
            leveled[(scope, key[width:])] += n
    leveled = Counter({key: n for key, n in leveled.items() if n})
    if not leveled:
        return
    ids = _scope_ids(connection, {scope for scope, _ in leveled})
    rows, text_rows = [], []
    for (scope, (kind, item, label, value)), n in leveled.items():
        if kind in TEXT_KINDS:
            text_rows.append(
                {
                    "scope_id": ids[scope],
                    "kind": kind,
                    "label": label,
                    "text_hash": text_hash(value),
                    "text": value,
                }
                | {"count": n}
            )
        else:
            rows.append(
                {
                    "scope_id": ids[scope],
                    "kind": kind,
                    "item": item,
                    "label": label,
                    "value": value,
                    "count": n,
                }
            )
    rows.sort(key=lambda row: (row["scope_id"], row["kind"], row["item"], row["label"], row["value"]))
    text_rows.sort(key=lambda row: (row["scope_id"], row["kind"], row["label"], row["text_hash"]))
    dialect = connection.dialect.name
    for statement, batch, sweep in (
        (_add_facts_statement(dialect), rows, _drop_zero_facts_statement()),
        (_add_text_facts_statement(dialect), text_rows, _drop_zero_text_facts_statement()),
    ):
        if not batch:
            continue
        connection.execute(statement, batch)
        if any(row["count"] < 0 for row in batch):  # only a decrease can bring a fact to zero
            connection.execute(sweep, {"ids": sorted({row["scope_id"] for row in batch})})


def text_hash(text: str) -> str:
    """What a text fact is unique by: its SHA-256 (a whole text may exceed an index entry)."""
    return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=2)
def _add_text_facts_statement(dialect: str) -> Any:
    statement = _insert(dialect, report_text_facts)
    return statement.on_conflict_do_update(
        index_elements=list(TEXT_FACT_KEYS),
        set_={"count": TEXT_FACTS["count"] + statement.excluded["count"]},
    )


@cache
def _drop_zero_text_facts_statement() -> Any:
    in_scopes = TEXT_FACTS.scope_id.in_(bindparam("ids", expanding=True))
    return delete(report_text_facts).where(in_scopes, TEXT_FACTS["count"] == 0)


@lru_cache(maxsize=2)
def _add_facts_statement(dialect: str) -> Any:
    statement = _insert(dialect, report_facts)
    return statement.on_conflict_do_update(
        index_elements=["scope_id", "kind", "item", "label", "value"],
        set_={"count": FACTS["count"] + statement.excluded["count"]},
    )


@cache
def _drop_zero_facts_statement() -> Any:
    return delete(report_facts).where(
        FACTS.scope_id.in_(bindparam("ids", expanding=True)), FACTS["count"] == 0
    )


CHUNK = 10_000  # ids per statement: PostgreSQL takes at most 65,535 parameters


def _counted_in_chunks(connection: Any, kinds: frozenset[str], interview_ids: list[int]) -> Counter[Key]:
    total: Counter[Key] = Counter()
    for start in range(0, len(interview_ids), CHUNK):
        total.update(counted(connection, kinds, interview_ids=interview_ids[start : start + CHUNK]))
    return total


@contextmanager
def kept_across(
    interview_ids: Iterable[int], kinds: frozenset[str] = INTERVIEW_KINDS | {ISSUES_TEXT}
) -> Iterator[None]:
    """Keep the facts of these interviews across a write the session's flush does not see (a Core
    UPDATE): counted before and after it, the difference added, in the same transaction."""
    ids = sorted(set(interview_ids))
    db.session.flush()
    connection = db.session.connection()
    before = _counted_in_chunks(connection, kinds, ids)
    yield
    changes = _counted_in_chunks(connection, kinds, ids)
    changes.subtract(before)
    apply_changes(connection, changes)


def record_response_facts(
    connection: Connection, response_id: str, invitation_id: int | None, standing: Any = None
) -> None:
    """Add a new response's own facts (caller commits, with the response).

    Most answers arrive while the outcome is pending, often before the debrief: whether its
    interview has an outcome and a debrief (`standing`, as the link's spend returned them, or one
    lookup by primary key) says which of its facts can exist, so the submit runs no more than it
    needs.
    """
    if invitation_id is None:
        return
    if standing is None:
        standing = connection.execute(
            _interview_standing_statement(), {"invitation_id": invitation_id}
        ).first()
    if standing is None:
        return
    kinds = (frozenset({"outcome_n", "outcome"}) if standing.outcome != "pending" else frozenset()) | (
        GAP_FACT_KINDS if standing.debriefed else frozenset()
    )
    if kinds:
        apply_changes(connection, counted(connection, kinds, response_ids=[response_id]))


def interview_standing(invitations: Any) -> tuple[Any, Any]:
    """(outcome, debriefed) of an invitation's interview, as columns correlated to `invitations`
    (an invitations table or alias): what a new response's facts depend on."""
    # Named with its table: in an UPDATE's RETURNING, SQLite is given bare column names, and a bare
    # `interview_id` inside the debriefs subquery would mean the debrief's own column (true as soon
    # as any interview has a debrief).
    interview_id = literal_column(f"{invitations.name}.interview_id")
    outcome = select(Interview.outcome).where(Interview.id == interview_id)
    debriefed = select(Debrief.id).where(Debrief.interview_id == interview_id).exists()
    return outcome.scalar_subquery().label("outcome"), debriefed.label("debriefed")


def record_improve_text(
    connection: Connection, scope: dict[str, Any], consent: str, text: str | None
) -> None:
    """Count a new response's `improve` answer in the themes' text facts (caller commits, with
    the response): its scope and text are at hand, so nothing is read back."""
    text = (text or "").strip(" ")  # as SQL's trim() has it, so a recount agrees
    if not text:
        return
    label = "named" if consent == "named" else "anonymous"
    key = (*(scope[name] for name in SCOPE_KEYS), IMPROVE_TEXT, "", label, text)
    apply_changes(connection, Counter({key: 1}))


def fill_text_facts(connection: Any) -> int:
    """Recount the themes' text facts from the source rows (`reports rebuild-cells` runs it after
    rebuild_facts); returns how many there are."""
    connection.execute(delete(report_text_facts))
    statement = fact_statement(connection.dialect.name, TEXT_KINDS, ())
    apply_changes(
        connection, Counter({tuple(row[:-1]): int(row[-1]) for row in connection.execute(statement)})
    )
    return connection.scalar(select(func.count()).select_from(report_text_facts)) or 0


@cache
def _interview_standing_statement() -> Any:
    invitations = Invitation.__table__
    return select(*interview_standing(invitations)).where(invitations.c.id == bindparam("invitation_id"))


def rebuild_facts(connection: Any) -> int:
    """Recount every scope and fact from the source rows, in SQL; returns the number of facts."""
    dialect = connection.dialect.name
    connection.execute(delete(report_facts))
    connection.execute(delete(report_scopes))
    every = fact_statement(dialect, INTERVIEW_KINDS | RESPONSE_KINDS, tuple(numeric_items(connection)))
    rows = every.subquery()
    names = [rows.c[name] for name in ("kind", "item", "label", "value")]
    _insert_level(connection, 0, rows, [rows.c[name] for name in SCOPE_KEYS], names, func.sum(rows.c.n))
    # The wider levels add up the combinations' facts just written.
    exact = select(report_facts, *(SCOPES[name] for name in SCOPE_KEYS)).join(
        report_scopes, and_(SCOPES.id == FACTS.scope_id, SCOPES.level == 0)
    )
    exact = exact.subquery()
    names = [exact.c[name] for name in ("kind", "item", "label", "value")]
    for level in LEVELS[1:]:
        keys = [
            exact.c[name] if level == 1 and name != "month" else literal(blank).label(name)
            for name, blank in zip(SCOPE_KEYS, EVERYTHING, strict=True)
        ]
        _insert_level(connection, level, exact, keys, names, func.sum(exact.c["count"]))
    return connection.scalar(select(func.count()).select_from(report_facts)) or 0


def _insert_level(
    connection: Any, level: int, rows: Any, keys: list[Any], names: list[Any], total: Any
) -> None:
    """Write one level's scopes, then its facts summed per scope (rows: a subquery of facts)."""
    grouped = [key for key in keys if _is_column(key)]
    scopes = select(literal(level).label("level"), *keys).select_from(rows).distinct()
    connection.execute(insert(report_scopes).from_select(["level", *SCOPE_KEYS], scopes))
    source = select(*keys, *names, total.label("n")).select_from(rows).group_by(*grouped, *names).subquery()
    match = [SCOPES.level == level] + [SCOPES[name] == source.c[name] for name in SCOPE_KEYS]
    facts = select(SCOPES.id, *(source.c[name] for name in ("kind", "item", "label", "value")), source.c.n)
    facts = facts.select_from(source).join(report_scopes, and_(*match))
    connection.execute(
        insert(report_facts).from_select(["scope_id", "kind", "item", "label", "value", "count"], facts)
    )


def _is_column(key: Any) -> bool:
    """A subquery's column (grouped by), not a constant standing for "all"."""
    return getattr(key, "table", None) is not None


def numeric_items(connection: Any) -> list[str]:
    """Every numeric item key of every stored question-set version (what outcome facts count)."""
    keys: dict[str, None] = {}
    statement = select(QuestionSetVersion.document).order_by(QuestionSetVersion.id)
    for document in connection.scalars(statement):
        for item in document.get("questions", []):
            if item["type"] in NUMERIC_TYPES:
                keys.setdefault(item["key"], None)
    return list(keys)


# --- Kept at every flush ------------------------------------------------------------------------


def _changed(obj: Any, fields: Iterable[str]) -> bool:
    state = inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in fields)


@dataclass
class Touched:
    """What a flush's pending changes can move: facts of some interviews (and of the interviews of
    some invitations), and the `improve` text facts of some responses."""

    interviews: set[int] = field(default_factory=set)
    invitations: set[int] = field(default_factory=set)
    responses: set[str] = field(default_factory=set)
    kinds: set[str] = field(default_factory=set)


def _touched(session: Session) -> Touched:
    """What a flush's pending changes can move. A new response is left out: its submit adds its
    own facts (record_response_facts)."""
    touched = Touched()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Interview):
            _touched_interview(session, obj, touched)
        elif isinstance(obj, Debrief):
            interview_id = obj.interview_id or (obj.interview.id if obj.interview else None)
            if interview_id:
                touched.interviews.add(interview_id)
            touched.kinds |= DEBRIEF_KINDS
        elif isinstance(obj, Invitation):
            _touched_invitation(session, obj, touched)
        elif isinstance(obj, Response) and obj not in session.new:
            history = inspect(obj).attrs.invitation_id.history
            touched.invitations |= {i for i in (*history.deleted, *history.unchanged, *history.added) if i}
            touched.responses.add(obj.id)
            touched.kinds |= RESPONSE_KINDS
    return touched


def _touched_invitation(session: Session, invitation: Invitation, touched: Touched) -> None:
    if invitation in session.new or invitation in session.deleted:
        changed = True
    else:
        # As the flush sees them, loading nothing (an unloaded value has no history).
        sent = get_history(invitation, "sent_at", passive=PASSIVE_NO_INITIALIZE)
        moved = get_history(invitation, "interview_id", passive=PASSIVE_NO_INITIALIZE)
        changed = sent.has_changes() or moved.has_changes()
    if changed:
        interview_id = invitation.interview_id or (invitation.interview.id if invitation.interview else None)
        if interview_id:
            touched.interviews.add(interview_id)
        touched.kinds.add("sent")


def _touched_interview(session: Session, interview: Interview, touched: Touched) -> None:
    if interview in session.new or interview in session.deleted or _changed(interview, INTERVIEW_FIELDS):
        if interview.id:
            touched.interviews.add(interview.id)
        touched.kinds |= INTERVIEW_KINDS | {ISSUES_TEXT}
    elif _changed(interview, ("outcome",)):
        touched.interviews.add(interview.id)
        touched.kinds |= {"calibration", "outcome_n", "outcome"}


def _counted_now(
    connection: Any, interviews: set[int], responses: set[str], kinds: frozenset[str]
) -> Counter[Key]:
    """The facts of the touched interviews and the `improve` texts of the touched responses."""
    now = counted(connection, kinds, interview_ids=interviews) if interviews else Counter()
    if responses and IMPROVE_TEXT in kinds:
        now.update(counted(connection, frozenset({IMPROVE_TEXT}), response_ids=responses))
    return now


def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    """Count the touched interviews' facts as they stand before the write."""
    touched = _touched(session)
    if not touched.kinds:
        return
    connection = session.connection()
    interviews = touched.interviews
    if touched.invitations:
        statement = select(Invitation.interview_id).where(Invitation.id.in_(touched.invitations))
        interviews |= set(connection.scalars(statement))
    kinds = frozenset(touched.kinds | ({IMPROVE_TEXT} if touched.responses else set()))
    before = _counted_now(connection, interviews, touched.responses, kinds)
    session.info[PENDING] = (interviews, touched.responses, kinds, before)


def _after_flush(session: Session, flush_context: Any) -> None:
    """Count them again after the write (new interviews now have ids) and add the difference."""
    pending = session.info.pop(PENDING, None)
    if pending is None:
        return
    interviews, responses, kinds, before = pending
    interviews = interviews | _touched(session).interviews
    if not interviews and not responses:
        return
    connection = session.connection()
    changes = _counted_now(connection, interviews, responses, kinds)
    changes.subtract(before)
    apply_changes(connection, changes)


PENDING = "report_facts_before"


@cache
def _interview_scope_statement(dialect: str) -> Any:
    return (
        select(*_interview_scope(dialect))
        .select_from(Interview)
        .join(Position, Position.id == Interview.position_id)
        .where(Interview.id == bindparam("interview_id"))
    )


def interview_scope_ids(dialect: str, interview_id: Any = None) -> Any:
    """The ids of an interview's (`interview_id`: a bind, `interview_id` by default) scope at each
    of its three levels that exists: its columns as the counted facts group them."""
    interview_id = bindparam("interview_id") if interview_id is None else interview_id
    scope = [column.element for column in _interview_scope(dialect)]  # unlabelled, to compare
    over_months = [SCOPES[name] == column for name, column in zip(SCOPE_KEYS[1:], scope[1:], strict=True)]
    everything = [SCOPES[name] == blank for name, blank in zip(SCOPE_KEYS, EVERYTHING, strict=True)]
    levels = or_(
        and_(SCOPES.level == 0, SCOPES.month == scope[0], *over_months),
        and_(SCOPES.level == 1, SCOPES.month == "", *over_months),
        and_(SCOPES.level == 2, *everything),
    )
    return (
        select(SCOPES.id)
        .select_from(report_scopes)
        .join(Interview, Interview.id == interview_id)
        .join(Position, Position.id == Interview.position_id)
        .where(levels)
    )


def sent_added_to(dialect: str, scope_ids: Any, *conditions: Any) -> Any:
    """`n` (bindparam) more `sent` facts in each scope of `scope_ids` (a subquery or CTE of scope
    ids; where `conditions` hold), upserted in order of scope id as apply_changes writes them; it
    returns the scope id of each fact it wrote (a driver's rowcount for INSERT … SELECT is not
    to be relied on: psycopg reports -1)."""
    blank = literal("", String)
    rows = (
        select(scope_ids.c.id, literal("sent", String), blank, blank, blank, bindparam("n"))
        .where(*conditions)
        .order_by(scope_ids.c.id)
    )
    statement = _insert(dialect, report_facts).from_select([*FACT_COLUMNS, "count"], rows)
    statement = statement.on_conflict_do_update(
        index_elements=list(FACT_COLUMNS), set_={"count": FACTS["count"] + statement.excluded["count"]}
    )
    return statement.returning(FACTS.scope_id)


@per_database
def _sent_added_statement(dialect: Dialect) -> DriverStatement:
    """`n` more `sent` at the three levels of an interview's scope, in one statement, or nothing
    if a level's scope does not exist yet (decided in the statement's own snapshot, so that a
    scope another transaction creates meanwhile cannot make it write part of the levels);
    prepared once per database as the driver's own SQL (see driver_sql.py): a delivery runs it
    for every first send."""
    scopes = interview_scope_ids(dialect.name).subquery()
    every_level = select(func.count(scopes.c.id)).scalar_subquery() == len(LEVELS)
    return prepare(sent_added_to(dialect.name, scopes, every_level), dialect)


FACT_COLUMNS = ("scope_id", "kind", "item", "label", "value")


def add_first_sends(connection: Any, interview_ids: list[int]) -> None:
    """One more `sent` per invitation emailed for the first time, in its interview's scope: what
    a recount would add, in the caller's transaction: a delivery writes its rows without the
    flush, so the flush's recount does not see them. Most land in scopes that exist: one statement adds
    them at all three levels. Where a level's scope is new, it writes nothing and the change goes
    the long way (the scope read, created, and the facts added by apply_changes)."""
    statement = _sent_added_statement(connection.dialect)
    for interview_id, n in sorted(Counter(interview_ids).items()):
        if statement.execute(connection, {"interview_id": interview_id, "n": n}).all():
            continue
        scope = connection.execute(
            _interview_scope_statement(connection.dialect.name), {"interview_id": interview_id}
        ).first()
        if scope is not None:
            apply_changes(connection, Counter({(*scope, "sent", "", "", ""): n}))


def install_fact_keeper() -> None:
    """Keep the facts at every session's flushes: before it, count the facts of the interviews it
    touches; after it, count them again and add the difference, in the flush's transaction, so
    the facts commit or roll back with the change. Once per process."""
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
        event.listen(Session, "after_flush", _after_flush)
