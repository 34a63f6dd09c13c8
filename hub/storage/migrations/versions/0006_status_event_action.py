"""A failed status keeps the action the webhook read from its error code

Revision ID: 0006
Revises: 0005
Created: 2026-11-29 01:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# Cloud API codes → action as hub/cloudapi/codes.py had them at this revision, written out so this
# migration stays what it was whatever that table becomes: failed statuses still waiting for their
# delivery are applied later by what they say, as they would have been before the upgrade.
_ACTIONS = {
    "retry": (4, 80007, 131016, 131057, 131000, 1, 2), "slow_down": (130429,),
    "wait_person": (131056,), "wait_day": (131049,), "template": (131047,),
    "marketing_stopped": (131050,), "pause": (190, 0), "stop": (131031, 368),
}


def upgrade() -> None:
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('action', sa.String(), nullable=True))
    events = sa.table('status_events', sa.column('status', sa.String()), sa.column('action', sa.String()),
                      sa.column('error_code', sa.Integer()), sa.column('delivery_id', sa.Integer()))
    waiting = sa.and_(events.c.status == 'failed', events.c.delivery_id.is_(None), events.c.action.is_(None))
    for action, codes in _ACTIONS.items():
        op.execute(events.update().where(waiting, events.c.error_code.in_(codes)).values(action=action))
    op.execute(events.update().where(waiting, events.c.error_code.is_(None)).values(action='retry'))
    op.execute(events.update().where(waiting).values(action='fail'))


def downgrade() -> None:
    with op.batch_alter_table('status_events', schema=None) as batch_op:
        batch_op.drop_column('action')
