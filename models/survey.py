"""Survey definitions, rounds, and the two halves of an answered survey kept apart:
a ``Ballot`` says who has answered (to allow one response per student per teacher per round,
and reminders); a ``Response`` says what was answered and holds nothing that leads back to the
student (no student id or openid, a random id rather than a sequence, no date or time).

While a round is open, what was answered exists only sealed (``SealedEnvelope``, ``SurveyDraft``,
see core/surveys/seal.py); closing the round opens the envelopes and writes the responses in
random order, in a transaction of its own (README, "Anonymity: threat model").
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Survey(Base):
    """A survey definition loaded from YAML (``banzhuren survey load``)."""

    __tablename__ = "surveys"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SurveyRound(Base):
    """A survey opened in a term for every appointment active in it."""

    __tablename__ = "survey_rounds"

    id: Mapped[int] = mapped_column(primary_key=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id"), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id"))
    # The definition as it was when the round opened: later edits do not change what was asked.
    definition: Mapped[dict[str, Any]]
    opened_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closes_on: Mapped[dt.date | None]
    closed_at: Mapped[dt.datetime | None]

    __table_args__ = (UniqueConstraint("term_id", "survey_id"),)

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


class Ballot(Base):
    """Who has answered about whom in a round: never what they answered."""

    __tablename__ = "ballots"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("survey_rounds.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    submitted_on: Mapped[dt.date]

    __table_args__ = (UniqueConstraint("round_id", "student_id", "teacher_id"),)


def _random_id() -> str:
    return uuid.uuid4().hex


class Response(Base):
    """What one (anonymous) student answered about one teacher in a round."""

    __tablename__ = "responses"

    # Random, so that insertion order cannot be matched against the ballots' order.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_random_id)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_rounds.id", ondelete="CASCADE"), index=True
    )
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    # The respondent's score under the round's method (mean of scored answers), kept so that
    # evaluation is one grouped query; None when no scored question was answered.
    score: Mapped[float | None]
    # For top_box surveys: whether the named question got one of the named labels.
    top_box: Mapped[bool | None]
    # Answer-quality signals, never exposing who: every scored answer identical; finished
    # faster than a person can read the questions.
    straight_lined: Mapped[bool] = mapped_column(default=False)
    too_fast: Mapped[bool] = mapped_column(default=False)

    answers: Mapped[list[Answer]] = relationship(
        back_populates="response", cascade="all, delete-orphan"
    )


class Answer(Base):
    __tablename__ = "answers"

    # Random like the response's: a sequence would number answers in submission order, and
    # that order matched against the ballots' would tell who answered what.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_random_id)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[str] = mapped_column(String(64))
    # 1-based option number for a choice question; None for text or a skipped question.
    choice: Mapped[int | None] = mapped_column(Integer)
    score: Mapped[float | None]
    text: Mapped[str | None] = mapped_column(Text)

    response: Mapped[Response] = relationship(back_populates="answers")

    __table_args__ = (UniqueConstraint("response_id", "question_id"),)


class SealedEnvelope(Base):
    """One confirmed submission while its round is open: the teacher, the response's values and
    its answers, sealed. Nothing in the row maps to its ballot: a random id, no timestamp, no
    teacher; the sealed text is padded to a fixed block (core/surveys/seal.py). Deleted when the
    round closes and its responses are written."""

    __tablename__ = "sealed_envelopes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=_random_id)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_rounds.id", ondelete="CASCADE"), index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class SurveyDraft(Base):
    """A student's survey dialogue in progress (answers so far, position), sealed; the record
    that survives a Redis restart. Deleted on submission, on 解绑 and when the round closes."""

    __tablename__ = "survey_drafts"

    openid: Mapped[str] = mapped_column(String(64), primary_key=True)
    round_id: Mapped[int] = mapped_column(
        ForeignKey("survey_rounds.id", ondelete="CASCADE"), index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class CommentReview(Base):
    """Student Affairs' decision on one free-text answer (DESIGN.md, Privacy): shown to the
    teacher and the branch, or withheld with a reason. No row means not reviewed yet (pending:
    shown to nobody but Student Affairs). The row carries no date or time and no sequence (the
    answer's own random id is the key), so the review adds nothing that could order comments
    or tie one to the moment a student answered; who decided is in the audit log."""

    __tablename__ = "comment_reviews"

    answer_id: Mapped[str] = mapped_column(
        ForeignKey("answers.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16))  # shown / withheld
    reason: Mapped[str | None] = mapped_column(Text)
