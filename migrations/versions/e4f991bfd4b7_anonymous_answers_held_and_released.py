"""anonymous answers: held sealed, released in cohorts; existing anonymous responses moved

Revision ID: e4f991bfd4b7
Revises: c4e1a7d2f018
Create Date: 2026-11-29 12:40:00

Existing anonymous responses leave `responses` (which kept their position, stage, hiring manager,
recruiter and month, enough to tie most of them to one interview). Each is released at once with
only its department and month when its cohort may be published by the rule of
survey/services/anonymity.py, and otherwise sealed into `held_answers` under SECRET_KEY for the
worker to release later. The report tally is recounted from the named responses that remain, and
completion times of anonymous completions are cut to the day.

On SQLite, run VACUUM after this upgrade so the old rows leave no trace in free pages (see
docs/privacy.md).
"""
from collections import Counter
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import sqlalchemy as sa
from alembic import op
from flask import current_app

from survey.sealing import seal
from survey.services.anonymity import plan_release, released_rows

# revision identifiers, used by Alembic.
revision = 'e4f991bfd4b7'
down_revision = 'c4e1a7d2f018'
branch_labels = None
depends_on = None

OPEN_STATUSES = ("scheduled", "sent", "opened")
responses = sa.table(
    "responses",
    sa.column("id", sa.String),
    sa.column("invitation_id", sa.Integer),
    sa.column("consent", sa.String),
    sa.column("answers", sa.JSON),
    sa.column("department", sa.String),
    sa.column("month", sa.String),
    sa.column("question_set_version", sa.Integer),
)
invitations = sa.table(
    "invitations",
    sa.column("id", sa.Integer),
    sa.column("interview_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("completed_at", sa.DateTime),
)
interviews = sa.table("interviews", sa.column("id", sa.Integer), sa.column("ends_at", sa.DateTime))
held = sa.table("held_answers", sa.column("id", sa.String), sa.column("sealed", sa.LargeBinary))
released = sa.table(
    "anonymous_answers",
    sa.column("id", sa.String),
    sa.column("month", sa.String),
    sa.column("department", sa.String),
    sa.column("question_set_version", sa.Integer),
    sa.column("answers", sa.JSON),
)

tally = sa.table(
    "anonymous_cells",
    *(sa.column(name, sa.String) for name in ("month", "department", "item")),
    sa.column("value", sa.Integer),
    sa.column("count", sa.Integer),
)


def upgrade():
    op.create_table(
        "held_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_held_answers")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "anonymous_answers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department", sa.String(length=120), nullable=True),
        sa.Column("question_set_version", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_answers")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("anonymous_answers", schema=None) as batch_op:
        batch_op.create_index("ix_anonymous_answers_month_department", ["month", "department"], unique=False)
    op.create_table(
        "anonymous_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("department", sa.String(length=120), nullable=True),
        sa.Column("item", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_anonymous_cells")),
    )
    with op.batch_alter_table("anonymous_cells", schema=None) as batch_op:
        batch_op.create_index("ix_anonymous_cells_month_department", ["month", "department"], unique=False)
    move_anonymous_responses()
    recount_report_cells()
    cut_anonymous_completions_to_the_day()


def move_anonymous_responses():
    """Release or seal every anonymous response, then delete it from responses."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(responses.c.id, responses.c.answers, responses.c.department, responses.c.month,
                  responses.c.question_set_version).where(responses.c.consent == "anonymous")
    ).all()
    if not rows:
        return
    payloads = {
        row.id: {"month": row.month, "department": row.department or "", "version": row.question_set_version,
                 "answers": row.answers or {}}
        for row in rows
    }
    now = datetime.now(UTC).replace(tzinfo=None)
    closed = {month for month in {p["month"] for p in payloads.values()} if month_closed(bind, month, now)}
    threshold = max(int(current_app.config["REPORT_MIN_GROUP_SIZE"]), 1)
    batches = plan_release(payloads.items(), closed, threshold)
    if batches:
        bind.execute(released.insert(), released_rows(batches, payloads))
        bind.execute(tally.insert(), tally_rows(batches, payloads))
    released_ids = {held_id for _, ids in batches for held_id in ids}
    secret = current_app.config["SECRET_KEY"]
    # Held rows get new random ids: nothing carries over from the response they were.
    to_hold = [{"id": uuid4().hex, "sealed": seal(p, secret)} for i, p in payloads.items() if i not in released_ids]
    if to_hold:
        bind.execute(held.insert(), to_hold)
    bind.execute(responses.delete().where(responses.c.consent == "anonymous"))


def _month_bounds(month):
    start = datetime.strptime(month, "%Y-%m")
    following = (start + timedelta(days=32)).replace(day=1)
    return start, following


def month_closed(bind, month, now):
    """The month is over and no invitation of an interview that ended in it is still open."""
    start, following = _month_bounds(month)
    if now < following:
        return False
    still_open = sa.select(sa.func.count()).select_from(
        invitations.join(interviews, interviews.c.id == invitations.c.interview_id)
    ).where(
        invitations.c.status.in_(OPEN_STATUSES),
        interviews.c.ends_at >= start,
        interviews.c.ends_at < following,
    )
    return not bind.execute(still_open).scalar()


# Question set v1's scale items and their values (the report_cells columns).
SCALE_ITEMS = {"nps": range(0, 11)} | {
    key: range(1, 6)
    for key in (
        "on_time", "prepared", "role_clarity", "fair", "next_steps",
        "culture_picture", "impression", "interest", "self_assessment",
    )
}
KEYS = ("month", "position_id", "position_title", "department", "stage", "hiring_manager", "recruiter_id")


def tally_rows(batches, payloads):
    """The anonymous_cells rows of a release as this revision wrote them: question set v1's scale
    items, integer values (a later revision stores values as text). Frozen here so this migration
    keeps doing what it did when the application's tally changes."""
    rows = []
    for cohort, ids in batches:
        counts = Counter({("responses", 0): len(ids)})
        for held_id in ids:
            answers = payloads[held_id]["answers"]
            for key, values in SCALE_ITEMS.items():
                value = answers.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value in values:
                    counts[(key, value)] += 1
        rows += [
            {"month": cohort.month, "department": cohort.department, "item": item, "value": value, "count": n}
            for (item, value), n in sorted(counts.items())
        ]
    return rows


def recount_report_cells():
    """Recount the tally from the responses left (the named ones), in SQL."""
    source_table = sa.table(
        "responses",
        sa.column("answers", sa.JSON),
        *(sa.column(name) for name in ("month", "position_title", "stage")),
        sa.column("position_id", sa.Integer),
        sa.column("department"),
        sa.column("hiring_manager"),
        sa.column("recruiter_id", sa.Integer),
    )
    source = sa.select(
        source_table.c.month,
        sa.func.coalesce(source_table.c.position_id, 0).label("position_id"),
        source_table.c.position_title,
        sa.func.coalesce(source_table.c.department, "").label("department"),
        source_table.c.stage,
        sa.func.coalesce(source_table.c.hiring_manager, "").label("hiring_manager"),
        sa.func.coalesce(source_table.c.recruiter_id, 0).label("recruiter_id"),
        *(source_table.c.answers[key].as_integer().label(key) for key in SCALE_ITEMS),
    ).subquery()
    names, counts = [], []
    for key, values in SCALE_ITEMS.items():
        for value in values:
            names.append(f"{key}_{value}")
            counts.append(sa.func.sum(sa.case((source.c[key] == value, 1), else_=0)))
    tallies = sa.select(*(source.c[key] for key in KEYS), sa.func.count(), *counts).group_by(
        *(source.c[key] for key in KEYS)
    )
    cells = sa.table("report_cells", *(sa.column(name) for name in (*KEYS, "responses", *names)))
    op.execute(cells.delete())
    op.execute(cells.insert().from_select([*KEYS, "responses", *names], tallies))


def cut_anonymous_completions_to_the_day():
    """Completed invitations with no named response keep only the day of completion."""
    bind = op.get_bind()
    named = sa.select(responses.c.invitation_id).where(responses.c.invitation_id.is_not(None))
    rows = bind.execute(
        sa.select(invitations.c.id, invitations.c.completed_at).where(
            invitations.c.status == "completed",
            invitations.c.completed_at.is_not(None),
            invitations.c.id.not_in(named),
        )
    ).all()
    for row in rows:
        day = row.completed_at.replace(hour=0, minute=0, second=0, microsecond=0)
        if day != row.completed_at:
            bind.execute(invitations.update().where(invitations.c.id == row.id).values(completed_at=day))


def downgrade():
    # Answers moved out of responses cannot be put back with attributes they no longer have.
    with op.batch_alter_table("anonymous_cells", schema=None) as batch_op:
        batch_op.drop_index("ix_anonymous_cells_month_department")
    op.drop_table("anonymous_cells")
    with op.batch_alter_table("anonymous_answers", schema=None) as batch_op:
        batch_op.drop_index("ix_anonymous_answers_month_department")
    op.drop_table("anonymous_answers")
    op.drop_table("held_answers")
