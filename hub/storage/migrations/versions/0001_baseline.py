"""The schema of 0.1.0: every table the hub had before migrations

Revision ID: 0001
Revises: (none: the first revision)
Created: 2026-11-26 12:18:32.095135
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.storage.tables

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('level', sa.String(), nullable=False),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('message', sa.String(), nullable=False),
    sa.Column('cleared_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('inbound_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('message_id', sa.String(), nullable=True),
    sa.Column('phone', sa.String(), nullable=True),
    sa.Column('user_id', sa.String(), nullable=True),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('reply_id', sa.String(), nullable=True),
    sa.Column('context_id', sa.String(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('action', sa.String(), nullable=True),
    sa.Column('sent_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('received_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_messages_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_inbound_messages_received_at'), ['received_at'], unique=False)

    op.create_table('items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('guid', sa.String(), nullable=False),
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('canonical_url', sa.String(), nullable=False),
    sa.Column('title', sa.String(), nullable=False),
    sa.Column('summary', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('image_url', sa.String(), nullable=True),
    sa.Column('author', sa.String(), nullable=True),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('priority', sa.Boolean(), nullable=False),
    sa.Column('fingerprint', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('published_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('fetched_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('ready_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('planned_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('planned_run_id', sa.Integer(), nullable=True),
    sa.Column('content_hash', sa.String(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('edited_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('decisions', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'guid', name='uq_items_source_guid')
    )
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_items_canonical_url'), ['canonical_url'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_fetched_at'), ['fetched_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_fingerprint'), ['fingerprint'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_ready_at'), ['ready_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_source'), ['source'], unique=False)
        batch_op.create_index(batch_op.f('ix_items_status'), ['status'], unique=False)

    op.create_table('routine_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('routine', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('scheduled_for', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('started_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('item_ids', sa.JSON(), nullable=False),
    sa.Column('passed_over', sa.JSON(), nullable=False),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('routine_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_routine_runs_routine'), ['routine'], unique=False)

    op.create_table('routine_state',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('signature', sa.String(), nullable=False),
    sa.Column('anchor_date', sa.String(), nullable=True),
    sa.Column('next_run_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_run_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_scheduled_for', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('window_end', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.Column('created_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('send_state',
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('code', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('since', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('next_probe_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('probes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('sources',
    sa.Column('name', sa.String(), nullable=False),
    sa.Column('type', sa.String(), nullable=False),
    sa.Column('url', sa.String(), nullable=True),
    sa.Column('etag', sa.String(), nullable=True),
    sa.Column('last_modified', sa.String(), nullable=True),
    sa.Column('cursor', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(), nullable=False),
    sa.Column('polls', sa.Integer(), nullable=False),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('last_success_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_polled_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('next_poll_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('item_count', sa.Integer(), nullable=False),
    sa.Column('origin_url', sa.String(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('failing_since', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('usual_new', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('status_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('wamid', sa.String(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=True),
    sa.Column('biz_opaque', sa.String(), nullable=True),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_detail', sa.String(), nullable=True),
    sa.Column('category', sa.String(), nullable=True),
    sa.Column('at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('received_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_events_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_status_events_wamid'), ['wamid'], unique=False)

    op.create_table('subscribers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(), nullable=False),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('topics', sa.JSON(), nullable=False),
    sa.Column('created_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('opted_in_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('opted_out_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_inbound_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('marketing_stopped', sa.Boolean(), nullable=False),
    sa.Column('rhythm', sa.String(), nullable=False),
    sa.Column('paused_until', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_sent_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('phone')
    )
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_subscribers_status'), ['status'], unique=False)

    op.create_table('consent_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('phone', sa.String(), nullable=True),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('channel', sa.String(), nullable=False),
    sa.Column('words', sa.String(), nullable=True),
    sa.Column('message_id', sa.String(), nullable=True),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consent_events_phone'), ['phone'], unique=False)
        batch_op.create_index(batch_op.f('ix_consent_events_subscriber_id'), ['subscriber_id'], unique=False)

    op.create_table('deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('item_id', sa.Integer(), nullable=True),
    sa.Column('routine', sa.String(), nullable=True),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.Integer(), nullable=True),
    sa.Column('error_detail', sa.String(), nullable=True),
    sa.Column('wamid', sa.String(), nullable=True),
    sa.Column('claimed_by', sa.String(), nullable=True),
    sa.Column('created_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('due_at', hub.storage.tables.UTCDateTime(), nullable=False),
    sa.Column('claimed_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('sent_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('delivered_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('read_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('failed_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('updated_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('next_try_at', hub.storage.tables.UTCDateTime(), nullable=True),
    sa.Column('last_error', sa.String(), nullable=True),
    sa.Column('force_template', sa.Boolean(), nullable=False),
    sa.Column('sent_as', sa.String(), nullable=True),
    sa.Column('superseded_wamid', sa.String(), nullable=True),
    # In create_all's order, so the stored CREATE TABLE text is the same either way.
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', name='uq_deliveries_key'),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], ),
    sa.ForeignKeyConstraint(['item_id'], ['items.id'], ),
    sa.UniqueConstraint('wamid')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_claimed_at', ['claimed_at'], unique=False)
        batch_op.create_index('ix_deliveries_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_subscriber_id'), ['subscriber_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_deliveries_run_id'))
        batch_op.drop_index('ix_deliveries_due')
        batch_op.drop_index('ix_deliveries_claimed_at')

    op.drop_table('deliveries')
    with op.batch_alter_table('consent_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consent_events_subscriber_id'))
        batch_op.drop_index(batch_op.f('ix_consent_events_phone'))

    op.drop_table('consent_events')
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subscribers_status'))

    op.drop_table('subscribers')
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_events_wamid'))
        batch_op.drop_index(batch_op.f('ix_status_events_delivery_id'))

    op.drop_table('status_events')
    op.drop_table('sources')
    op.drop_table('send_state')
    op.drop_table('routine_state')
    with op.batch_alter_table('routine_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_routine_runs_routine'))

    op.drop_table('routine_runs')
    with op.batch_alter_table('items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_items_status'))
        batch_op.drop_index(batch_op.f('ix_items_source'))
        batch_op.drop_index(batch_op.f('ix_items_ready_at'))
        batch_op.drop_index(batch_op.f('ix_items_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_items_fetched_at'))
        batch_op.drop_index(batch_op.f('ix_items_canonical_url'))

    op.drop_table('items')
    with op.batch_alter_table('inbound_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_messages_received_at'))
        batch_op.drop_index(batch_op.f('ix_inbound_messages_phone'))

    op.drop_table('inbound_messages')
    op.drop_table('alerts')
