"""Drive the survey dialogue with real ChatContexts: a session, the deployment's DialogueStore,
and a clock the test moves forward."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.chat.context import ChatContext, Incoming, Sender
from bot.chat.state import store_for
from bot.chat.survey_dialogue import handle
from core.settings import Settings
from core.surveys.drafts import load_draft
from models import SurveyRound, Term


def start_round(session: Session, term: Term, definition, closes_on: dt.date | None = None):
    """A round opened directly (no notifications): what the dialogue reads."""
    rnd = SurveyRound(
        term_id=term.id,
        survey_id=definition.id,
        definition=definition.to_dict(),
        closes_on=closes_on,
    )
    session.add(rnd)
    session.commit()
    return rnd


def close(session: Session, settings: Settings, rnd) -> int:
    """Close the round as ``round close`` does: its sealed answers become responses."""
    from core.surveys.rounds import open_envelopes
    from models.base import utcnow

    opened = open_envelopes(session, settings, rnd.id)
    rnd.closed_at = utcnow()
    session.commit()
    return opened


class Chat:
    """One WeChat user talking to the survey dialogue; each message commits like the router."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        openid: str,
        *,
        student_id: int | None = None,
        teacher_id: int | None = None,
        start: dt.datetime = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC),
        step_seconds: float = 20,
    ) -> None:
        self.session, self.settings, self.openid = session, settings, openid
        role = "student" if student_id else ("head_teacher" if teacher_id else None)
        self.sender = Sender(openid, student_id=student_id, teacher_id=teacher_id, role=role)
        self.clock = start
        self.step = dt.timedelta(seconds=step_seconds)

    def store(self):
        return store_for(self.settings, self.session)

    def say(self, text: str, msg_type: str = "text") -> str | None:
        self.clock += self.step
        ctx = ChatContext(
            session=self.session,
            settings=self.settings,
            incoming=Incoming(self.openid, msg_type, text, self.clock),
            sender=self.sender,
            store=self.store(),
        )
        reply = handle(ctx)
        self.session.commit()
        return reply

    def draft(self) -> dict | None:
        draft = load_draft(self.session, self.settings, self.openid)
        self.session.commit()
        return draft
