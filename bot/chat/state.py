"""Dialogue state (the work log's pending questions, 解绑 confirmations) shared by every web
process.

:func:`store_for` gives the handlers a :class:`bot.chat.context.DialogueStore`: the
``dialogue_states`` table, with or without Redis (in the handling transaction, so a state and
what it leads to commit together, and a Redis restart loses nothing a user typed). Keys are
``"<purpose>:<openid>"``; the per-sender lock (:mod:`core.locks`) makes plain get/set
safe. :meth:`forget_openid` drops every state of an openid (on 解绑, so the next person to
bind that WeChat account cannot resume someone else's draft), the sealed survey draft included.

Survey drafts are not kept here: they hold answers, so they are sealed in the ``survey_drafts``
table, always in the database (bot.chat.survey_dialogue), whatever the deployment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from core.settings import Settings
from models.base import utcnow
from models.messaging import DialogueState
from models.survey import SurveyDraft


class DbDialogueStore:
    """States in ``dialogue_states``; an expiry, when given, is kept inside the stored value."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get(self, key: str) -> dict | None:
        row = self._session.get(DialogueState, key)
        if row is None:
            return None
        expires = row.value.get("expires_at")
        if expires is not None and dt.datetime.fromisoformat(expires) <= utcnow():
            self._session.delete(row)
            self._session.flush()
            return None
        return row.value.get("data")

    def set(self, key: str, value: dict, ttl_seconds: int | None = None) -> None:
        expires = (
            (utcnow() + dt.timedelta(seconds=ttl_seconds)).isoformat() if ttl_seconds else None
        )
        stored: dict[str, Any] = {"data": value, "expires_at": expires}
        row = self._session.get(DialogueState, key)
        if row is None:
            self._session.add(DialogueState(key=key, value=stored))
        else:
            row.value = stored
            row.version += 1
        self._session.flush()

    def delete(self, key: str) -> None:
        self._session.execute(delete(DialogueState).where(DialogueState.key == key))

    def forget_openid(self, openid: str) -> None:
        # Keys end with ":<openid>"; an openid has no wildcard characters (letters, digits,
        # "-" and "_"), and "_" is escaped for LIKE.
        pattern = "%:" + openid.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        self._session.execute(
            delete(DialogueState).where(DialogueState.key.like(pattern, escape="\\"))
        )
        self._session.execute(delete(SurveyDraft).where(SurveyDraft.openid == openid))


def store_for(settings: Settings, session: Session) -> DbDialogueStore:
    """The dialogue store: the database always, with or without Redis (issue 13: what a user
    has typed must survive a Redis restart; the state is written in the handling transaction,
    so it commits with whatever it leads to)."""
    return DbDialogueStore(session)
