"""publication readiness: grade 待测评, override and undo timestamps (issue 22)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

_OLD = ('excellent', 'good', 'pass', 'fail')
_NEW = (*_OLD, 'pending')


def _grades(values) -> str:
    return 'computed_grade IN (' + ', '.join(f"'{v}'" for v in values) + ')'


def upgrade() -> None:
    with op.batch_alter_table('term_evaluations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('override_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_constraint(op.f('ck_term_evaluations_grade'), type_='check')
        batch_op.create_check_constraint(op.f('ck_term_evaluations_grade'), _grades(_NEW))
    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inputs_changed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('terms', schema=None) as batch_op:
        batch_op.drop_column('inputs_changed_at')
    op.execute("UPDATE term_evaluations SET computed_grade = 'pass' WHERE computed_grade = 'pending'")
    with op.batch_alter_table('term_evaluations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_term_evaluations_grade'), type_='check')
        batch_op.create_check_constraint(op.f('ck_term_evaluations_grade'), _grades(_OLD))
        batch_op.drop_column('override_at')
