"""report text facts: the themes' free texts counted per scope

Revision ID: a7d2e9c4b1f6
Revises: f3b7d1c9a2e4
Create Date: 2026-11-29 19:20:00

- report_text_facts: per report scope, how many debriefs mention each (trimmed) process-issues
  text and how many responses gave each `improve` answer, named or not, so the findings' themes
  no longer group every debrief and response per request.

Filled here from the rows as they stand (the same recount `flask reports rebuild-cells` runs).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7d2e9c4b1f6'
down_revision = 'f3b7d1c9a2e4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_text_facts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('scope_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('label', sa.String(length=20), nullable=False),
        sa.Column('text_hash', sa.String(length=64), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['scope_id'], ['report_scopes.id'], name=op.f('fk_report_text_facts_scope_id_report_scopes')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_report_text_facts')),
        sa.UniqueConstraint('scope_id', 'kind', 'label', 'text_hash', name='uq_report_text_facts_key'),
    )
    with op.batch_alter_table('report_text_facts', schema=None) as batch_op:
        batch_op.create_index('ix_report_text_facts_kind', ['kind', 'scope_id'], unique=False)
    # The recount `reports rebuild-cells` runs for these facts. The source columns it reads
    # (debriefs.process_issues, responses.improve_text and their scopes) are as at this revision.
    from survey.services.report_facts import fill_text_facts

    fill_text_facts(op.get_bind())


def downgrade():
    with op.batch_alter_table('report_text_facts', schema=None) as batch_op:
        batch_op.drop_index('ix_report_text_facts_kind')
    op.drop_table('report_text_facts')
