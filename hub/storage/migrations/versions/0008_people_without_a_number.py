"""People without a phone number: business-scoped user ids, usernames, a nullable number

Revision ID: 0008
Revises: 0007
Created: 2026-11-27 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.tables

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every current subscriber keeps its row, id and number; the number may now be absent.
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.alter_column('phone', existing_type=sa.String(), nullable=True)
        batch_op.add_column(sa.Column('user_id', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('username', sa.String(), nullable=True))
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.String(), nullable=True))
    op.create_table('person_ids',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('value', sa.String(), nullable=False),
    sa.Column('seen_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('value')
    )
    with op.batch_alter_table('person_ids', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_person_ids_subscriber_id'), ['subscriber_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('person_ids', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_person_ids_subscriber_id'))
    op.drop_table('person_ids')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_column('user_id')
    op.execute("DELETE FROM subscribers WHERE phone IS NULL")  # no number to keep them by
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('username')
        batch_op.drop_column('user_id')
        batch_op.alter_column('phone', existing_type=sa.String(), nullable=False)
