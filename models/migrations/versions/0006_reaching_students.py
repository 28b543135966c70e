"""reaching students: 48-hour window, closed dates, round notices and reminders (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 10:30:00
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'wechat_contacts',
        sa.Column('openid', sa.String(length=64), nullable=False),
        sa.Column('last_interaction_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('openid', name=op.f('pk_wechat_contacts')),
    )
    op.create_table(
        'term_closed_dates',
        sa.Column('term_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ['term_id'], ['terms.id'], name=op.f('fk_term_closed_dates_term_id_terms'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('term_id', 'day', name=op.f('pk_term_closed_dates')),
    )
    op.create_table(
        'round_contacts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('round_id', sa.Integer(), nullable=False),
        sa.Column('student_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('outbound_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['round_id'], ['survey_rounds.id'], name=op.f('fk_round_contacts_round_id_survey_rounds'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['student_id'], ['students.id'], name=op.f('fk_round_contacts_student_id_students'),
            ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['outbound_id'], ['outbound_messages.id'],
            name=op.f('fk_round_contacts_outbound_id_outbound_messages'), ondelete='SET NULL',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_round_contacts')),
        sa.UniqueConstraint(
            'round_id', 'student_id', 'kind', 'day', name=op.f('uq_round_contacts_round_id_student_id_kind_day')
        ),
    )
    op.create_index('ix_round_contacts_student_day', 'round_contacts', ['student_id', 'day'])
    with op.batch_alter_table('outbound_messages') as batch:
        batch.add_column(sa.Column('channel', sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbound_messages') as batch:
        batch.drop_column('channel')
    op.drop_index('ix_round_contacts_student_day', table_name='round_contacts')
    op.drop_table('round_contacts')
    op.drop_table('term_closed_dates')
    op.drop_table('wechat_contacts')
