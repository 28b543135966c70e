"""policy rules: training, meetings, employment (issue 14)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
