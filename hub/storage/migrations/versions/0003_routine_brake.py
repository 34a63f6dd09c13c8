"""The brake: a routine remembers why and after which run it paused itself

Revision ID: 0003
Revises: 0002
Created: 2026-11-26 12:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.tables

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('routine_state', schema=None) as batch_op:
        batch_op.add_column(sa.Column('paused_at', hub.storage.tables.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('paused_reason', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('paused_run_id', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('routine_state', schema=None) as batch_op:
        batch_op.drop_column('paused_run_id')
        batch_op.drop_column('paused_reason')
        batch_op.drop_column('paused_at')
