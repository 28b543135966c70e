"""the customer-service allowance as WeChat counts it since 2023 (issue 23)

``wechat_contacts`` keeps the kind of each user's last granting action and how many messages
were spent from it (``last_interaction_at`` is that action's time); ``outbound_messages``
records WeChat's refusal of a customer-service attempt (45015 / 45047).

Rows written before this revision recorded any event, WeChat's own pushes included: their
kind is unknown, so they grant nothing until the user's next action.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('wechat_contacts') as batch:
        batch.add_column(sa.Column('grant_kind', sa.String(length=16), nullable=True))
        batch.add_column(sa.Column('spent', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('outbound_messages') as batch:
        batch.add_column(sa.Column('refused_errcode', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages') as batch:
        batch.drop_column('refused_errcode')
    with op.batch_alter_table('wechat_contacts') as batch:
        batch.drop_column('spent')
        batch.drop_column('grant_kind')
