"""Index deliveries by (subscriber_id, status): opt-out skips and claim checks

Revision ID: 0002
Revises: 0001
Created: 2026-11-26 12:18:43.567000
"""

from __future__ import annotations

from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_subscriber_status', ['subscriber_id', 'status'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_subscriber_status')

