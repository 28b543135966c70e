"""WeCom for staff: a teacher's WeCom UserId when it is not their 工号 (issue 25.5)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 23:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('teachers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('wecom_userid', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_teachers_wecom_userid'), ['wecom_userid']
        )


def downgrade() -> None:
    with op.batch_alter_table('teachers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_teachers_wecom_userid'), type_='unique')
        batch_op.drop_column('wecom_userid')
