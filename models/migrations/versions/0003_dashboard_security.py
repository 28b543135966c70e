"""dashboard security: sessions, tokens, logins (issue 12)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:20:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
