"""``/wechat``: the official account's server URL. Thin: verify, decrypt, parse, deduplicate,
dispatch, reply (STYLE: check signature → decrypt → parse → dedup → dispatch → reply → encrypt).

``GET`` is WeChat's URL check. ``POST`` takes plaintext, compatible and safe mode messages:

- no ``BANZHUREN_WECHAT_TOKEN`` configured → 503 (and a log line saying so): without a token of
  the school's own, anyone could sign messages as anyone;
- body over 1 MiB → 413; bad ``signature`` / ``msg_signature`` → 403; ``timestamp`` more than
  ``signature_max_age`` (300 s) off → 403; a plaintext message while an EncodingAESKey is set
  (unless ``BANZHUREN_WECHAT_ALLOW_PLAINTEXT``) → 403: the body of a plaintext message is not
  signed, so one signed URL would let anyone post anything; an encrypted message that does not
  decrypt with the current or previous EncodingAESKey → 400; a body that is not a WeChat
  message, or whose numbers (``CreateTime``, ``MsgId``, the query's ``timestamp``) are not
  ASCII digits within bounds → 400. None of these opens a database session.
- then :func:`answer`: :func:`bot.wechat.dedup.claim` (a retry gets the first reply),
  :func:`core.locks.lock_sender` (one message per person at a time),
  :func:`bot.chat.router.handle_incoming` (the handlers store survey answers, log entries...),
  :func:`bot.wechat.dedup.record_reply`, one commit, then the reply — a
  ``wechatpy.replies.TextReply``, encrypted when the message was. A reply over WeChat's 2048
  bytes is split: the first part is the reply, the rest go out as customer-service messages
  through :mod:`core.outbox` after the commit (never sent on the request path).
- a request's age counts from its arrival (:mod:`core.arrival`: a trusted proxy's
  ``X-Request-Start``, else when this process accepted it), never from when a thread got to
  it. Already older than :data:`LATE_SECONDS` when a thread gets to it: WeChat has stopped
  waiting for this try, so it is answered ``success`` and not handled (no claim, no database;
  a later try, or the user's next message, is). Handled, but ready only after
  :data:`LATE_SECONDS`: a move of the survey dialogue is rolled back and its claim released
  (the student never saw where it led: :func:`bot.chat.survey_dialogue.moved`); any other
  reply goes out as customer-service messages.
- a handler error rolls back, releases the claim (WeChat's retry is handled afresh) and
  answers :data:`bot.chat.help.FAILED`; a per-sender lock not granted in time answers
  :data:`bot.chat.help.BUSY`.

The work is framework-free (:func:`check_url`, :func:`receive_message` return an
:class:`Answer`). ``GET`` and ``POST /wechat`` reach it through :mod:`bot.wechat.fastpath`,
a WSGI layer in front of Flask (issue 26: Flask's request machinery was a sixth of a message's
CPU); the Flask views below serve the same functions to whatever calls the Flask app itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from typing import NamedTuple

from flask import Blueprint, Flask, Response, request
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import Session
from wechatpy import parse_message
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply
from werkzeug.wrappers import Request

from bot.chat import help as texts
from bot.chat.binding import SENDER_COLUMNS, join_sender, sender_from_row
from bot.chat.context import Incoming, Sender, SenderState
from bot.chat.router import handle_incoming
from bot.request_session import db, settings
from bot.wechat import dedup, outage
from bot.wechat.channel import Channel
from bot.wechat.textlimit import fit_messages, shorten
from core import arrival
from core.fastsql import FastStatement
from core.locks import LockTimeout, lock_sender
from core.reach import window
from core.settings import Settings
from core.surveys import drafts, rounds
from core.wechat import crypto
from models.base import utcnow
from models.reach import WeChatContact

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
# A reply too long for one message: at most this many parts, the reply and customer-service
# messages (WeChat allows 5 within 48 h of the user's message, 3 within a minute of a click:
# the sender's allowance caps them too, issue 23).
MAX_MESSAGES_PER_REPLY = 4
# WeChat stops waiting 5 s after it sent the message; a reply not ready (committed) this long
# after the request's arrival is taken as undelivered. The second left covers the commit and
# the way back to WeChat.
LATE_SECONDS = 4.0
# A request already this old when a thread gets to it is not handled at all.
STALE_SECONDS = LATE_SECONDS
# Between log lines about requests too old to answer (counted meanwhile).
_LATE_LOG_EVERY = 60.0
# Voice recognition ends sentences with punctuation that commands do not have.
_VOICE_TRAILING = "。.！!？?，, "

# Numbers in the body and the query: ASCII digits only ('²'.isdigit() is True), bounded.
_DIGITS = re.compile(r"[0-9]{1,20}", re.ASCII)
MSGID_MAX_DIGITS = 20  # WeChat's MsgId is a 64-bit integer
# CreateTime and the signed timestamp: Unix seconds between 2000-01-01 and 2100-01-01.
EARLIEST_TIME = 946_684_800
LATEST_TIME = 4_102_444_800
MAX_NONCE_CHARS = 64
# How far CreateTime may lie behind the school's clock and still be taken as "when the user
# sent it" (answer-speed checks); outside it (or in the future) the arrival time is used.
SENT_AT_TRUSTED = dt.timedelta(hours=1)
# Seconds between log lines saying that no token is configured.
_NO_TOKEN_LOG_EVERY = 60.0
_no_token_logged_at: float | None = None

bp = Blueprint("wechat", __name__)
_CONTACTS = WeChatContact.__table__


class BadRequest(Exception):
    """The request is refused before anything is handled; ``status`` and a short reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class Answer(NamedTuple):
    """What ``/wechat`` answers, before any web framework: the Flask views
    (:func:`to_response`) and the WSGI fast path (:mod:`bot.wechat.fastpath`) send the same."""

    status: int
    text: str
    mimetype: str = "text/plain"


def _plain(text: str, status: int = 200) -> Answer:
    return Answer(status, text)


def to_response(result: Answer) -> Response:
    return Response(result.text, status=result.status, mimetype=result.mimetype)


def _refuse_without_token() -> Answer:
    """503 while no Token is configured; says why in the log (at most once a minute)."""
    global _no_token_logged_at
    now = time.monotonic()
    if _no_token_logged_at is None or now - _no_token_logged_at > _NO_TOKEN_LOG_EVERY:
        _no_token_logged_at = now
        log.error(
            "/wechat refuses every request: BANZHUREN_WECHAT_TOKEN is not set (set it to the "
            "Token of the official account's server settings)"
        )
    return _plain("wechat token not configured", 503)


def bounded_int(value: object, lo: int, hi: int, max_digits: int = 20) -> int | None:
    """``value`` as an int when it is 1..``max_digits`` ASCII digits within [lo, hi], else None."""
    if not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) > max_digits or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if lo <= number <= hi else None


@bp.get("/wechat")
def verify_url() -> Response:
    return to_response(check_url(settings(), request.args))


@bp.post("/wechat")
def receive() -> Response:
    return to_response(receive_message(settings(), request, db))


def check_url(s: Settings, args) -> Answer:
    """WeChat's server URL check: answer ``echostr`` when the signature holds."""
    if not s.wechat_token:
        return _refuse_without_token()
    if not crypto.signature_matches(
        args.get("signature"), s.wechat_token, args.get("timestamp", ""), args.get("nonce", "")
    ):
        return _plain("bad signature", 403)
    if bounded_int(args.get("timestamp", ""), EARLIEST_TIME, LATEST_TIME, 12) is None:
        return _plain("timestamp is not a time", 400)
    return _plain(args.get("echostr", ""))


def receive_message(s: Settings, req: Request, session: Callable[[], Session]) -> Answer:
    """A message posted to ``/wechat`` (see the module's docstring). ``req`` is Flask's
    request or a bare Werkzeug one; ``session()`` opens the request's database session, once
    a message gets that far (its caller closes it)."""
    arrived = arrival.arrived_at(req.environ, s.trusted_proxies)
    if not s.wechat_token:
        return _refuse_without_token()
    args = req.args
    try:
        body = read_body(req)
        message, encrypted, aes_key = _verify_and_open(s, args, body)
    except BadRequest as exc:
        log.info("wechat request refused: %s %s", exc.status, exc.reason)
        return _plain(exc.reason, exc.status)
    if too_old(arrived):
        return _plain("success")
    incoming = to_incoming(message)
    reply = answer(s, incoming, key_of(message), arrived=arrived, session=session())
    return _render(s, message, reply, encrypted, aes_key, args.get("nonce", ""))


def too_old(arrived: float) -> bool:
    """Whether a request waited past WeChat's patience before a thread got to it (counted in the
    log): WeChat has closed this try, and whatever it would do is for a later try or message."""
    if time.time() - arrived <= STALE_SECONDS:
        return False
    _note_late("waited too long before a thread got to it")
    return True


def read_body(req: Request) -> bytes:
    """The body of ``req``, at most :data:`MAX_BODY_BYTES`; raises :class:`BadRequest`."""
    if req.content_length is not None and req.content_length > MAX_BODY_BYTES:
        raise BadRequest(413, "body too large")
    body = req.stream.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(413, "body too large")
    if not body.strip():
        raise BadRequest(400, "empty body")
    return body


def _verify_and_open(s: Settings, args, body: bytes) -> tuple[BaseMessage, bool, str | None]:
    """Signature, replay window, decryption and parsing; raises :class:`BadRequest`."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if len(nonce) > MAX_NONCE_CHARS:
        raise BadRequest(400, "nonce too long")
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    envelope = None
    if encrypted:
        try:
            envelope = crypto.envelope_encrypt_field(body)
        except crypto.MalformedEnvelope as exc:
            raise BadRequest(400, str(exc)) from None
        if not crypto.signature_matches(
            args.get("msg_signature"), s.wechat_token, timestamp, nonce, envelope
        ):
            raise BadRequest(403, "bad msg_signature")
        # WeChat sends the plain signature too; when present it must hold as well.
        if "signature" in args and not crypto.signature_matches(
            args.get("signature"), s.wechat_token, timestamp, nonce
        ):
            raise BadRequest(403, "bad signature")
    elif not crypto.signature_matches(args.get("signature"), s.wechat_token, timestamp, nonce):
        raise BadRequest(403, "bad signature")
    # Signed, but a signature proves nothing about sanity: parse with bounds before use.
    if bounded_int(timestamp, EARLIEST_TIME, LATEST_TIME, 12) is None:
        raise BadRequest(400, "timestamp is not a time")
    if not crypto.timestamp_fresh(timestamp, s.signature_max_age):
        raise BadRequest(403, "timestamp outside the allowed window")
    if not encrypted and s.wechat_aes_key and not s.wechat_allow_plaintext:
        # A plaintext body is not covered by the signature (one signed URL would carry any
        # body): with a key set, WeChat encrypts, so only encrypted messages are taken.
        raise BadRequest(403, "plaintext message refused: an EncodingAESKey is configured")

    aes_key = None
    if envelope is not None:
        if not (s.wechat_aes_key and s.wechat_appid):
            raise BadRequest(400, "encrypted message, but no EncodingAESKey/AppID configured")
        try:
            xml, aes_key = crypto.decrypt_with_keys(
                envelope, (s.wechat_aes_key, s.wechat_previous_aes_key), s.wechat_appid
            )
        except crypto.DecryptError as exc:
            raise BadRequest(400, str(exc)) from None
    else:
        xml = body
    return parse(xml), encrypted, aes_key


def parse(xml: bytes | str, parser=parse_message) -> BaseMessage:
    """``wechatpy.parse_message`` (or WeCom's, ``parser``) plus the checks it leaves out;
    raises :class:`BadRequest`."""
    try:
        message = parser(xml)
    except Exception as exc:  # expat errors, entity declarations, missing <xml> or MsgType
        raise BadRequest(400, f"not a WeChat message: {type(exc).__name__}") from None
    if message is None:
        raise BadRequest(400, "not a WeChat message")
    data = message._data
    if not isinstance(data, dict):
        raise BadRequest(400, "not a WeChat message")
    for field in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not isinstance(data.get(field), str) or not data[field].strip():
            raise BadRequest(400, f"message without {field}")
    if bounded_int(data["CreateTime"], EARLIEST_TIME, LATEST_TIME, 12) is None:
        raise BadRequest(400, "CreateTime is not a time")
    msg_id = data.get("MsgId")
    if msg_id is not None and bounded_int(msg_id, 0, 2**64 - 1, MSGID_MAX_DIGITS) is None:
        raise BadRequest(400, "MsgId is not a 64-bit number")
    for field in ("Event", "EventKey"):
        if field in data and not isinstance(data[field], str | None):
            raise BadRequest(400, f"{field} is not text")
    if len(data["FromUserName"]) > 64 or len(data["ToUserName"]) > 64:
        raise BadRequest(400, "user name too long")
    return message


def key_of(message: BaseMessage) -> str:
    """The dedup key of a parsed (and :func:`parse`-checked) message: its sender plus its
    identity (``MsgId``; for events ``CreateTime``, ``Event`` and ``EventKey``)."""
    data = message._data
    msg_id = data.get("MsgId")
    return dedup.message_key(
        data["FromUserName"].strip(),
        msg_id=int(msg_id) if msg_id is not None else None,
        create_time=int(data["CreateTime"]),
        event=data.get("Event"),
        event_key=data.get("EventKey"),
    )


def strip_invisible(text: str) -> str:
    """``text`` without zero-width and direction marks (Unicode format characters), which
    some keyboards and copy-paste leave inside words (帮\u200b助 must still be 帮助). A joiner
    between two symbols (emoji sequences) is kept."""
    if text.isascii():
        return text
    out = []
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cf":
            joins_symbols = (
                ch == "\u200d"
                and 0 < i < len(text) - 1
                and unicodedata.category(text[i - 1]) == "So"
                and unicodedata.category(text[i + 1]) == "So"
            )
            if not joins_symbols:
                continue
        out.append(ch)
    return "".join(out)


def event_name(data: dict) -> str:
    value = data.get("Event")
    return value.strip().lower() if isinstance(value, str) else ""


def to_incoming(message: BaseMessage) -> Incoming:
    """What the handlers see of a parsed message (:class:`bot.chat.context.Incoming`)."""
    data = message._data
    msg_type = str(data["MsgType"]).strip().lower()

    def field(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    text = ""
    if msg_type == "text":
        text = strip_invisible(field("Content") or "").strip()
    elif msg_type == "voice":
        text = strip_invisible(field("Recognition") or "").strip().rstrip(_VOICE_TRAILING).strip()
    # parse_message has already renamed a subscribe through a QR code to subscribe_scan.
    event = ((field("Event") or "").strip().lower() or None) if msg_type == "event" else None
    if msg_type.startswith("device_"):
        # Hardware pushes (device_event, device_text): events as wechatpy names them
        # (device_bind...), never something the user typed (issue 23).
        event = msg_type if msg_type == "device_text" else f"device_{event_name(data)}"
        msg_type = "event"
    # The school's clock decides 今天, log dates and the photo window (CreateTime is whatever
    # the sender wrote); CreateTime is kept only when it is plausible (answer-speed checks).
    received_at = utcnow()
    sent_at = dt.datetime.fromtimestamp(int(data["CreateTime"]), dt.UTC)
    if not received_at - SENT_AT_TRUSTED <= sent_at <= received_at:
        sent_at = received_at
    return Incoming(
        openid=data["FromUserName"].strip(),
        msg_type=msg_type,
        text=text,
        sent_at=sent_at,
        received_at=received_at,
        event=event,
        event_key=field("EventKey") if msg_type == "event" else None,
        media_id=field("MediaId"),
        pic_url=field("PicUrl"),
        menu_id=field("bizmsgmenuid"),  # issue 15.3: a tap on a menu message's line
    )


def answer(
    s: Settings,
    incoming: Incoming,
    key: str,
    arrived: float | None = None,
    channel: Channel | None = None,
    session: Session | None = None,
) -> str:
    """Handle a verified message exactly once; returns the reply text ("" = ``success``).

    ``arrived`` (Unix seconds, :func:`core.arrival.arrived_at`): when handling ends so late
    that WeChat has stopped waiting, a survey move is undone (the claim released, "" returned)
    and any other reply goes out as customer-service messages instead.
    ``channel``: how the sender is identified and reached (default the official account;
    ``/wecom`` passes its own, issue 25.5).
    ``session``: the request's database session (default Flask's, :func:`db`).
    """
    channel = channel or WECHAT
    if session is None:
        session = db()
    try:
        claim = dedup.claim(session, s, key)
    except Exception as exc:  # the database is unreachable: say so, store nothing
        _failed(exc, "claiming a message", key)
        _rollback(session)
        return texts.BUSY
    outage.ok("database")
    if not claim.owned:
        # A retry: the reply given the first time, or "success" while it is still being made.
        return claim.reply or ""
    try:
        lock_sender(session, incoming.openid)
    except LockTimeout:
        _release(session, s, claim)
        return texts.BUSY
    except Exception as exc:
        _failed(exc, "taking the sender lock", key)
        _release(session, s, claim)
        return texts.BUSY
    try:
        earlier, sender, state = channel.resolve(session, incoming.openid, key)
        if earlier is not None:
            # Handled before (a retry that took over the claim of a slow or dead holder, or
            # a claim that outlived its record): answer as the first time, handle nothing.
            session.rollback()
            first = dedup.readable(s, key, earlier)
        else:
            first = _handle(session, s, incoming, key, arrived, sender, state, channel)
    except _TooLate:
        _rollback(session)
        _release(session, s, claim)
        _note_late("a survey answer was ready too late; not stored, the claim released")
        return ""
    except Exception as exc:
        if outage.is_outage(exc):
            _failed(exc, "handling a message", key)
            _release(session, s, claim)
            return texts.BUSY
        log.exception("handling WeChat message %s failed", key)
        _release(session, s, claim)
        return texts.FAILED
    if s.redis_url and not claim.in_db:
        try:
            dedup.publish_reply(s, key, first)
            outage.ok("redis")
        except Exception as exc:  # the reply is committed in the database; Redis only
            _failed(exc, "publishing a reply", key)  # speeds up retries
    return first


def _failed(exc: BaseException, doing: str, key: str) -> None:
    """An outage (database, Redis) is logged once per outage; anything else with its traceback."""
    if outage.is_outage(exc):
        outage.failed(outage.dependency_of(exc), exc, doing)
    else:
        log.exception("%s failed for WeChat message %s", doing, key)


def _rollback(session) -> None:
    # The connection may be gone already; the pool replaces it.
    with contextlib.suppress(Exception):
        session.rollback()


# After the sender lock, in one round trip (issue 17): when the message's key was already
# handled, the reply stored then; who sent it; the sender's sealed survey draft and its round;
# the sender's customer-service allowance (issue 23). Parameters ``openid`` and ``key``. Always
# one row: the sender's openid is the row every lookup joins to. Read after the lock, so it
# sees whatever the sender's previous message committed.
_M = select(bindparam("openid", type_=String(64)).label("openid")).subquery("m")
_SENDER_STATE = select(
    dedup.HANDLED_REPLY.label("earlier"),
    *SENDER_COLUMNS,
    drafts.DRAFT_SEALED,
    *rounds.ROUND_STATE_COLUMNS,
    _CONTACTS.c.last_interaction_at,
    _CONTACTS.c.grant_kind,
    _CONTACTS.c.spent,
).select_from(_M)
_SENDER_STATE = join_sender(_SENDER_STATE, _M.c.openid)
_SENDER_STATE = rounds.join_round_state(
    drafts.join_draft(_SENDER_STATE, _M.c.openid), drafts.DRAFT_ROUND_ID
)
_SENDER_STATE = FastStatement(_SENDER_STATE.outerjoin(_CONTACTS, _CONTACTS.c.openid == _M.c.openid))


def _earlier_reply_and_sender(
    session, openid: str, key: str
) -> tuple[str | None, Sender, SenderState]:
    """The reply stored if ``key`` was already handled (else None), who sent it, and what the
    handlers would otherwise read of the sender one statement each."""
    row = _SENDER_STATE.first(session, {"openid": openid, "key": key})
    state = SenderState(
        draft_sealed=row.draft_sealed,
        draft_round=rounds.round_state_of(row),
        last_interaction_at=row.last_interaction_at,
        grant_kind=row.grant_kind,
        spent=row.spent or 0,
    )
    return row.earlier, sender_from_row(openid, row)[0], state


class _TooLate(Exception):
    """The survey dialogue moved on a message whose reply WeChat no longer waits for."""


_late_lock = threading.Lock()
_late_logged_at: float | None = None
_late_unlogged = 0


def _note_late(what: str) -> None:
    """A request too old to answer: one log line a minute with how many there were, not one a
    request (a stalled database makes hundreds)."""
    global _late_logged_at, _late_unlogged
    now = time.monotonic()
    with _late_lock:
        _late_unlogged += 1
        if _late_logged_at is not None and now - _late_logged_at < _LATE_LOG_EVERY:
            return
        _late_logged_at, count, _late_unlogged = now, _late_unlogged, 0
    log.warning(
        "WeChat request older than %.1f s since its arrival (%s); %d such request(s) since "
        "the last line",
        LATE_SECONDS,
        what,
        count,
    )


def _handle(
    session,
    s: Settings,
    incoming: Incoming,
    key: str,
    arrived: float | None,
    sender: Sender | None = None,
    state: SenderState | None = None,
    channel: Channel | None = None,
) -> str:
    """Dispatch, queue what does not fit in the reply, record the reply with the key, commit."""
    channel = channel or WECHAT
    if channel.records_interaction:
        state = _record_interaction(session, incoming, state)
    reply = channel.handle(session, s, incoming, sender, state) or ""
    # Issue 11: a reply quoting survey answers is sent, never stored as text (see dedup).
    quotes = dedup.quotes_answers(reply)
    sealed = s if quotes else None
    late = arrived is not None and time.time() - arrived > LATE_SECONDS
    if late and _survey_moved(session):
        # The student would never see where the dialogue went: it stays where they saw it.
        raise _TooLate
    if not (reply and channel.can_send(s)):
        budget = 0
    elif channel.records_interaction:
        # Issue 23: customer-service messages the sender's allowance still covers.
        budget = _budget(session, incoming, state)
    else:
        budget = MAX_MESSAGES_PER_REPLY  # WeCom counts no allowance
    if late and reply and budget > 0:
        log.warning("message %s took too long: reply sent as a customer-service message", key)
        for part in fit_messages(reply, min(MAX_MESSAGES_PER_REPLY, budget)):
            channel.queue_text(session, incoming.openid, part, sealed)
        first = ""
    else:
        # Late with nothing left to send it by: the passive reply, which a retry of WeChat's
        # may still carry.
        first = _queue_overflow(session, s, incoming.openid, reply, sealed, budget, channel)
    _survey_moved(session)  # forget the mark: one session per request, but say so
    dedup.record_reply(
        session, key, dedup.stored_form(s, key, dedup.quoting(first)) if quotes else first
    )
    session.commit()
    return dedup.quoting(first) if quotes else first


def _record_interaction(
    session, incoming: Incoming, state: SenderState | None
) -> SenderState | None:
    """Issue 23: a granting message or event restarts the sender's customer-service allowance
    (one upsert, none for WeChat's own pushes); returns ``state`` with the grant counted."""
    granted = window.record_interaction(session, incoming)
    if granted is None or state is None:
        return state
    kind, at = granted
    return replace(state, grant_kind=kind, last_interaction_at=at, spent=0)


def _release(session, s: Settings, claim: dedup.Claim) -> None:
    try:
        dedup.release(session, s, claim)
    except Exception as exc:  # the database or Redis is down: the claim expires by itself
        _rollback(session)
        _failed(exc, "releasing a claim", claim.key)


def _budget(session, incoming: Incoming, state: SenderState | None) -> int:
    """Customer-service messages the sender's allowance covers now (their grant counted)."""
    if state is not None:
        return state.allowance(window.clock()).remaining
    return window.current(session, incoming.openid).remaining


def _queue_overflow(
    session,
    s: Settings,
    openid: str,
    reply: str,
    sealed: Settings | None = None,
    budget: int = MAX_MESSAGES_PER_REPLY,
    channel: Channel | None = None,
) -> str:
    """The part of ``reply`` that goes in the passive reply; the rest is queued as
    customer-service messages when the account can send them and the sender's allowance covers
    them (at most ``budget``), else cut off."""
    channel = channel or WECHAT
    if not reply:
        return reply
    if not channel.can_send(s) or budget <= 0:
        return shorten(reply)
    parts = fit_messages(reply, 1 + min(MAX_MESSAGES_PER_REPLY - 1, budget))
    for part in parts[1:]:
        channel.queue_text(session, openid, part, sealed)
    return parts[0]


def _can_send(s: Settings) -> bool:
    return bool(s.wechat_appid and s.wechat_secret)


def _queue_text(session, openid: str, text: str, sealed: Settings | None = None) -> None:
    from core.outbox import queue_text  # imported late: the worker package imports models

    queue_text(session, openid, text, seal_with=sealed)


def _survey_moved(session) -> bool:
    from bot.chat.survey_dialogue import moved

    return moved(session)


# The official account: the sender is whoever the openid is bound to.
WECHAT = Channel(
    name="wechat",
    resolve=_earlier_reply_and_sender,
    handle=handle_incoming,
    can_send=_can_send,
    queue_text=_queue_text,
)


def _cdata_safe(text: str) -> str:
    # "]]>" would end the CDATA section wechatpy wraps the content in.
    return text.replace("]]>", "]]]]><![CDATA[>")


def _render(
    s: Settings,
    message: BaseMessage,
    reply: str,
    encrypted: bool,
    aes_key: str | None,
    nonce: str,
) -> Answer:
    if not reply:
        return _plain("success")
    xml = TextReply(message=message, content=_cdata_safe(reply)).render()
    if encrypted and aes_key and s.wechat_appid:
        xml = crypto.encrypt_reply(
            xml,
            token=s.wechat_token,
            encoding_aes_key=aes_key,
            appid=s.wechat_appid,
            nonce=nonce or crypto.random_nonce(),
        )
    return Answer(200, xml, "application/xml")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
