"""Two-phase claims: when a claim was handed to the API, and how long an unrequested one is held

Revision ID: 0007
Revises: 0006
Created: 2026-12-02 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.tables

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requested_at', hub.storage.tables.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('lease_until', hub.storage.tables.UTCDateTime(timezone=True),
                                      nullable=True))
    # A claim made before this revision may have reached the API: it stays in doubt, as before.
    op.execute("UPDATE deliveries SET requested_at = claimed_at WHERE status = 'sending'")


def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('requested_at')
