"""question sets as data, report tallies in long form, the candidate's language and time zone

Revision ID: c4e8a1f2b6d9
Revises: 6a2ba6c3b550
Create Date: 2026-11-29 12:40:00

- question_sets / question_set_stages / question_set_versions, seeded with the default set
  (DESIGN's v1 in en/de/fr/es) as set 1, version id 1: what every existing response answered.
- invitations.question_set_version_id: every invitation already issued showed v1.
- interviews.language / interviews.timezone (existing interviews: en, UTC).
- report_tallies (cell × item × value → count), filled from report_cells' per-value columns,
  which are then dropped: a new item no longer needs a migration.
- anonymous_cells.value as text like report_tallies, so released anonymous answers to choice
  items are counted too.
"""
import json
from datetime import UTC, datetime
from pathlib import Path

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8a1f2b6d9'
down_revision = '6a2ba6c3b550'
branch_labels = None
depends_on = None

# The default set as it shipped with this revision (v1 of DESIGN, in four languages).
DEFAULT_DOCUMENT = Path(__file__).resolve().parents[2] / "survey" / "default_question_set.json"
KEYS = ("month", "position_id", "position_title", "department", "stage", "hiring_manager", "recruiter_id")
# Question set v1's scale items and their values: report_cells' columns before this revision.
SCALE_ITEMS = {"nps": range(0, 11)} | {
    key: range(1, 6)
    for key in (
        "on_time", "prepared", "role_clarity", "fair", "next_steps",
        "culture_picture", "impression", "interest", "self_assessment",
    )
}


def cell_columns():
    return [
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('position_id', sa.Integer(), nullable=False),
        sa.Column('position_title', sa.String(length=200), nullable=False),
        sa.Column('department', sa.String(length=120), nullable=False),
        sa.Column('stage', sa.String(length=100), nullable=False),
        sa.Column('hiring_manager', sa.String(length=200), nullable=False),
        sa.Column('recruiter_id', sa.Integer(), nullable=False),
    ]


def upgrade():
    create_question_sets()
    seed_default_set()
    # Plain ADD COLUMNs (no table rebuild on SQLite: other tables reference these two).
    op.add_column('interviews', sa.Column('language', sa.String(length=20), server_default='en', nullable=False))
    op.add_column('interviews', sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))
    fk_name = 'fk_invitations_question_set_version_id_question_set_versions'
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite adds a column with its reference in one statement (Alembic would rebuild the table).
        op.execute(
            "ALTER TABLE invitations ADD COLUMN question_set_version_id INTEGER "
            f"CONSTRAINT {fk_name} REFERENCES question_set_versions (id)"
        )
    else:
        op.add_column('invitations', sa.Column('question_set_version_id', sa.Integer(), nullable=True))
        op.create_foreign_key(fk_name, 'invitations', 'question_set_versions', ['question_set_version_id'], ['id'])
    invitations = sa.table(
        'invitations', sa.column('question_set_version_id', sa.Integer), sa.column('issued_at'),
        sa.column('status', sa.String),
    )
    op.execute(
        invitations.update()
        .where(sa.or_(invitations.c.issued_at.is_not(None), invitations.c.status != 'scheduled'))
        .values(question_set_version_id=1)
    )
    create_tallies()
    with op.batch_alter_table('anonymous_cells', schema=None) as batch_op:
        batch_op.alter_column('value', existing_type=sa.Integer(), type_=sa.String(length=40),
                              existing_nullable=False, postgresql_using='value::text')
    with op.batch_alter_table('report_cells', schema=None) as batch_op:
        for key, values in SCALE_ITEMS.items():
            for value in values:
                batch_op.drop_column(f'{key}_{value}')


def create_question_sets():
    op.create_table('question_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_sets')),
    sa.UniqueConstraint('name', name=op.f('uq_question_sets_name'))
    )
    op.create_index('uq_question_sets_default', 'question_sets', ['is_default'], unique=True,
                    sqlite_where=sa.text('is_default'), postgresql_where=sa.text('is_default'))
    op.create_table('question_set_stages',
    sa.Column('stage_key', sa.String(length=100), nullable=False),
    sa.Column('stage', sa.String(length=100), nullable=False),
    sa.Column('question_set_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['question_set_id'], ['question_sets.id'], name=op.f('fk_question_set_stages_question_set_id_question_sets')),
    sa.PrimaryKeyConstraint('stage_key', name=op.f('pk_question_set_stages'))
    )
    op.create_index(op.f('ix_question_set_stages_question_set_id'), 'question_set_stages', ['question_set_id'], unique=False)
    op.create_table('question_set_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_set_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'published')", name=op.f('ck_question_set_versions_status')),
    sa.ForeignKeyConstraint(['question_set_id'], ['question_sets.id'], name=op.f('fk_question_set_versions_question_set_id_question_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_set_versions')),
    sa.UniqueConstraint('question_set_id', 'number', name=op.f('uq_question_set_versions_question_set_id'))
    )
    op.create_index('uq_question_set_versions_draft', 'question_set_versions', ['question_set_id'], unique=True,
                    sqlite_where=sa.text("status = 'draft'"), postgresql_where=sa.text("status = 'draft'"))


def seed_default_set():
    document = json.loads(DEFAULT_DOCUMENT.read_text(encoding="utf-8"))
    now = datetime.now(UTC).replace(tzinfo=None)
    sets = sa.table('question_sets', sa.column('id', sa.Integer), sa.column('name', sa.String),
                    sa.column('is_default', sa.Boolean), sa.column('created_at', sa.DateTime))
    versions = sa.table(
        'question_set_versions', sa.column('id', sa.Integer), sa.column('question_set_id', sa.Integer),
        sa.column('number', sa.Integer), sa.column('status', sa.String), sa.column('document', sa.JSON),
        sa.column('created_at', sa.DateTime), sa.column('published_at', sa.DateTime),
    )
    op.bulk_insert(sets, [{'id': 1, 'name': document['name'], 'is_default': True, 'created_at': now}])
    op.bulk_insert(versions, [{
        'id': 1, 'question_set_id': 1, 'number': 1, 'status': 'published',
        'document': {'languages': document['languages'], 'questions': document['questions']},
        'created_at': now, 'published_at': now,
    }])
    if op.get_bind().dialect.name == 'postgresql':
        for table in ('question_sets', 'question_set_versions'):
            op.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)")


def create_tallies():
    op.create_table('report_tallies',
    sa.Column('id', sa.Integer(), nullable=False),
    *cell_columns(),
    sa.Column('item', sa.String(length=40), nullable=False),
    sa.Column('value', sa.String(length=40), nullable=False),
    sa.Column('count', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_tallies')),
    sa.UniqueConstraint(*KEYS, 'item', 'value', name='uq_report_tallies_key')
    )
    op.create_index('ix_report_tallies_month', 'report_tallies', ['month', 'item', 'value', 'count'])
    op.create_index('ix_report_tallies_over_months', 'report_tallies', [*KEYS[1:], 'item', 'value', 'count'])
    names = [f'{key}_{value}' for key, values in SCALE_ITEMS.items() for value in values]
    cells = sa.table('report_cells', *(sa.column(name) for name in (*KEYS, *names)))
    tallies = sa.table('report_tallies', *(sa.column(name) for name in (*KEYS, 'item', 'value', 'count')))
    for key, values in SCALE_ITEMS.items():
        for value in values:
            column = cells.c[f'{key}_{value}']
            source = sa.select(
                *(cells.c[name] for name in KEYS), sa.literal(key), sa.literal(str(value)), column
            ).where(column > 0)
            op.execute(tallies.insert().from_select([*KEYS, 'item', 'value', 'count'], source))


def downgrade():
    # Back to integer values: only v1's scale items (and the answer count) fit the old column.
    cells = sa.table('anonymous_cells', sa.column('item', sa.String))
    op.execute(cells.delete().where(cells.c.item.not_in(['responses', *SCALE_ITEMS])))
    with op.batch_alter_table('anonymous_cells', schema=None) as batch_op:
        batch_op.alter_column('value', existing_type=sa.String(length=40), type_=sa.Integer(),
                              existing_nullable=False, postgresql_using='value::integer')
    with op.batch_alter_table('report_cells', schema=None) as batch_op:
        for key, values in SCALE_ITEMS.items():
            for value in values:
                batch_op.add_column(sa.Column(f'{key}_{value}', sa.Integer(), server_default='0', nullable=False))
    names = [f'{key}_{value}' for key, values in SCALE_ITEMS.items() for value in values]
    cells = sa.table('report_cells', *(sa.column(name) for name in (*KEYS, *names)))
    tallies = sa.table('report_tallies', *(sa.column(name) for name in (*KEYS, 'item', 'value', 'count')))
    for key, values in SCALE_ITEMS.items():
        for value in values:
            count = (
                sa.select(tallies.c['count'])
                .where(*(tallies.c[name] == cells.c[name] for name in KEYS),
                       tallies.c.item == key, tallies.c.value == str(value))
                .scalar_subquery()
            )
            op.execute(cells.update().values({f'{key}_{value}': sa.func.coalesce(count, 0)}))
    op.drop_table('report_tallies')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite 3.35+ drops a plain column in place; a rebuild would trip over the tables referencing these.
        op.execute("ALTER TABLE invitations DROP COLUMN question_set_version_id")
    else:
        op.drop_constraint('fk_invitations_question_set_version_id_question_set_versions', 'invitations', type_='foreignkey')
        op.drop_column('invitations', 'question_set_version_id')
    op.drop_column('interviews', 'timezone')
    op.drop_column('interviews', 'language')
    op.drop_index('uq_question_set_versions_draft', table_name='question_set_versions')
    op.drop_table('question_set_versions')
    op.drop_index(op.f('ix_question_set_stages_question_set_id'), table_name='question_set_stages')
    op.drop_table('question_set_stages')
    op.drop_index('uq_question_sets_default', table_name='question_sets')
    op.drop_table('question_sets')
