"""The outbox: WeChat messages sent later than the reply (survey-round notices, a head
teacher's feedback for the counsellor, the rest of a reply too long for one message).

:func:`queue_text` adds an ``outbound_messages`` row in the caller's transaction; only after that
transaction commits is :func:`worker.tasks.outbound.send_outbound` enqueued with the row's id (a
task never looks for a row that is not committed, and a rolled-back message is never sent).
With Redis the task goes to the Celery workers; in embedded mode (no Redis) it runs on a
background thread of this process, so that a web request never waits for WeChat's API.

:func:`deliver` sends one row: idempotent (a row already sent or given up is skipped), it
records the outcome on the row — ``sent_at``; or ``last_error`` and ``failed_at`` for errors
that will not go away (45015 outside the 48-hour window, 45047 too many messages, an unknown
openid...); or ``last_error`` only, for network errors and WeChat's "system busy", which the
caller retries with backoff.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait

from requests import RequestException
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

import models.db
from bot.settings import Settings
from bot.wechat.locks import begin_write
from models.base import utcnow
from models.binding import WeChatBinding
from models.messaging import OutboundMessage

log = logging.getLogger(__name__)

SENT, SKIPPED, RETRY, FAILED = "sent", "skipped", "retry", "failed"
# WeChat errcodes worth retrying later: -1 system busy. (None = HTTP-level failure.)
TRANSIENT_ERRCODES = frozenset({-1, None})
# Backoff between tries in embedded mode, in seconds (Celery uses its own countdowns).
EMBEDDED_BACKOFF = (1.0, 3.0, 9.0)
# SQLite: pauses between tries of recording a send while the write lock stays busy, in seconds.
SQLITE_WRITE_RETRY = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)

_PENDING = "banzhuren_outbox_pending"


def queue_text(
    session: Session,
    openid: str,
    text: str,
    *,
    seal_with: Settings | None = None,
    confirms_survey: bool = False,
) -> OutboundMessage:
    """Queue a customer-service text to ``openid``; sent after ``session`` commits.

    ``seal_with``: the text quotes a student's survey answers (issue 11): it is stored sealed
    with these settings' seal key and blanked once sent or given up."""
    if seal_with is not None:
        from bot import survey_seal

        sealed = survey_seal.seal(
            seal_with, {"content": text}, survey_seal.draft_context(f"outbound:{openid}")
        )
        payload = {"sealed": base64.b64encode(sealed).decode()}
    else:
        payload = {"content": text}
    if confirms_survey:
        # Issue 13.5: once sent, the survey dialogue knows the student saw the next question.
        payload["confirms_survey"] = True
    message = OutboundMessage(openid=openid, kind="text", payload=payload)
    session.add(message)
    session.flush()
    session.info.setdefault(_PENDING, []).append(message.id)
    return message


def queue_text_for(
    session: Session,
    *,
    student_id: int | None = None,
    teacher_id: int | None = None,
    text: str,
) -> OutboundMessage | None:
    """Queue a text to the WeChat account bound to a student or teacher; None when that person
    has not bound WeChat."""
    if (student_id is None) == (teacher_id is None):
        raise ValueError("give exactly one of student_id, teacher_id")
    column = WeChatBinding.student_id if student_id is not None else WeChatBinding.teacher_id
    openid = session.scalar(
        select(WeChatBinding.openid).where(column == (student_id or teacher_id))
    )
    if openid is None:
        return None
    return queue_text(session, openid, text)


@event.listens_for(Session, "after_commit")
def _enqueue_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        for message_id in ids:
            try:
                enqueue(message_id)
            except Exception:
                # The row is committed; enqueue_unsent() picks it up later.
                log.exception("could not enqueue outbound message %s", message_id)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _settings() -> Settings:
    from worker.celery_app import settings

    return settings()


def enqueue(message_id: int) -> None:
    """Have the row sent: a Celery task with Redis, a background thread in embedded mode."""
    settings = _settings()
    if settings.embedded:
        _embedded_executor().submit(deliver_with_retries, message_id)
        return
    from worker.tasks.outbound import send_outbound

    send_outbound.delay(message_id)


def enqueue_unsent(session: Session, older_than_seconds: int = 300) -> int:
    """Enqueue rows neither sent nor given up, older than ``older_than_seconds`` (e.g. the
    broker was down at commit time); for a periodic maintenance task. Returns how many."""
    import datetime as dt

    cutoff = utcnow() - dt.timedelta(seconds=older_than_seconds)
    ids = list(
        session.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.sent_at.is_(None),
                OutboundMessage.failed_at.is_(None),
                OutboundMessage.created_at < cutoff,
            )
        )
    )
    for message_id in ids:
        enqueue(message_id)
    return len(ids)


def deliver(message_id: int, api=None) -> str:
    """Send outbound message ``message_id`` once; returns SENT, SKIPPED, RETRY or FAILED."""
    settings = _settings()
    with models.db.SessionFactory() as session:
        pg = models.db.is_postgresql(session)
        query = select(OutboundMessage).where(OutboundMessage.id == message_id)
        if pg:
            # Held through the send: a second worker given the same id skips it.
            query = query.with_for_update(skip_locked=True)
        message = session.execute(query).scalar_one_or_none()
        if message is None or message.sent_at is not None or message.failed_at is not None:
            return SKIPPED
        openid, payload = message.openid, dict(message.payload)
        if not pg:
            # SQLite: end the read before the network call (the token store may write
            # meanwhile, and an old read snapshot cannot be upgraded to a write).
            session.rollback()

        outcome, error = _send(settings, api, openid, payload)

        if not pg:
            return _record_sqlite(session, message_id, outcome, error)
        _record(message, outcome, error)
        session.commit()
        return outcome


def _record(message: OutboundMessage, outcome: str, error: str | None) -> None:
    message.attempts += 1
    if outcome == SENT and message.payload.get("confirms_survey"):
        from bot.chat.survey_dialogue import reply_delivered

        session = Session.object_session(message)
        if session is not None:
            reply_delivered(session, _settings(), message.openid)
    if "sealed" in message.payload and outcome in (SENT, FAILED):
        # It quoted survey answers: nothing of it is kept once it is out (or never will be).
        message.payload = {"content": "", "blanked": True}
    if outcome == SENT:
        message.sent_at = utcnow()
        message.last_error = None
    else:
        message.last_error = error
        if outcome == FAILED:
            message.failed_at = utcnow()


def _record_sqlite(session: Session, message_id: int, outcome: str, error: str | None) -> str:
    """Record the outcome of a send on SQLite, whatever else is writing meanwhile.

    The message has gone out by now, so losing this write would leave it unsent in the table
    (and :func:`enqueue_unsent` would send it again). A write transaction from the start
    (``BEGIN IMMEDIATE`` waits for the single write lock; a read upgraded to a write would fail
    at once if anyone wrote meanwhile), and when the lock stays busy past the busy timeout
    ("database is locked" under a burst of concurrent requests) the write is tried again after
    each of :data:`SQLITE_WRITE_RETRY`."""
    for delay in (*SQLITE_WRITE_RETRY, None):
        try:
            begin_write(session)
            message = session.get(OutboundMessage, message_id)
            if message is None or message.sent_at is not None:
                session.rollback()
                return SKIPPED
            _record(message, outcome, error)
            session.commit()
            return outcome
        except OperationalError as exc:
            session.rollback()
            if delay is None or "locked" not in str(exc.orig):
                raise
            log.warning("database busy recording outbound message %s; retrying", message_id)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _send(settings: Settings, api, openid: str, payload: dict) -> tuple[str, str | None]:
    from bot.wechat.api import WeChatApi, scrub

    try:
        if api is None:
            api = WeChatApi(settings)
        content = payload.get("content", "")
        if "sealed" in payload:
            from bot import survey_seal

            content = survey_seal.unseal(
                settings,
                base64.b64decode(payload["sealed"]),
                survey_seal.draft_context(f"outbound:{openid}"),
            )["content"]
        api.message.send_text(openid, content)
    except WeChatClientException as exc:
        error = scrub(f"errcode {exc.errcode}: {exc.errmsg}")
        if exc.errcode in TRANSIENT_ERRCODES:
            log.warning("sending to WeChat failed, will retry: %s", error)
            return RETRY, error
        log.warning("WeChat refused the message, giving up: %s", error)
        return FAILED, error
    except RequestException as exc:
        error = scrub(f"network: {type(exc).__name__}: {exc}")
        log.warning("network error sending to WeChat, will retry: %s", error)
        return RETRY, error
    except RuntimeError as exc:  # not configured (no AppID/secret)
        return FAILED, str(exc)
    return SENT, None


def deliver_with_retries(message_id: int, backoff: tuple[float, ...] = EMBEDDED_BACKOFF) -> str:
    """:func:`deliver`, retried after each delay in ``backoff`` while it says RETRY."""
    outcome = deliver(message_id)
    for delay in backoff:
        if outcome != RETRY:
            break
        time.sleep(delay)
        outcome = deliver(message_id)
    return outcome


_executor: ThreadPoolExecutor | None = None
_futures: set[Future] = set()
_executor_lock = threading.Lock()


class _TrackingExecutor(ThreadPoolExecutor):
    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = super().submit(fn, *args, **kwargs)
        with _executor_lock:
            _futures.add(future)
        future.add_done_callback(_forget_future)
        return future


def _forget_future(future: Future) -> None:
    with _executor_lock:
        _futures.discard(future)
    if future.exception() is not None:
        log.error("outbound delivery failed", exc_info=future.exception())


def _embedded_executor() -> ThreadPoolExecutor:
    # One thread: in embedded mode sends are rare, and one sender cannot race itself.
    # ThreadPoolExecutor's threads are joined at interpreter exit, so a CLI command that
    # queued messages waits for them to go out before the process ends.
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = _TrackingExecutor(max_workers=1, thread_name_prefix="outbox")
        return _executor


def drain(timeout: float = 30.0) -> bool:
    """Wait until the embedded sender has nothing left to do (for tests and the CLI)."""
    deadline = time.monotonic() + timeout
    while True:
        with _executor_lock:
            pending = list(_futures)
        if not pending:
            return True
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        wait(pending, timeout=remaining)
