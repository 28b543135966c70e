"""The outbox: WeChat messages sent later than the reply (survey-round notices, a head
teacher's feedback for the counsellor, the rest of a reply too long for one message).

:func:`queue_text` adds an ``outbound_messages`` row in the caller's transaction; only after that
transaction commits is the ``banzhuren.outbox.send`` task enqueued (core.jobs) with the row's id (a
task never looks for a row that is not committed, and a rolled-back message is never sent).
With Redis the task goes to the Celery workers; in embedded mode (no Redis) it runs on a
background thread of this process, so that a web request never waits for WeChat's API.

:func:`deliver` sends one row: idempotent (a row already sent or given up is skipped), it
records the outcome on the row — ``sent_at``; or ``last_error`` and ``failed_at`` for errors
that will not go away (no customer-service allowance left, WeChat's 45015 / 45047, an unknown
openid...); or ``last_error`` only, for network errors and WeChat's "system busy", which the
caller retries with backoff; 45009 (the daily quota) leaves the row for after midnight
(``not_before``), when the beat sweep (:func:`enqueue_unsent`) sends it.

Issue 15: ``reach`` rows (round notices and reminders, :func:`queue_reach`) choose between a
customer-service and a template message, drop on 43004, and record the ``channel`` that reached
the user; ``menu`` rows (tap-to-answer) fall back to text.

Issue 23: every customer-service message (text, menu, reach) is first spent from the user's
allowance as WeChat counts it (``core.reach.window.spend``, atomic and committed before the
call); with nothing left a text or menu is given up without calling WeChat and a reach row
goes as the template message. A menu never takes the last message (:data:`MENU_RESERVE`).
WeChat's 45015 / 45047 (our count was wrong) use the allowance up, are recorded on the row
(``refused_errcode``) and send a reach row's template.

Duplicates (issue 22 item 7): a send whose outcome is unknown (the API call timed out after the
request went out; the process killed mid-send) is settled as 可能已送达 (``maybe_delivered_at``)
and never sent again: WeChat confirms nothing, and a second copy (the counsellor getting a 反馈
twice) is worse than a message that most likely arrived. A row marked as being sent
(``send_started_at``) holds a lease of :data:`IN_FLIGHT`; the beat sweep run every minute
(:func:`settle_cut_off`) settles rows whose lease ran out (their worker died), so such a row is
settled within two minutes. A message carrying a 反馈 marks the feedback forwarded once WeChat
accepted it, or with the note :data:`MAYBE_NOTE` once settled as 可能已送达.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from zoneinfo import ZoneInfo

from requests import RequestException
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import ConnectTimeout
from sqlalchemy import and_, or_, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, object_session
from wechatpy.exceptions import WeChatClientException

import core.db
from core import jobs
from core.celery_app import dispatch, settings
from core.db import begin_write
from core.reach import window
from core.settings import Settings
from core.surveys import seal as survey_seal
from core.surveys.drafts import reply_delivered
from core.wechat.api import WeChatApi, scrub
from core.wecom import outbound as wecom
from models import StudentFeedback
from models.base import utcnow
from models.binding import WeChatBinding
from models.messaging import OutboundMessage

log = logging.getLogger(__name__)

SENT, SKIPPED, RETRY, FAILED = "sent", "skipped", "retry", "failed"
MAYBE_DELIVERED = "maybe_delivered"  # deliver(): settled as 可能已送达, never sent again
MAYBE_NOTE = "可能已送达：发送超时，微信未确认是否送达（为免重复不再发送）"
# WeChat errcodes worth retrying later: -1 system busy. (None = HTTP-level failure.)
TRANSIENT_ERRCODES = frozenset({-1, None})
# The account's daily quota for this API is used up: retried after it resets.
QUOTA_ERRCODE = 45009
# Backoff between tries in embedded mode, in seconds (Celery uses its own countdowns).
EMBEDDED_BACKOFF = (1.0, 3.0, 9.0)
# SQLite: pauses between tries of recording a send while the write lock stays busy, in seconds.
SQLITE_WRITE_RETRY = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


def queue_text(
    session: Session,
    openid: str,
    text: str,
    *,
    seal_with: Settings | None = None,
    confirms_survey: bool = False,
    wecom_user: str | None = None,
    batched: bool = False,
) -> OutboundMessage:
    """Queue a customer-service text to ``openid``; sent after ``session`` commits.

    ``wecom_user``: sent through WeCom to that UserId first, the official account (``openid``,
    "" for none) when WeCom does not reach them (issue 25.5, :mod:`core.wecom.outbound`).

    ``seal_with``: the text quotes a student's survey answers (issue 11): it is stored sealed
    with these settings' seal key and blanked once sent or given up. ``batched``: one of many
    texts to different people whose order does not matter (results to every head teacher),
    handed to the worker in batches like a round's notices."""
    if seal_with is not None:
        sealed = survey_seal.seal(
            seal_with, {"content": text}, survey_seal.draft_context(f"outbound:{openid}")
        )
        payload = {"sealed": base64.b64encode(sealed).decode()}
    else:
        payload = {"content": text}
    if confirms_survey:
        # Issue 13.5: once sent, the survey dialogue knows the student saw the next question.
        payload["confirms_survey"] = True
    if wecom_user is not None:
        payload["wecom"] = wecom_user
    message = OutboundMessage(openid=openid, kind="text", payload=payload)
    session.add(message)
    session.flush()
    if batched:
        _enqueue_reach_after_commit(session, message.id)
    else:
        _enqueue_after_commit(session, message.id)
    return message


def queue_text_for(
    session: Session,
    *,
    student_id: int | None = None,
    teacher_id: int | None = None,
    text: str,
    batched: bool = False,
) -> OutboundMessage | None:
    """Queue a text to the WeChat account bound to a student or teacher; None when that person
    has not bound WeChat. Issue 25.5: with WeCom configured, a teacher's text goes through WeCom
    first (the official account when WeCom does not reach them, see :mod:`core.wecom.outbound`)."""
    if (student_id is None) == (teacher_id is None):
        raise ValueError("give exactly one of student_id, teacher_id")
    column = WeChatBinding.student_id if student_id is not None else WeChatBinding.teacher_id
    openid = session.scalar(
        select(WeChatBinding.openid).where(column == (student_id or teacher_id))
    )
    userid = wecom.recipient(session, _settings(), teacher_id) if teacher_id else None
    if userid is not None:
        return queue_text(session, openid or "", text, wecom_user=userid, batched=batched)
    if openid is None:
        return None
    return queue_text(session, openid, text, batched=batched)


def queue_reach(
    session: Session,
    openid: str,
    text: str,
    fields: dict[str, str],
    *,
    not_before: dt.datetime | None = None,
) -> OutboundMessage:
    """Queue a message that must reach a student whether or not they wrote lately (a round
    notice, a reminder; issue 15): a customer-service ``text`` while their customer-service
    allowance lasts (issue 23), else the template message of
    ``BANZHUREN_WECHAT_TEMPLATE_REMIND`` filled from ``fields`` (title, term, deadline, hint),
    else nothing (``channel`` "unreachable"). Not sent before ``not_before`` (the night)."""
    message = OutboundMessage(
        openid=openid,
        kind="reach",
        payload={"content": text, "reach": fields},
        not_before=not_before,
    )
    session.add(message)
    session.flush()
    _enqueue_reach_after_commit(session, message.id)
    return message


def queue_reach_many(
    session: Session,
    openids: list[str],
    text: str,
    fields: dict[str, str],
    *,
    not_before: dt.datetime | None = None,
) -> list[int]:
    """:func:`queue_reach` for many students at once (a round's notices to a school): the rows
    written in one statement; their ids, in the order of ``openids``."""
    from sqlalchemy import insert

    if not openids:
        return []
    payload = {"content": text, "reach": fields}
    now = utcnow()
    ids = list(
        session.scalars(
            insert(OutboundMessage).returning(OutboundMessage.id, sort_by_parameter_order=True),
            [
                {
                    "openid": openid,
                    "kind": "reach",
                    "payload": payload,
                    "not_before": not_before,
                    "created_at": now,
                }
                for openid in openids
            ],
        )
    )
    for message_id in ids:
        _enqueue_reach_after_commit(session, message_id)
    return ids


def queue_menu(session: Session, openid: str, menu: dict, fallback: str) -> OutboundMessage:
    """Queue a customer-service menu message (tap-to-answer); when WeChat refuses it (e.g. no
    permission for menu messages), ``fallback`` is sent as text instead."""
    message = OutboundMessage(
        openid=openid, kind="menu", payload={"menu": menu, "content": fallback}
    )
    session.add(message)
    session.flush()
    _enqueue_after_commit(session, message.id)
    return message


def _enqueue_after_commit(session: Session, message_id: int) -> None:
    # If enqueueing fails the row is still committed: enqueue_unsent() picks it up later.
    core.db.after_commit(session, functools.partial(enqueue, message_id))


# Issue 26, fan-out: a round's notices to a school (30,000 students) go as tasks of BATCH rows,
# each sent on threads of the worker (core.fanout.deliver_batch).
BATCH = 250
_REACH_PENDING = "banzhuren_reach_pending"


def _enqueue_reach_after_commit(session: Session, message_id: int) -> None:
    """Like :func:`_enqueue_after_commit`, but the reach rows of one transaction are handed
    over together, in batches (their order does not matter: one message per student)."""
    pending = session.info.get(_REACH_PENDING)
    callbacks = session.info.get(core.db._AFTER_COMMIT, [])
    if pending is None or not any(cb is pending[1] for cb in callbacks):
        # None yet in this transaction (a rolled-back one's list is left behind, unused).
        ids: list[int] = []
        callback = functools.partial(enqueue_many, ids)
        pending = session.info[_REACH_PENDING] = (ids, callback)
        core.db.after_commit(session, callback)
    pending[0].append(message_id)


def enqueue_many(message_ids: list[int]) -> None:
    """Have the rows sent: tasks of :data:`BATCH` with Redis, one by one in embedded mode."""
    if len(message_ids) == 1 or _settings().embedded:
        for message_id in message_ids:
            enqueue(message_id)
        return
    for start in range(0, len(message_ids), BATCH):
        dispatch(jobs.SEND_OUTBOUND_BATCH, message_ids[start : start + BATCH], ignore_result=True)


def _settings() -> Settings:
    return settings()


def enqueue(message_id: int) -> None:
    """Have the row sent: a Celery task with Redis, a background thread in embedded mode."""
    settings = _settings()
    if settings.embedded:
        _embedded_executor().submit(deliver_with_retries, message_id)
        return
    # Fire and forget: nothing waits for the task's result, so none is subscribed to (a
    # result subscription is one more thing that breaks while Redis is away).
    dispatch(jobs.SEND_OUTBOUND, message_id, ignore_result=True)


def enqueue_unsent(
    session: Session, older_than_seconds: int = 300, untried_after_seconds: int | None = None
) -> int:
    """Enqueue rows neither sent nor settled, older than ``older_than_seconds`` (e.g. the
    broker was down at commit time); for a periodic maintenance task. Returns how many.

    ``untried_after_seconds``: also rows never tried (no attempt, not being sent) older than
    this: their hand-off to the queue was lost (Redis down at commit time), so they go out
    within a minute of Redis being back rather than at the next slow sweep."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=older_than_seconds)
    old_enough = OutboundMessage.created_at < cutoff
    if untried_after_seconds is not None:
        old_enough = or_(
            old_enough,
            and_(
                OutboundMessage.attempts == 0,
                OutboundMessage.created_at < now - dt.timedelta(seconds=untried_after_seconds),
            ),
        )
    ids = list(
        session.scalars(
            select(OutboundMessage.id).where(
                OutboundMessage.sent_at.is_(None),
                OutboundMessage.failed_at.is_(None),
                OutboundMessage.maybe_delivered_at.is_(None),
                OutboundMessage.send_started_at.is_(None),  # being sent, or settle_cut_off's
                old_enough,
                # 45009: not before the quota resets.
                or_(OutboundMessage.not_before.is_(None), OutboundMessage.not_before <= now),
            )
        )
    )
    # After a lost worker these may be a round's notices to a school: in batches.
    enqueue_many(ids)
    return len(ids)


def queue_backlog(settings: Settings) -> int:
    """Tasks waiting in this deployment's Celery queue (0 in embedded mode)."""
    if settings.embedded:
        return 0
    from core.redis_client import redis_client

    return int(redis_client(settings).llen(f"{settings.redis_prefix}:{settings.celery_queue}"))


def settle_cut_off() -> int:
    """Settle as 可能已送达 the rows whose send was cut off (their worker died after marking
    them, before recording the outcome: the request may have gone out), in a transaction of
    its own; returns how many. For the beat sweep run every minute."""
    cutoff = utcnow() - IN_FLIGHT
    query = select(OutboundMessage).where(
        OutboundMessage.send_started_at < cutoff,
        OutboundMessage.sent_at.is_(None),
        OutboundMessage.failed_at.is_(None),
        OutboundMessage.maybe_delivered_at.is_(None),
    )
    with core.db.SessionFactory() as session:
        if core.db.is_postgresql(session):
            query = query.with_for_update(skip_locked=True)
        begin_write(session)
        settled = 0
        for message in session.scalars(query):
            _settle_maybe(session, message, "发送中断（worker 在发送时终止），微信可能已收到")
            settled += 1
        session.commit()
    if settled:
        log.warning("%d outbound message(s) cut off mid-send settled as maybe delivered", settled)
    return settled


def deliver(message_id: int, api=None) -> str:
    """Send outbound message ``message_id`` once; returns SENT, SKIPPED, RETRY, FAILED or
    MAYBE_DELIVERED.

    A send that may have reached the user without our knowing (the API call timed out after
    the request went out, or the process died mid-send: ``send_started_at`` still set past
    its lease) is settled as 可能已送达 and never sent again."""
    settings = _settings()
    # Not core.db.session_scope: two write transactions in one session (mark the row as being
    # sent, then record the outcome), with the WeChat call between them outside any
    # transaction, each retried on SQLite's "database is locked" by _write_retrying.
    with core.db.SessionFactory() as session:
        begun = _write_retrying(
            session, message_id, lambda m: _begin_and_spend(session, m), skip_locked=True
        )
        if isinstance(begun, str):
            return begun
        openid, payload = begun
        spent = _Spent(payload.pop(_GRANT, None))
        outcome, error, channel = _send(settings, api, openid, payload, spent)
        # The outcome's commit does not wait for the disk (issue 26: one WAL flush a message
        # fewer): lost in a database crash, the row is back to "being sent" (the first commit
        # was durable) and the sweep settles it as 可能已送达: never sent twice.
        return _write_retrying(
            session,
            message_id,
            lambda m: _record(session, m, outcome, error, channel, spent),
            durable=False,
        )


# The lease of a send: one started less than this long ago is taken to be still in flight on
# another worker (longer than the send task's hard time limit, worker/tasks/outbound.py);
# older, its process died mid-send. Lease plus the minute between sweeps: under two minutes.
IN_FLIGHT = dt.timedelta(seconds=50)
MAYBE = "maybe"  # _send: the request went out, the answer did not come back
QUOTA = "quota"  # _send: 45009, the daily API quota is used up
# WeChat's daily API quota resets at midnight Beijing time; a few minutes' margin.
QUOTA_ZONE = "Asia/Shanghai"
QUOTA_MARGIN = dt.timedelta(minutes=5)


def _begin_send(message: OutboundMessage | None) -> str | tuple[str, dict]:
    """Inside a write transaction: decide whether to send ``message`` now and mark it as
    being sent; returns what to send, or the outcome when nothing is to be sent."""
    now = utcnow()
    if message is None or _settled(message):
        return SKIPPED
    if message.not_before is not None and message.not_before > now:
        return SKIPPED  # the sweep enqueues it again after the quota reset
    if message.send_started_at is not None:
        if now - message.send_started_at < IN_FLIGHT:
            return SKIPPED  # another worker is sending it right now
        # The process sending it died before recording the outcome: it may have arrived.
        _settle_maybe(
            object_session(message), message, "发送中断（worker 在发送时终止），微信可能已收到"
        )
        return MAYBE_DELIVERED
    message.send_started_at = now
    return message.openid, dict(message.payload)


def _record(
    session: Session,
    message: OutboundMessage | None,
    outcome: str,
    error: str | None,
    channel: str | None = None,
    spent: _Spent | None = None,
):
    """Inside a write transaction: the outcome of the send that :func:`_begin_send` marked."""
    if spent is not None and message is not None:
        spent.settle(session, message)
    if message is None or message.sent_at is not None or message.maybe_delivered_at is not None:
        return SKIPPED
    message.attempts += 1
    message.send_started_at = None
    if channel is not None:
        message.channel = channel
    if outcome == SENT and message.payload.get("confirms_survey"):
        reply_delivered(session, _settings(), message.openid)
    if "sealed" in message.payload and outcome in (SENT, FAILED, MAYBE):
        # It quoted survey answers: nothing of it is kept once it is out (or never will be).
        message.payload = {"content": "", "blanked": True}
    if outcome == SENT:
        message.sent_at = utcnow()
        message.last_error = None
        _feedback_outcome(session, message, delivered=True)
        return SENT
    message.last_error = error
    if outcome == MAYBE:
        _settle_maybe(session, message, error)
        return MAYBE_DELIVERED
    if outcome == QUOTA:
        message.not_before = next_quota_reset(utcnow())
        return RETRY
    if outcome == FAILED:
        _give_up(message, error)
        _feedback_outcome(session, message, delivered=False)
    return outcome


def _settled(message: OutboundMessage) -> bool:
    return (
        message.sent_at is not None
        or message.failed_at is not None
        or message.maybe_delivered_at is not None
    )


def _settle_maybe(session: Session, message: OutboundMessage, error: str | None) -> None:
    """可能已送达: never sent again; a 反馈 it carries counts as forwarded, with the note."""
    message.uncertain_sends += 1
    message.maybe_delivered_at = utcnow()
    message.last_error = error
    message.send_started_at = None
    if "sealed" in message.payload:
        message.payload = {"content": "", "blanked": True}
    for feedback in session.scalars(
        select(StudentFeedback).where(StudentFeedback.outbound_id == message.id)
    ):
        feedback.forwarded_at = message.maybe_delivered_at
        feedback.failed_at = None
        feedback.note = MAYBE_NOTE


def _give_up(message: OutboundMessage, error: str | None) -> None:
    message.failed_at = utcnow()
    message.last_error = error
    message.send_started_at = None


def next_quota_reset(now: dt.datetime) -> dt.datetime:
    """The next midnight in Beijing (when WeChat resets the daily quota), plus a margin."""
    zone = ZoneInfo(QUOTA_ZONE)
    local = now.astimezone(zone)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), zone)
    return (midnight + QUOTA_MARGIN).astimezone(dt.UTC)


def _feedback_outcome(session: Session, message: OutboundMessage, delivered: bool) -> None:
    """A 反馈 carried by ``message`` is forwarded only once WeChat accepted it; given up, it
    is marked failed with the reason (shown to the teacher and on the dashboard)."""
    if message.kind == "reach":
        return  # a round's notice carries no 反馈 (one query a notice fewer, issue 26)
    rows = session.scalars(select(StudentFeedback).where(StudentFeedback.outbound_id == message.id))
    for feedback in rows:
        if delivered:
            feedback.forwarded_at = message.sent_at
            feedback.failed_at = None
            feedback.note = None
        else:
            feedback.failed_at = message.failed_at
            feedback.note = _failure_note(message.last_error)


def _failure_note(error: str | None) -> str:
    if error and ("45015" in error or NO_ALLOWANCE in error):
        return "未送达：辅导员48小时内未与公众号互动，微信不允许发送"
    if error and "45047" in error:
        return "未送达：发给辅导员的消息过多，微信拒收"
    return f"未送达：{(error or '发送失败')[:150]}"


def _write_retrying(
    session: Session, message_id: int, change, skip_locked: bool = False, durable: bool = True
):
    """Run ``change(row)`` in a write transaction on the row (locked on PostgreSQL; with
    ``skip_locked`` a row being worked on elsewhere is None) and commit; returns what
    ``change`` returned.

    On SQLite the write transaction starts with ``BEGIN IMMEDIATE`` (a read upgraded to a
    write fails at once if anyone wrote meanwhile) and, when the lock stays busy past the busy
    timeout ("database is locked" under a burst of requests), is tried again after each of
    :data:`SQLITE_WRITE_RETRY`: the outcome of a send that went out must not be lost."""
    for delay in (*SQLITE_WRITE_RETRY, None):
        try:
            begin_write(session)
            query = select(OutboundMessage).where(OutboundMessage.id == message_id)
            if core.db.is_postgresql(session):
                query = query.with_for_update(skip_locked=skip_locked)
                if not durable:
                    session.execute(text("SET LOCAL synchronous_commit TO OFF"))
            result = change(session.execute(query).scalar_one_or_none())
            session.commit()
            return result
        except OperationalError as exc:
            session.rollback()
            if delay is None or "locked" not in str(exc.orig):
                raise
            log.warning("database busy recording outbound message %s; retrying", message_id)
            time.sleep(delay)
    raise AssertionError("unreachable")


class Unreachable(Exception):
    """A reach message whose user has no customer-service allowance left, with no template
    configured."""


NOT_FOLLOWING = 43004  # the user has unfollowed the account: nothing will ever reach them
OUT_OF_WINDOW = 45015  # no grant of customer-service messages in force (WeChat's count)
TOO_MANY = 45047  # the grant's messages are spent (WeChat's count)
REFUSALS = frozenset({OUT_OF_WINDOW, TOO_MANY})
# Issue 23: tap-to-answer menus leave this many customer-service messages for a late reply.
MENU_RESERVE = 1
# last_error of a message given up because the allowance was spent (WeChat not called).
NO_ALLOWANCE = "no customer-service allowance"


class NoAllowance(Exception):
    """Nothing left of the user's customer-service allowance (as counted here)."""


# The key under which _begin_and_spend hands _send the grant it spent from (never stored).
_GRANT = "_allowance_grant"


def _begin_and_spend(session: Session, message: OutboundMessage | None):
    """:func:`_begin_send`, and in the same write transaction one customer-service message
    taken from the user's allowance (a menu leaves :data:`MENU_RESERVE`): committed before
    WeChat is called, so two senders never take the same last message."""
    begun = _begin_send(message)
    if isinstance(begun, str):
        return begun
    openid, payload = begun
    reserve = MENU_RESERVE if "menu" in payload else 0
    payload[_GRANT] = window.spend(session, openid, reserve)
    return openid, payload


class _Spent:
    """The allowance message a send took (``granted_at``: the grant it came from; None: there
    was none), and what WeChat's answer makes of it, settled with the outcome."""

    def __init__(self, granted_at: dt.datetime | None) -> None:
        self.granted_at = granted_at
        self.used = False  # a customer-service call was made with it
        self.refused: int | None = None  # WeChat's 45015 / 45047

    def use(self) -> None:
        """Before a customer-service call; raises :class:`NoAllowance` when there is none."""
        if self.granted_at is None or self.refused is not None:
            raise NoAllowance(
                f"{NO_ALLOWANCE}: 客服消息额度已用完或已过期（用户发消息后48小时内5条，"
                "点菜单、关注、扫码后1分钟内3条）"
            )
        self.used = True

    def answered(self, errcode: int | None) -> None:
        """WeChat (or the network) answered the call with an error: a refusal of the
        allowance uses it up; any other error did not count, so the message is given back
        (unless another call uses it)."""
        if not self.used:
            return
        self.used = False
        if errcode in REFUSALS:
            self.refused = errcode

    def settle(self, session: Session, message: OutboundMessage) -> None:
        """In the transaction that records the outcome: a refusal is recorded on the row and
        uses the allowance up; a message taken but not counted by WeChat is given back."""
        if self.granted_at is None:
            return
        if self.refused is not None:
            message.refused_errcode = self.refused
            window.exhaust(session, message.openid, self.granted_at)
        elif not self.used:
            window.refund(session, message.openid, self.granted_at)


def _send(
    settings: Settings, api, openid: str, payload: dict, spent: _Spent | None = None
) -> tuple[str, str | None, str | None]:
    """Send one message; returns (outcome, error, channel). ``spent``: the allowance message
    taken for it (None: none was)."""
    reach = "reach" in payload
    channel = ["custom"]
    spent = spent if spent is not None else _Spent(None)
    try:
        if "wecom" in payload:
            # Issue 25.5: staff on WeCom; the official account when WeCom does not reach them.
            not_there = wecom.send(settings, payload["wecom"], payload.get("content", ""))
            if not_there is None:
                return SENT, None, "wecom"
            if not openid:
                return FAILED, f"{not_there}，且未绑定微信公众号", "unreachable"
        if api is None:
            api = WeChatApi(settings)
        if reach:
            _send_reach(settings, api, openid, payload, channel, spent)
            return SENT, None, channel[0]
        spent.use()
        if "menu" in payload:
            try:
                api.message.send_msg_menu(openid, payload["menu"])
                return SENT, None, "menu"
            except WeChatClientException as exc:
                if (
                    exc.errcode in TRANSIENT_ERRCODES
                    or exc.errcode == QUOTA_ERRCODE
                    or exc.errcode in REFUSALS
                ):
                    raise
                log.info("menu message refused (%s): sending the text instead", exc.errcode)
        content = payload.get("content", "")
        if "sealed" in payload:
            content = survey_seal.unseal(
                settings,
                base64.b64decode(payload["sealed"]),
                survey_seal.draft_context(f"outbound:{openid}"),
            )["content"]
        api.message.send_text(openid, content)
    except (Unreachable, NoAllowance) as exc:
        log.info("no customer-service allowance left: message not sent")
        return FAILED, str(exc), "unreachable" if reach else None
    except WeChatClientException as exc:
        spent.answered(exc.errcode)
        error = scrub(f"errcode {exc.errcode}: {exc.errmsg}")
        if reach and exc.errcode == NOT_FOLLOWING:
            log.info("user has unfollowed the account: message dropped")
            return FAILED, error, "unfollowed"
        if exc.errcode == QUOTA_ERRCODE:
            log.warning("WeChat's daily API quota is used up; sending after midnight: %s", error)
            return QUOTA, error, None
        if exc.errcode in TRANSIENT_ERRCODES:
            log.warning("sending to WeChat failed, will retry: %s", error)
            return RETRY, error, None
        log.warning("WeChat refused the message, giving up: %s", error)
        return FAILED, error, channel[0] if reach else None
    except (ConnectTimeout, RequestsConnectionError) as exc:
        if isinstance(exc, ConnectTimeout) or _before_sending(exc):
            spent.answered(None)
            error = scrub(f"network: {type(exc).__name__}: {exc}")
            log.warning("network error sending to WeChat, will retry: %s", error)
            return RETRY, error, None
        error = scrub(f"network after sending: {type(exc).__name__}: {exc}")
        log.warning("WeChat may have received the message (%s); not sent again", error)
        return MAYBE, error, None
    except RequestException as exc:  # read timeout, broken response: it may have arrived
        error = scrub(f"network after sending: {type(exc).__name__}: {exc}")
        log.warning("WeChat may have received the message (%s); not sent again", error)
        return MAYBE, error, None
    except RuntimeError as exc:  # not configured (no AppID/secret)
        return FAILED, str(exc), None
    return SENT, None, "custom"


def _send_reach(
    settings: Settings, api, openid: str, payload: dict, channel: list, spent: _Spent
) -> None:
    """Customer-service text while the user's allowance lasts (WeChat's 45015 / 45047: it did
    not after all), else the remind template; raises :class:`Unreachable` when neither can be
    sent, WeChatClientException for WeChat's other refusals. ``channel[0]`` is set to the
    channel tried last."""
    try:
        spent.use()
    except NoAllowance:
        pass
    else:
        channel[0] = "custom"
        try:
            api.message.send_text(openid, payload.get("content", ""))
            return
        except WeChatClientException as exc:
            if exc.errcode not in REFUSALS:
                raise
            spent.answered(exc.errcode)
            log.warning("WeChat refused a customer-service message (%s)", exc.errcode)
    template = settings.wechat_template_remind
    if not template:
        raise Unreachable(
            "客服消息额度已用完或已过期，且未配置模板消息（BANZHUREN_WECHAT_TEMPLATE_REMIND）"
        )
    channel[0] = "template"
    api.message.send_template(
        openid,
        template,
        template_data(settings, payload["reach"]),
        url=settings.wechat_template_url,
    )


def template_data(settings: Settings, values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The template's ``data``: each configured field filled from its variable, within
    WeChat's limits (``core.wechat.template``: 20 characters, one line, no emoji)."""
    from core.settings import parse_template_fields
    from core.wechat.template import template_data as fill

    return fill(parse_template_fields(settings.wechat_template_remind_fields), values)


def _before_sending(exc: BaseException) -> bool:
    """True when a requests ConnectionError happened before the request went out (refused,
    DNS, TLS handshake), not after (a connection reset while waiting for the answer)."""
    text = repr(exc)
    return any(
        marker in text
        for marker in ("NewConnectionError", "NameResolutionError", "Max retries", "SSLError")
    )


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
