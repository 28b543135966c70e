"""A student's survey draft in progress: sealed (core.surveys.seal) in ``survey_drafts``, one
row per openid, read and written in the caller's transaction (the webhook's, under the
per-sender lock). Redis never holds one (issue 11)."""

from __future__ import annotations

from sqlalchemy import Select, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from core.fastsql import FastStatement
from core.surveys import seal as survey_seal
from models import SurveyDraft

# The sealed draft is read and written on every answer: Core statements on the table, not
# Session.get and a unit-of-work flush of an ORM row (issue 17: a third of the web process's
# time per answer). One statement each; the per-sender lock serialises a person's messages.
_DRAFTS = SurveyDraft.__table__
_DRAFT_SEALED = select(_DRAFTS.c.sealed).where(_DRAFTS.c.openid == bindparam("openid"))
_DELETE_DRAFT = FastStatement(_DRAFTS.delete().where(_DRAFTS.c.openid == bindparam("openid")))


def _upsert_draft(insert):
    stmt = insert(_DRAFTS).values(
        openid=bindparam("openid"), round_id=bindparam("round_id"), sealed=bindparam("sealed")
    )
    return stmt.on_conflict_do_update(
        index_elements=[_DRAFTS.c.openid],
        set_={"round_id": stmt.excluded.round_id, "sealed": stmt.excluded.sealed},
    )


_UPSERT_DRAFT = {
    "postgresql": FastStatement(_upsert_draft(pg_insert)),
    "sqlite": FastStatement(_upsert_draft(sqlite_insert)),
}


# The sealed draft, read by the webhook with the sender in the one statement after the per-sender
# lock (:func:`join_draft`; issue 17), the draft's round joined on :data:`DRAFT_ROUND_ID`: the
# dialogue then reads neither again for the message.
DRAFT_SEALED = _DRAFTS.c.sealed.label("draft_sealed")
DRAFT_ROUND_ID = _DRAFTS.c.round_id


def join_draft(stmt: Select, openid) -> Select:
    """``stmt`` (selecting :data:`DRAFT_SEALED`) outer-joined to the draft of the openid column
    ``openid``."""
    return stmt.outerjoin(_DRAFTS, _DRAFTS.c.openid == openid)


def unseal_draft(settings, openid: str, sealed: bytes) -> dict:
    """The draft ``sealed`` holds (stored for ``openid``)."""
    return survey_seal.unseal(settings, sealed, survey_seal.draft_context(openid))


def load_draft(session: Session, settings, openid: str) -> dict | None:
    """The student's draft in progress, unsealed; None when there is none."""
    sealed = session.execute(_DRAFT_SEALED, {"openid": openid}).scalar()
    if sealed is None:
        return None
    return unseal_draft(settings, openid, sealed)


def drop_draft(session: Session, openid: str) -> None:
    _DELETE_DRAFT.execute(session, {"openid": openid})


def save_draft(session: Session, settings, openid: str, draft: dict) -> None:
    """Seal and store the draft (in the caller's transaction)."""
    sealed = survey_seal.seal(settings, draft, survey_seal.draft_context(openid))
    _UPSERT_DRAFT[session.get_bind().dialect.name].execute(
        session, {"openid": openid, "round_id": draft["round_id"], "sealed": sealed}
    )


def reply_delivered(session: Session, settings, openid: str) -> None:
    """For the outbox (core.outbox): a customer-service message that carried the next question was
    accepted by WeChat, so the dialogue may go on from it."""
    draft = load_draft(session, settings, openid)
    if draft is not None and draft.get("undelivered"):
        draft["undelivered"] = False
        save_draft(session, settings, openid, draft)
