"""One send schedule per phone number, shared by every process sending for it

Revision ID: 0005
Revises: 0004
Created: 2026-11-29 02:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'send_rate',
        sa.Column('number', sa.String(), nullable=False),
        sa.Column('next_slot', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('number'),
    )


def downgrade() -> None:
    op.drop_table('send_rate')
