"""leads: contacted mark

Revision ID: d5b2f8e31c42
Revises: c4a1e7d20b31
Create Date: 2026-11-29 12:31:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd5b2f8e31c42'
down_revision = 'c4a1e7d20b31'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lead_contacted_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('interviews', schema=None) as batch_op:
        batch_op.drop_column('lead_contacted_at')
