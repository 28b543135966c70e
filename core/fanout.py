"""Fan-out (issue 26): a batch of outbox rows (a round's notices to a school, results to every
head teacher) sent within one Celery task, on threads that keep their WeChat connection.

Every row is sent at most once, as :func:`core.outbox.deliver` guarantees: it is marked as
being sent (``send_started_at``, committed to disk) before WeChat is called, and a row whose
outcome never got recorded is settled by the sweep as 可能已送达, never sent twice.

On PostgreSQL a round's notice to a student with no customer-service allowance left (nearly
all of them: a notice goes as the template message) takes the short way: the row is marked
with one UPDATE ... RETURNING in a transaction of its own, and the "sent" outcomes of the batch
are recorded together, every :data:`RECORD_EVERY`, in one UPDATE whose commit does not wait
for the disk. That is one durable commit a notice and a sixteenth of another, where
``deliver`` takes two transactions of four statements through the ORM (5.4 ms of the worker's
CPU a notice, the bound on a 2-CPU machine). A row is marked just before its call, never
ahead, so a worker killed mid-batch leaves only the calls in flight (at most one per thread)
unsure; a "sent" not yet recorded is settled as 可能已送达 and it did arrive.

Everything else (a student with allowance, whose message must be taken from it in the marking
transaction; WeChat's refusals and errors; rows being sent elsewhere or cut off; SQLite, which
serialises writers anyway) goes through ``deliver`` row by row, in the same threads.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import bindparam, or_, select, text, update
from sqlalchemy.orm import Session

import core.db
from core import jobs
from core.celery_app import dispatch
from core.db import begin_write
from core.fastsql import FastStatement
from core.outbox import (
    QUOTA,
    RETRY,
    SENT,
    SKIPPED,
    _record,
    _send,
    _settings,
    _Spent,
    _write_retrying,
    deliver,
    next_quota_reset,
)
from core.reach import allowance as rule
from core.settings import Settings
from core.wechat.api import WeChatApi
from models.base import utcnow
from models.messaging import OutboundMessage
from models.reach import WeChatContact

log = logging.getLogger(__name__)

# Threads a batch is sent on: WeChat's API is ~100 ms away, so one send at a time would be ~10
# a second a worker process.
BATCH_THREADS = 16
# "Sent" outcomes recorded together: one statement for this many notices.
RECORD_EVERY = 16
# A batch takes no new row after this long: with WeChat answering slowly (up to the client's
# 10 s timeout a call) the last calls still end within the task's soft time limit (40 s), and
# the rows left go back to the queue as a batch of their own instead of being cut off.
BATCH_SECONDS = 25.0
LATER = "later"  # handed back to the queue, untouched

_OUTBOX = OutboundMessage.__table__
_MARK = FastStatement(
    update(_OUTBOX)
    .where(
        _OUTBOX.c.id == bindparam("message_id"),
        _OUTBOX.c.sent_at.is_(None),
        _OUTBOX.c.failed_at.is_(None),
        _OUTBOX.c.maybe_delivered_at.is_(None),
        _OUTBOX.c.send_started_at.is_(None),
        or_(_OUTBOX.c.not_before.is_(None), _OUTBOX.c.not_before <= bindparam("now")),
    )
    .values(send_started_at=bindparam("now"))
    .returning(_OUTBOX.c.openid, _OUTBOX.c.payload)
)


def deliver_batch(message_ids: list[int], threads: int = BATCH_THREADS) -> dict[str, int]:
    """Send the rows of ``message_ids`` on ``threads`` threads, each with a WeChat client (and
    so a connection) of its own for the whole batch; returns the count of each outcome. Rows
    already settled are dropped in one read first. A 45009 (daily quota) stops the batch, and
    every batch of every worker, until the quota resets: the rows left get ``not_before``
    then. Rows to retry (network, "system busy") are handed to the one-row task with its
    backoff; rows not begun after :data:`BATCH_SECONDS` to a new batch."""
    settings = _settings()
    with core.db.SessionFactory() as session:
        todo, short = _plan(session, message_ids)
    counts: dict[str, int] = {SKIPPED: len(message_ids) - len(todo)}
    paused = quota_paused_until(settings)
    if paused is not None:
        _hold_until(todo, paused)
        counts[QUOTA] = len(todo)
        return counts
    local = threading.local()
    sessions: list[Session] = []
    stopped: list[int] = []
    lock = threading.Lock()
    quota = threading.Event()
    sent = _SentRecorder()
    later: list[int] = []
    started = time.monotonic()

    def one(message_id: int) -> str:
        if quota.is_set():
            with lock:
                stopped.append(message_id)
            return QUOTA
        if time.monotonic() - started > BATCH_SECONDS:
            with lock:
                later.append(message_id)
            return LATER
        api = getattr(local, "api", None)
        if api is None:
            api = local.api = WeChatApi(settings)
        if message_id in short:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = core.db.SessionFactory()
                with lock:
                    sessions.append(session)
            outcome = _send_marked(settings, session, api, message_id, sent)
        else:
            outcome = deliver(message_id, api=api)
            if outcome == RETRY and _held_for_quota(message_id):
                outcome = QUOTA
        if outcome == QUOTA:
            quota.set()
        return outcome

    try:
        with ThreadPoolExecutor(max(1, min(threads, len(todo))), "outbox-batch") as pool:
            outcomes = list(pool.map(one, todo))
    finally:
        for session in sessions:
            session.close()
        sent.flush()
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    if quota.is_set():
        _hold_until(stopped, _pause_for_quota(settings))
    if later:
        dispatch(jobs.SEND_OUTBOUND_BATCH, later, ignore_result=True)
    retry = [m for m, o in zip(todo, outcomes, strict=True) if o == RETRY]
    for message_id in retry:
        dispatch(jobs.SEND_OUTBOUND, message_id, countdown=2, ignore_result=True)
    return counts


def _plan(session: Session, message_ids: list[int]) -> tuple[list[int], set[int]]:
    """The rows still to send, and those of them that may take the short way: round notices
    (PostgreSQL) to students with nothing left of their customer-service allowance. Read
    before the sends: a student who writes meanwhile gets the template, which reaches them too."""
    rows = session.execute(
        select(OutboundMessage.id, OutboundMessage.kind, OutboundMessage.openid)
        .where(
            OutboundMessage.id.in_(message_ids),
            OutboundMessage.sent_at.is_(None),
            OutboundMessage.failed_at.is_(None),
            OutboundMessage.maybe_delivered_at.is_(None),
        )
        .order_by(OutboundMessage.id)
    ).all()
    todo = [row.id for row in rows]
    if not core.db.is_postgresql(session):
        return todo, set()
    reach = {row.id: row.openid for row in rows if row.kind == "reach"}
    now = utcnow()
    allowed = {
        contact.openid
        for contact in session.execute(
            select(
                WeChatContact.openid,
                WeChatContact.grant_kind,
                WeChatContact.last_interaction_at,
                WeChatContact.spent,
            ).where(WeChatContact.openid.in_(set(reach.values())))
        )
        if rule.remaining(
            contact.grant_kind, contact.last_interaction_at, contact.spent, now
        ).allows()
    }
    return todo, {m for m, openid in reach.items() if openid not in allowed}


def _send_marked(
    settings: Settings, session: Session, api, message_id: int, sent: _SentRecorder
) -> str:
    """The short way for one notice: marked by one statement, sent as the template (nothing
    is taken from an allowance), the "sent" outcome left to ``sent``; any other outcome
    recorded as ``deliver`` records it."""
    row = _MARK.first(session, {"message_id": message_id, "now": utcnow()})
    session.commit()
    if row is None:
        # Settled meanwhile, being sent elsewhere, cut off, or waiting for the quota:
        # deliver() knows what each of those calls for.
        return deliver(message_id, api=api)
    outcome, error, channel = _send(settings, api, row.openid, dict(row.payload), _Spent(None))
    if outcome == SENT:
        sent.add(message_id, channel)
        return SENT
    recorded = _write_retrying(
        session,
        message_id,
        lambda m: _record(session, m, outcome, error, channel),
        durable=False,
    )
    return QUOTA if outcome == QUOTA else recorded


class _SentRecorder:
    """The short way's "sent" outcomes, recorded :data:`RECORD_EVERY` at a time by whichever
    thread fills the set, the rest at the end of the batch."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: list[tuple[int, str | None]] = []

    def add(self, message_id: int, channel: str | None) -> None:
        with self._lock:
            self._pending.append((message_id, channel))
            if len(self._pending) < RECORD_EVERY:
                return
            pending, self._pending = self._pending, []
        _record_sent(pending)

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if pending:
            _record_sent(pending)


def _record_sent(pending: list[tuple[int, str | None]]) -> None:
    """One statement per channel (a notice goes as the template, or is unreachable). The
    commit does not wait for the disk: lost in a database crash, the rows are back to "being
    sent" (their marks were durable) and the sweep settles them as 可能已送达."""
    by_channel: dict[str | None, list[int]] = {}
    for message_id, channel in pending:
        by_channel.setdefault(channel, []).append(message_id)
    now = utcnow()
    with core.db.SessionFactory() as session:
        begin_write(session)
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))
        for channel, ids in by_channel.items():
            session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(ids),
                    OutboundMessage.sent_at.is_(None),
                    OutboundMessage.maybe_delivered_at.is_(None),
                )
                .values(
                    sent_at=now,
                    attempts=OutboundMessage.attempts + 1,
                    send_started_at=None,
                    channel=channel,
                    last_error=None,
                )
            )
        session.commit()


# --- WeChat's daily quota (45009), shared by every worker --------------------------------------

_quota_until_local: dt.datetime | None = None  # embedded mode: no Redis to share it in


def _quota_key(settings: Settings) -> str:
    return f"{settings.redis_prefix}:wechat:quota_until"


def quota_paused_until(settings: Settings) -> dt.datetime | None:
    """When WeChat's daily quota resets, if a send was refused with 45009 since the last
    reset (shared by every worker through Redis): no batch calls WeChat before then."""
    if settings.embedded:
        until = _quota_until_local
    else:
        from core.redis_client import redis_client

        raw = redis_client(settings).get(_quota_key(settings))
        until = dt.datetime.fromisoformat(raw.decode()) if raw else None
    return until if until is not None and until > utcnow() else None


def _pause_for_quota(settings: Settings) -> dt.datetime:
    global _quota_until_local
    until = next_quota_reset(utcnow())
    if settings.embedded:
        _quota_until_local = until
    else:
        from core.redis_client import redis_client

        seconds = max(1, int((until - utcnow()).total_seconds()))
        redis_client(settings).set(_quota_key(settings), until.isoformat(), ex=seconds)
    return until


def _hold_until(message_ids: list[int], until: dt.datetime) -> None:
    """Rows not sent yet wait for the quota's reset (the sweep enqueues them then)."""
    if not message_ids:
        return
    with core.db.SessionFactory() as session:
        begin_write(session)
        session.execute(
            update(OutboundMessage)
            .where(
                OutboundMessage.id.in_(message_ids),
                OutboundMessage.sent_at.is_(None),
                OutboundMessage.failed_at.is_(None),
                OutboundMessage.maybe_delivered_at.is_(None),
                OutboundMessage.send_started_at.is_(None),
            )
            .values(not_before=until)
        )
        session.commit()


def _held_for_quota(message_id: int) -> bool:
    """The row was refused with 45009 (deliver recorded ``not_before`` for the reset)."""
    with core.db.SessionFactory() as session:
        not_before = session.scalar(
            select(OutboundMessage.not_before).where(OutboundMessage.id == message_id)
        )
    return not_before is not None and not_before > utcnow()
