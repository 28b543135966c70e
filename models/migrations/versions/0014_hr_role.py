"""role hr (人事处), and the counsellor's answer to a 反馈 (issue 25)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The role is a VARCHAR with a CHECK constraint: widen the constraint (SQLite rebuilds the
    # table in batch mode; the constraint keeps its name either way).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_userrole'), type_='check')
        batch_op.create_check_constraint('userrole', "role IN ('affairs', 'branch', 'hr')")

    with op.batch_alter_table('student_feedback', schema=None) as batch_op:
        batch_op.add_column(sa.Column('class_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('followed_up_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('counsellor_note', sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_student_feedback_class_id_classes'), 'classes', ['class_id'], ['id']
        )
        batch_op.create_index(
            batch_op.f('ix_student_feedback_acknowledged_at'), ['acknowledged_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('student_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_student_feedback_acknowledged_at'))
        batch_op.drop_constraint(
            batch_op.f('fk_student_feedback_class_id_classes'), type_='foreignkey'
        )
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('counsellor_note')
        batch_op.drop_column('followed_up_at')
        batch_op.drop_column('acknowledged_at')
        batch_op.drop_column('class_id')
    op.execute("DELETE FROM users WHERE role = 'hr'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_users_userrole'), type_='check')
        batch_op.create_check_constraint('userrole', "role IN ('affairs', 'branch')")
