"""sealed survey envelopes (issue 11)

Answers are sealed while a round is open (sealed_envelopes, survey_drafts) and written as
responses only when it closes; responses keep no date.

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
    op.create_table('sealed_envelopes',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['survey_rounds.id'], name=op.f('fk_sealed_envelopes_round_id_survey_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sealed_envelopes'))
    )
    with op.batch_alter_table('sealed_envelopes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sealed_envelopes_round_id'), ['round_id'], unique=False)

    op.create_table('survey_drafts',
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('round_id', sa.Integer(), nullable=False),
    sa.Column('sealed', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['round_id'], ['survey_rounds.id'], name=op.f('fk_survey_drafts_round_id_survey_rounds'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('openid', name=op.f('pk_survey_drafts'))
    )
    with op.batch_alter_table('survey_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_survey_drafts_round_id'), ['round_id'], unique=False)

    # The day a response came in linked it to its ballot (a teacher's only response that day).
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.drop_column('submitted_on')


def downgrade() -> None:
    with op.batch_alter_table('responses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submitted_on', sa.Date(), nullable=False, server_default='1970-01-01'))
    with op.batch_alter_table('survey_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_survey_drafts_round_id'))
    op.drop_table('survey_drafts')
    with op.batch_alter_table('sealed_envelopes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sealed_envelopes_round_id'))
    op.drop_table('sealed_envelopes')
