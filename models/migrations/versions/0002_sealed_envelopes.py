"""sealed survey envelopes (issue 11)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
