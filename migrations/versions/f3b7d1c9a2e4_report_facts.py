"""report facts (outcomes, calibration, gaps, invitations sent) per scope; tallies rolled up

Revision ID: f3b7d1c9a2e4
Revises: c4e8a1f2b6d9
Create Date: 2026-11-29 16:05:00

- report_scopes: each combination of grouping attributes once (month, position, department,
  stage, hiring manager, recruiter), and the same over all months, and everything.
- report_facts: per scope, kind, item, label and value, how many (survey/reports/facts.py), so
  the reports no longer scan every response, debrief and invitation per request.

- report_group_tallies / report_month_tallies: report_tallies summed over all months per
  combination of the other attributes, and per month alone.

All are filled by the same recount `flask reports rebuild-cells` runs (facts.rebuild_facts, in
SQL over the rows as they stand at this revision).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3b7d1c9a2e4'
down_revision = 'c4e8a1f2b6d9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_scopes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('level', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('position_id', sa.Integer(), nullable=False),
        sa.Column('department', sa.String(length=120), nullable=False),
        sa.Column('stage', sa.String(length=100), nullable=False),
        sa.Column('hiring_manager', sa.String(length=200), nullable=False),
        sa.Column('recruiter_id', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_scopes')),
        sa.UniqueConstraint(
            'level', 'month', 'position_id', 'department', 'stage', 'hiring_manager', 'recruiter_id',
            name='uq_report_scopes_key',
        ),
    )
    op.create_table(
        'report_facts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('item', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=20), nullable=False),
        sa.Column('value', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['scope_id'], ['report_scopes.id'], name=op.f('fk_report_facts_scope_id_report_scopes')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_facts')),
        sa.UniqueConstraint('scope_id', 'kind', 'item', 'label', 'value', name='uq_report_facts_key'),
    )
    with op.batch_alter_table('report_facts', schema=None) as batch_op:
        batch_op.create_index(
            'ix_report_facts_kind', ['kind', 'scope_id', 'item', 'label', 'value', 'count'], unique=False
        )
    group_keys = ('position_id', 'position_title', 'department', 'stage', 'hiring_manager', 'recruiter_id')
    op.create_table(
        'report_group_tallies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('position_id', sa.Integer(), nullable=False),
        sa.Column('position_title', sa.String(length=200), nullable=False),
        sa.Column('department', sa.String(length=120), nullable=False),
        sa.Column('stage', sa.String(length=100), nullable=False),
        sa.Column('hiring_manager', sa.String(length=200), nullable=False),
        sa.Column('recruiter_id', sa.Integer(), nullable=False),
        sa.Column('item', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_group_tallies')),
        sa.UniqueConstraint(*group_keys, 'item', 'value', name='uq_report_group_tallies_key'),
    )
    op.create_table(
        'report_month_tallies',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.String(length=7), nullable=False),
        sa.Column('item', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_month_tallies')),
        sa.UniqueConstraint('month', 'item', 'value', name='uq_report_month_tallies_key'),
    )
    # The recounts of `reports rebuild-cells`, over the rows as they stand at this revision.
    from survey.services.tallies import roll_up_tallies
    from survey.services.report_facts import rebuild_facts

    roll_up_tallies(op.get_bind())
    rebuild_facts(op.get_bind())


def downgrade():
    op.drop_table('report_month_tallies')
    op.drop_table('report_group_tallies')
    with op.batch_alter_table('report_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_report_facts_kind')
    op.drop_table('report_facts')
    op.drop_table('report_scopes')
