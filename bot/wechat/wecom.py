"""``/wecom``: the callback of the school's WeCom (企业微信) self-built app, for staff (issue 25.5).

Head teachers and counsellors chat here as on the official account: the same grammar, dedup,
per-sender lock and guarantees, because the message goes through the same pipeline
(:func:`bot.wechat.webhook.answer`) with a :class:`bot.wechat.channel.Channel` of its own. What
differs:

- always encrypted (PROTOCOL.md, "WeCom"): ``GET ?msg_signature&timestamp&nonce&echostr`` checks
  the signature over echostr and answers echostr *decrypted*; ``POST`` bodies are safe-mode
  envelopes with the CorpID as receive id (``wechatpy.enterprise``);
- the sender is the teacher whose 工号 is the WeCom ``UserId`` (no binding); anyone else (students
  are not on WeCom) is told so; ``绑定``/``解绑`` are answered with why they are not needed;
- the sender's id inside the pipeline is ``wecom:<UserId>``: its dedup keys (with the channel in
  the hashed identity), dialogue state and lock never meet an openid's;
- overflow and late replies go out through WeCom's ``message/send`` (the outbox).

Refusals as on ``/wechat``, none touching the database: WeCom not configured → 503; body over
1 MiB → 413; bad ``msg_signature`` → 403; ``timestamp`` outside the replay window → 403; a body
that is not an envelope, does not decrypt with our key and CorpID, or is not a message with
sane numbers → 400.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

from flask import Blueprint, Flask, Response, request
from sqlalchemy import String, and_, bindparam, or_, select
from sqlalchemy.orm import Session
from wechatpy.enterprise import create_reply
from wechatpy.enterprise import parse_message as parse_wecom_message
from wechatpy.messages import BaseMessage

from bot.chat import help as texts
from bot.chat.binding import is_bind_command, is_unbind_command
from bot.chat.context import Incoming, Sender, SenderState
from bot.chat.router import SUBSCRIBE_EVENTS, handle_incoming
from bot.request_session import settings
from bot.wechat import dedup, webhook
from bot.wechat.channel import Channel
from bot.wechat.webhook import (
    EARLIEST_TIME,
    LATEST_TIME,
    MAX_NONCE_CHARS,
    BadRequest,
    bounded_int,
)
from core import arrival
from core.fastsql import FastStatement
from core.settings import Settings
from core.wechat.crypto import random_nonce
from core.wecom import SENDER_PREFIX, crypto
from models.org import Teacher, TeacherRole

log = logging.getLogger(__name__)

bp = Blueprint("wecom", __name__)

# The sender id of a WeCom user inside the pipeline (an openid never contains ':').
PREFIX = SENDER_PREFIX
MAX_ECHOSTR_CHARS = 1024
_NOT_CONFIGURED_LOG_EVERY = 60.0
_not_configured_logged_at: float | None = None

NOT_STAFF = (
    "企业微信应用只供兼职班主任和辅导员使用，你的企业微信账号不是名单中的教师工号。\n"
    "学生请关注学校的微信公众号，在公众号里参加测评；教师请联系学生处核对工号。"
)
NO_BINDING = (
    "在企业微信里无需绑定：系统按你的企业微信账号（工号）识别身份。发送「帮助」查看可以做什么。"
)


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _refuse_unconfigured() -> Response:
    global _not_configured_logged_at
    now = time.monotonic()
    if _not_configured_logged_at is None or now - _not_configured_logged_at > (
        _NOT_CONFIGURED_LOG_EVERY
    ):
        _not_configured_logged_at = now
        log.error("/wecom refuses every request: BANZHUREN_WECOM_CORP_ID etc. are not set")
    return _plain("wecom not configured", 503)


def _check_query(s: Settings, args, signed: str) -> None:
    """Nonce length, ``msg_signature`` over ``signed``, timestamp bounds and replay window."""
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if len(nonce) > MAX_NONCE_CHARS:
        raise BadRequest(400, "nonce too long")
    if not crypto.signature_matches(
        args.get("msg_signature"), s.wecom_token, timestamp, nonce, signed
    ):
        raise BadRequest(403, "bad msg_signature")
    if bounded_int(timestamp, EARLIEST_TIME, LATEST_TIME, 12) is None:
        raise BadRequest(400, "timestamp is not a time")
    if not crypto.timestamp_fresh(timestamp, s.signature_max_age):
        raise BadRequest(403, "timestamp outside the allowed window")


@bp.get("/wecom")
def verify_url() -> Response:
    """WeCom's URL check: the signature covers echostr; the answer is echostr decrypted."""
    s = settings()
    if not s.wecom:
        return _refuse_unconfigured()
    echostr = request.args.get("echostr", "")
    try:
        if not echostr or len(echostr) > MAX_ECHOSTR_CHARS:
            raise BadRequest(400, "echostr missing or too long")
        _check_query(s, request.args, echostr)
        plain = crypto.decrypt(echostr, s.wecom_aes_key, s.wecom_corp_id)
    except BadRequest as exc:
        return _plain(exc.reason, exc.status)
    except crypto.DecryptError as exc:
        return _plain(str(exc), 400)
    return _plain(plain)


@bp.post("/wecom")
def receive() -> Response:
    s = settings()
    arrived = arrival.arrived_at(request.environ, s.trusted_proxies)
    if not s.wecom:
        return _refuse_unconfigured()
    try:
        body = webhook.read_body(request)
        message = _verify_and_open(s, request.args, body)
    except BadRequest as exc:
        log.info("wecom request refused: %s %s", exc.status, exc.reason)
        return _plain(exc.reason, exc.status)
    if webhook.too_old(arrived):  # WeCom, too, has closed this try (issue 22)
        return _plain("")
    userid = message._data["FromUserName"].strip()
    incoming = replace(webhook.to_incoming(message), openid=PREFIX + userid)
    reply = webhook.answer(s, incoming, key_of(message), arrived=arrived, channel=WECOM)
    return _render(s, message, reply, request.args.get("nonce", ""))


def _verify_and_open(s: Settings, args, body: bytes) -> BaseMessage:
    try:
        envelope = crypto.envelope_encrypt_field(body)
    except crypto.MalformedEnvelope as exc:
        raise BadRequest(400, str(exc)) from None
    _check_query(s, args, envelope)
    try:
        xml = crypto.decrypt(envelope, s.wecom_aes_key, s.wecom_corp_id)
    except crypto.DecryptError as exc:
        raise BadRequest(400, str(exc)) from None
    return webhook.parse(xml, parser=parse_wecom_message)


def key_of(message: BaseMessage) -> str:
    """The dedup key, as the official account's (:func:`bot.wechat.webhook.key_of`) with the
    channel in the identity."""
    data = message._data
    msg_id = data.get("MsgId")
    return dedup.message_key(
        PREFIX + data["FromUserName"].strip(),
        msg_id=int(msg_id) if msg_id is not None else None,
        create_time=int(data["CreateTime"]),
        event=data.get("Event"),
        event_key=data.get("EventKey"),
        channel="wecom",
    )


def _render(s: Settings, message: BaseMessage, reply: str, nonce: str) -> Response:
    if not reply:
        return _plain("")  # WeCom: an empty 200 means "no reply"
    xml = create_reply(webhook._cdata_safe(reply), message).render()
    envelope = crypto.encrypt_reply(
        xml,
        token=s.wecom_token,
        encoding_aes_key=s.wecom_aes_key,
        corp_id=s.wecom_corp_id,
        nonce=nonce or random_nonce(),
    )
    return Response(envelope, mimetype="application/xml")


# --- the channel ------------------------------------------------------------------------------

_TEACHERS = Teacher.__table__
_U = select(bindparam("userid", type_=String(64)).label("userid")).subquery("u")
# After the sender lock, one round trip: the reply stored if the message was handled already,
# and the teacher whose WeCom account (roster column wecom_userid) or, without one, whose 工号
# is the UserId (none: not staff). The roster import keeps the two from naming two teachers;
# should they anyway, the explicit account wins.
_STAFF_STATE = FastStatement(
    select(
        dedup.HANDLED_REPLY.label("earlier"),
        _TEACHERS.c.id.label("teacher_id"),
        _TEACHERS.c.role.label("teacher_role"),
    )
    .select_from(_U)
    .outerjoin(
        _TEACHERS,
        or_(
            _TEACHERS.c.wecom_userid == _U.c.userid,
            and_(_TEACHERS.c.wecom_userid.is_(None), _TEACHERS.c.staff_no == _U.c.userid),
        ),
    )
    .order_by(_TEACHERS.c.wecom_userid.is_(None))
    .limit(1)
)


def userid_of(sender_id: str) -> str:
    return sender_id[len(PREFIX) :] if sender_id.startswith(PREFIX) else sender_id


def _resolve(session: Session, sender_id: str, key: str) -> tuple[str | None, Sender, SenderState]:
    row = _STAFF_STATE.first(session, {"userid": userid_of(sender_id), "key": key})
    if row is None or row.teacher_id is None:
        return (row.earlier if row else None), Sender(openid=sender_id), SenderState()
    role = "counsellor" if row.teacher_role == TeacherRole.COUNSELLOR else "head_teacher"
    sender = Sender(openid=sender_id, teacher_id=row.teacher_id, role=role)
    return row.earlier, sender, SenderState()


def _handle(
    session: Session,
    s: Settings,
    incoming: Incoming,
    sender: Sender,
    state: SenderState | None,
) -> str | None:
    is_event = incoming.msg_type == "event"
    if sender.role is None:
        # Students and strangers: said once per message, not on every opening of the app.
        return None if is_event and incoming.event not in SUBSCRIBE_EVENTS else NOT_STAFF
    if is_event:
        if incoming.event in SUBSCRIBE_EVENTS:
            name = session.scalar(select(Teacher.name).where(Teacher.id == sender.teacher_id))
            return texts.welcome(sender.role, name)
        if incoming.event != "click":
            return None  # enter_agent (the app opened), view, location reports...
    elif is_bind_command(incoming.text) or is_unbind_command(incoming.text):
        return NO_BINDING
    return handle_incoming(session, s, incoming, sender, state)


def _can_send(s: Settings) -> bool:
    return s.wecom


def _queue_text(session: Session, sender_id: str, text: str, _sealed: Settings | None) -> None:
    # Replies on WeCom never quote survey answers (students are not here): nothing to seal.
    from core.outbox import queue_text

    queue_text(session, "", text, wecom_user=userid_of(sender_id))


WECOM = Channel(
    name="wecom",
    resolve=_resolve,
    handle=_handle,
    can_send=_can_send,
    queue_text=_queue_text,
    records_interaction=False,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
