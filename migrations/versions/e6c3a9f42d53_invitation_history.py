"""invitation timeline history kept across resends

Revision ID: e6c3a9f42d53
Revises: d5b2f8e31c42
Create Date: 2026-11-29 12:32:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e6c3a9f42d53'
down_revision = 'd5b2f8e31c42'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invitation_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invitation_id', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('moment', sa.String(length=30), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['invitation_id'], ['invitations.id'], name=op.f('fk_invitation_events_invitation_id_invitations')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invitation_events')),
    )
    with op.batch_alter_table('invitation_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invitation_events_invitation_id'), ['invitation_id'], unique=False)


def downgrade():
    with op.batch_alter_table('invitation_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invitation_events_invitation_id'))
    op.drop_table('invitation_events')
