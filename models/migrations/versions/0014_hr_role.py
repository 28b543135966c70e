"""role hr (人事处): a dashboard user for the allowance sheet and the 人事处备案 step (issue 25)

Revision ID: 0014
Revises: 0006
Create Date: 2026-12-07 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The role is a VARCHAR with a CHECK constraint: widen the constraint (SQLite rebuilds the
    # table in batch mode; the constraint keeps its name either way).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_userrole'), type_='check')
        batch_op.create_check_constraint('userrole', "role IN ('affairs', 'branch', 'hr')")


def downgrade() -> None:
    op.execute("DELETE FROM users WHERE role = 'hr'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_userrole'), type_='check')
        batch_op.create_check_constraint('userrole', "role IN ('affairs', 'branch')")
