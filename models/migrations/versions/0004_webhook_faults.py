"""webhook hardening and durable effects (issue 13)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_started_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column('uncertain_sends', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.add_column(sa.Column('not_before', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('student_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outbound_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_student_feedback_outbound_id_outbound_messages'),
            'outbound_messages',
            ['outbound_id'],
            ['id'],
            ondelete='SET NULL',
        )


def downgrade() -> None:
    with op.batch_alter_table('student_feedback', schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f('fk_student_feedback_outbound_id_outbound_messages'), type_='foreignkey'
        )
        batch_op.drop_column('failed_at')
        batch_op.drop_column('outbound_id')
    with op.batch_alter_table('outbound_messages', schema=None) as batch_op:
        batch_op.drop_column('not_before')
        batch_op.drop_column('uncertain_sends')
        batch_op.drop_column('send_started_at')
