"""Where a confirmed survey becomes stored rows: the ``Ballot`` (who rated whom, so nobody
rates a teacher twice) and the sealed envelope (what they answered), in the caller's
transaction. The envelope is opened into anonymous ``responses``/``answers`` when the round
closes (core.surveys.rounds).

Core statements built once, no ORM objects: this runs once per submitted survey on the
webhook's hot path (building a statement costs more than running it)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.fastsql import FastStatement
from core.surveys import seal as survey_seal
from models import Ballot, SealedEnvelope, SurveyRound
from surveys.definition import Question

_BALLOTS, _ENVELOPES = Ballot.__table__, SealedEnvelope.__table__


def _insert_ballot(insert):
    return (
        insert(_BALLOTS)
        .values(
            round_id=bindparam("round_id"),
            student_id=bindparam("student_id"),
            teacher_id=bindparam("teacher_id"),
            submitted_on=bindparam("submitted_on"),
        )
        .on_conflict_do_nothing(
            index_elements=[_BALLOTS.c.round_id, _BALLOTS.c.student_id, _BALLOTS.c.teacher_id]
        )
        .returning(_BALLOTS.c.id)
    )


_INSERT_BALLOT = {
    "postgresql": FastStatement(_insert_ballot(pg_insert)),
    "sqlite": FastStatement(_insert_ballot(sqlite_insert)),
}
_INSERT_ENVELOPE = FastStatement(
    _ENVELOPES.insert().values(
        id=bindparam("id"), round_id=bindparam("round_id"), sealed=bindparam("sealed")
    )
)

# Held until the submission commits: closing the round (which locks the row for update) waits
# for it, and a submission after the close sees the round closed (PostgreSQL; SQLite's write
# transactions are serialised anyway).
_ROUND_OPEN_FOR_SHARE = FastStatement(
    select(SurveyRound.__table__.c.id)
    .where(
        SurveyRound.__table__.c.id == bindparam("round_id"),
        SurveyRound.__table__.c.closed_at.is_(None),
    )
    .with_for_update(read=True)
)


def round_still_open(session: Session, round_id: int) -> bool:
    """Whether the round is open, holding it open (FOR SHARE) until this transaction ends."""
    return _ROUND_OPEN_FOR_SHARE.first(session, {"round_id": round_id}) is not None


def store_submission(
    session: Session,
    settings,
    *,
    round_id: int,
    student_id: int,
    teacher_id: int,
    submitted_on: dt.date,
    response: dict,
    answers: list[dict],
) -> bool:
    """Write the Ballot, then the sealed envelope holding the response and its answers; False
    (nothing written) when this student's ballot about this teacher is already in.

    The envelope carries nothing that maps it to the ballot: a random id, the round, and the
    sealed (padded) text; the teacher is inside the seal. Both are written in this transaction
    (on PostgreSQL they share an xmin), which is harmless: the envelope cannot be read without
    the key and is deleted when the round closes, and the responses are written then, in a
    transaction of their own and in random order.

    Core statements, no ORM objects (this runs once per submitted survey on the webhook's hot
    path): the ballot is ``INSERT ... ON CONFLICT DO NOTHING RETURNING id``, so a double submit
    is seen without a savepoint and leaves the caller's transaction usable."""
    ballot = _INSERT_BALLOT[session.get_bind().dialect.name].first(
        session,
        {
            "round_id": round_id,
            "student_id": student_id,
            "teacher_id": teacher_id,
            "submitted_on": submitted_on,
        },
    )
    if ballot is None:
        return False
    content = {"teacher_id": teacher_id, "response": response, "answers": answers}
    _INSERT_ENVELOPE.execute(
        session,
        {
            "id": uuid.uuid4().hex,
            "round_id": round_id,
            "sealed": survey_seal.seal(settings, content, survey_seal.envelope_context(round_id)),
        },
    )
    return True


def answer_values(q: Question, value: int | str | None) -> dict:
    """An ``answers`` row's values (without its ids) for question ``q``."""
    if q.is_choice:
        choice = value if isinstance(value, int) else None
        return {
            "question_id": q.id,
            "choice": choice,
            "score": q.option_score(choice),
            "text": None,
        }
    return {
        "question_id": q.id,
        "choice": None,
        "score": None,
        "text": value if isinstance(value, str) else None,
    }
