"""Pricing: what each status said Meta charges, the account's templates, the monthly budget

Revision ID: 0004
Revises: 0003
Created: 2026-11-29 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.tables

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billable', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('pricing_type', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('pricing_model', sa.String(), nullable=True))
    op.create_table(
        'templates',
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('language', sa.String(), nullable=False),
        sa.Column('template_id', sa.String(), nullable=True),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('category', sa.String(), nullable=True),
        sa.Column('quality', sa.String(), nullable=True),
        sa.Column('reason', sa.String(), nullable=True),
        sa.Column('body_params', sa.Integer(), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('updated_at', hub.storage.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('name', 'language'),
    )
    op.create_table(
        'budget_months',
        sa.Column('month', sa.String(), nullable=False),
        sa.Column('currency', sa.String(), nullable=False),
        sa.Column('committed_micros', sa.BigInteger(), nullable=False),
        sa.Column('updated_at', hub.storage.tables.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('month'),
    )


def downgrade() -> None:
    op.drop_table('budget_months')
    op.drop_table('templates')
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_column('pricing_model')
        batch_op.drop_column('pricing_type')
        batch_op.drop_column('billable')
