"""comment reviews: Student Affairs shows or withholds each free-text answer (issue 24)

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-07 22:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'comment_reviews',
        sa.Column('answer_id', sa.String(length=32), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ['answer_id'], ['answers.id'], name=op.f('fk_comment_reviews_answer_id_answers'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('answer_id', name=op.f('pk_comment_reviews')),
    )


def downgrade() -> None:
    op.drop_table('comment_reviews')
