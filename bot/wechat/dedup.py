"""WeChat's retries answered once: claim a message's key before handling it, keep the reply.

WeChat resends a message it got no answer to within 5 s, and the retry may reach another web
process while the first is still working. The key (:func:`message_key`: a hash of the sender
and the message's identity, ``MsgId`` or for events ``CreateTime``, ``Event`` and ``EventKey``;
64 hex digits whatever the input) is claimed atomically before anything is handled:

- with Redis: ``SET key pending:<token> NX EX 4``; when Redis does not answer (down, stalled:
  a 1-second socket timeout), the database claim below is used instead, so the webhook keeps
  working through a Redis outage;
- without: ``INSERT`` into ``received_messages`` (its own short transaction), catching the
  unique violation.

The owner handles the message and :func:`record_reply` stores the reply with the key, in the
same transaction as whatever the handler stored, so "handled" and "its effects" commit together
(a retry finding ``done`` never runs the handler again; the primary key is the last guard). A
duplicate waits up to ~3 s (polling) for that reply and returns it, else the webhook answers
``success``. A handler error calls :func:`release`, so the retry can handle the message.

A claim is a lease of :data:`CLAIM_TTL` seconds, shorter than WeChat's 5 s between retries: a
retry after the holder died (a gunicorn worker killed mid-request) takes the claim over and
handles the message. Exactly once does not rest on the lease: the handler runs under the
per-sender lock and first checks whether the key is already ``done`` in the database (see
``bot.wechat.webhook.answer``), so a takeover while the holder is merely slow waits for its
commit and answers with its reply.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, replace

import redis
from sqlalchemy import ScalarSelect, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import begin_write
from core.fastsql import FastStatement
from core.redis_client import rkey
from core.settings import Settings
from core.surveys import seal as survey_seal
from core.surveys.seal_key import SealError
from models.base import utcnow
from models.messaging import ReceivedMessage

# Core statements on the table: the hot path needs no ORM objects for these rows.
_received = ReceivedMessage.__table__

# A claim older than this that never completed belongs to a process that died (or one that
# is still working, which the sender lock then waits for). Shorter than WeChat's 5 s between
# retries, so the first retry after a crash is handled.
CLAIM_TTL = 4
# Redis must answer the claim quickly: WeChat waits 5 s for the whole reply.
REDIS_TIMEOUT_S = 1.0
# How long Redis remembers a handled message's reply (WeChat retries within ~15 s); the
# received_messages row stays until purged (:func:`purge_received`).
DONE_TTL = 600
# Replies are kept this long in received_messages (see forget_replies), then blanked.
REPLY_KEPT = dt.timedelta(minutes=10)
WAIT_SECONDS = 3.0
POLL_SECONDS = 0.05

_RELEASE_IF_OURS = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


def message_key(
    from_user: str,
    msg_id: int | None = None,
    create_time: int | None = None,
    event: str | None = None,
    event_key: str | None = None,
    channel: str = "wechat",
) -> str:
    """The dedup key: SHA-256 of the sender plus the message's identity — ``MsgId`` when the
    message has one (text, image, voice...), else ``CreateTime``, ``Event`` and ``EventKey``
    (two events of one sender in one second differ by event or key). Sender included: two
    senders' colliding ``MsgId`` are two messages. 64 hex digits, whatever the input.
    ``channel`` other than the official account's (WeCom, issue 25.5) is part of the identity:
    a WeCom UserId equal to some openid never shares a key with it."""
    if msg_id:
        identity = ["msg", from_user, int(msg_id)]
    else:
        identity = ["event", from_user, create_time, (event or "").lower(), event_key or ""]
    if channel != "wechat":
        identity.insert(0, channel)
    raw = json.dumps(identity, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


_fast_clients: dict[str, redis.Redis] = {}


def _redis(settings: Settings) -> redis.Redis:
    """A client with a short timeout, for the request path (a stalled Redis must not hold
    the request past WeChat's 5 s)."""
    assert settings.redis_url
    client = _fast_clients.get(settings.redis_url)
    if client is None:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=REDIS_TIMEOUT_S,
            socket_connect_timeout=REDIS_TIMEOUT_S,
        )
        _fast_clients[settings.redis_url] = client
    return client


_thread = threading.local()


def _connection(settings: Settings) -> redis.Connection:
    """This thread's own connection to the fast client's server (created from its pool's
    settings, not taken from the pool: no lock, no bookkeeping per command)."""
    conns = getattr(_thread, "conns", None)
    if conns is None:
        conns = _thread.conns = {}
    conn = conns.get(settings.redis_url)
    if conn is None:
        pool = _redis(settings).connection_pool
        conn = conns[settings.redis_url] = pool.connection_class(**pool.connection_kwargs)
    return conn


def _pack(args: tuple[str | bytes | int, ...]) -> bytes:
    """``args`` in Redis's protocol (RESP), as redis-py's packer writes these types, in a third
    of its time (issue 26): a command name of one word, UTF-8 text, bytes, integers."""
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode("utf-8")
        elif isinstance(arg, int):
            arg = b"%d" % arg
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def _command(settings: Settings, *args):
    """One Redis command on this thread's connection, without the client's per-command layers
    (connection pool, argument wrappers, retry object, response callbacks: ~60 µs of the ~80 µs
    a ``set`` costs, twice a message; issue 17). The raw RESP reply: ``b"OK"``, bytes, an int
    or None. A connection found broken (Redis restarted since it was last used) is dropped and
    the command tried once more on a new one, as the client would; a timeout is not retried (a
    stalled Redis must not hold the request)."""
    conn = _connection(settings)
    packed = [_pack(args)]
    for attempt in (1, 2):
        try:
            conn.send_packed_command(packed)
            return conn.read_response()
        except redis.ConnectionError:
            conn.disconnect()
            if attempt == 2:
                raise
        except BaseException:
            conn.disconnect()
            raise
    raise AssertionError("unreachable")


# Issue 11: a reply that quotes a student's survey answers (flagged by the handler:
# bot.chat.survey_dialogue.QuotingReply has ``quotes_answers``) is stored, in received_messages
# and Redis, as this marker followed by the reply sealed with the survey seal key
# (core/surveys/seal.py): a retry gets the same reply (:func:`readable`), a copy of the database
# does not. Without the key a retry gets ``success``.
SEALED_MARKER = "sealed:"


def quotes_answers(reply: str) -> bool:
    return bool(getattr(reply, "quotes_answers", False))


def stored_form(settings: Settings, key: str, reply: str) -> str:
    """What may be stored for ``reply`` under ``key``: itself, or sealed when it quotes answers."""
    if not quotes_answers(reply) or not reply:
        return reply
    sealed = survey_seal.seal(settings, {"reply": str(reply)}, f"reply:{key}")
    return SEALED_MARKER + base64.b64encode(sealed).decode()


def readable(settings: Settings, key: str, stored: str | None) -> str | None:
    """The reply a stored value stands for (see :func:`stored_form`); "" when it cannot be
    unsealed."""
    if not stored or not stored.startswith(SEALED_MARKER):
        return stored
    try:
        sealed = base64.b64decode(stored[len(SEALED_MARKER) :])
        return survey_seal.unseal(settings, sealed, f"reply:{key}")["reply"]
    except (SealError, ValueError, KeyError):
        return ""


class _Quoting(str):
    quotes_answers = True


def quoting(reply: str) -> str:
    """``reply`` flagged as quoting answers (so :func:`publish_reply` stores the marker)."""
    return _Quoting(reply)


@dataclass(frozen=True)
class Claim:
    """``owned``: this request handles the message. Otherwise ``reply`` is the reply stored by
    whoever handled it ("" means ``success`` was answered), or None when it is not ready."""

    key: str
    owned: bool
    reply: str | None = None
    token: str | None = None
    # True when the claim was made in the database because Redis did not answer.
    in_db: bool = False


def claim(session: Session, settings: Settings, key: str, wait_s: float = WAIT_SECONDS) -> Claim:
    """Claim ``key``, or wait up to ``wait_s`` for the reply of whoever holds it.

    With Redis down or stalled the claim is made in the database instead (a concurrent
    duplicate claimed in Redis is then caught by the handled check under the sender lock)."""
    if settings.redis_url:
        from bot.wechat import outage

        try:
            c = _claim_redis(settings, key, wait_s)
        except redis.RedisError as exc:
            outage.failed("redis", exc, "claiming a message (falling back to the database)")
            c = _claim_db(session, key, wait_s)
        else:
            outage.ok("redis")
    else:
        c = _claim_db(session, key, wait_s)
    if c.reply:
        c = replace(c, reply=readable(settings, key, c.reply))
    return c


# The reply stored when the message whose key is the parameter ``key`` was already handled,
# else NULL. A column to add to a query run after the sender lock (the webhook reads it with
# the sender, in one round trip). Statements used on every message are built once.
HANDLED_REPLY: ScalarSelect = (
    select(func.coalesce(_received.c.reply, ""))
    .where(_received.c.key == bindparam("key"), _received.c.done.is_(True))
    .scalar_subquery()
)
_HANDLED_REPLY_QUERY = select(HANDLED_REPLY)


def handled_reply(session: Session, key: str) -> str | None:
    """Inside the handling transaction (after the sender lock): the stored reply when the
    message was already handled, else None."""
    return session.execute(_HANDLED_REPLY_QUERY, {"key": key}).scalar()


def _record_statement(insert):
    stmt = insert(_received).values(
        key=bindparam("key"),
        received_at=bindparam("received_at"),
        reply=bindparam("reply"),
        done=True,
    )
    return stmt.on_conflict_do_update(
        index_elements=[_received.c.key], set_={"reply": stmt.excluded.reply, "done": True}
    )


_RECORD = {
    "postgresql": FastStatement(_record_statement(pg_insert)),
    "sqlite": FastStatement(_record_statement(sqlite_insert)),
}


def stored_reply(reply: str) -> str:
    """What is kept of a reply for WeChat's retries (in received_messages and in Redis): the
    one place to change it (e.g. to keep a marker instead of a text quoting survey answers)."""
    return reply


def record_reply(session: Session, key: str, reply: str) -> None:
    """Store ``reply`` with ``key`` in the handling transaction ("" for ``success``).

    One statement whether or not the key has a row yet (with Redis it has none; without, the
    claim inserted it): an upsert on the primary key."""
    _RECORD[session.get_bind().dialect.name].execute(
        session, {"key": key, "received_at": utcnow(), "reply": stored_reply(reply)}
    )


def publish_reply(settings: Settings, key: str, reply: str) -> None:
    """After the commit: let duplicates waiting on Redis see the reply."""
    reply = stored_form(settings, key, reply)
    if settings.redis_url:
        _command(
            settings,
            "SET",
            rkey(settings, "wechat", "msg", key),
            json.dumps({"reply": stored_reply(reply)}),
            "EX",
            DONE_TTL,
        )


def release(session: Session, settings: Settings, c: Claim) -> None:
    """Give the claim up after a handling error, so a retry of the message is handled."""
    if session.in_transaction():
        session.rollback()
    if settings.redis_url and not c.in_db:
        _redis(settings).eval(
            _RELEASE_IF_OURS, 1, rkey(settings, "wechat", "msg", c.key), c.token or ""
        )
        return
    session.execute(
        delete(ReceivedMessage).where(ReceivedMessage.key == c.key, ReceivedMessage.done.is_(False))
    )
    session.commit()


def purge_received(session: Session, older_than: dt.timedelta = dt.timedelta(days=7)) -> int:
    """Delete dedup rows older than ``older_than`` (WeChat never retries after a minute);
    for the maintenance task. Returns the number deleted."""
    result = session.execute(
        delete(ReceivedMessage).where(ReceivedMessage.received_at < utcnow() - older_than)
    )
    return result.rowcount or 0


def forget_replies(session: Session, older_than: dt.timedelta = REPLY_KEPT) -> int:
    """Blank the stored replies of messages older than ``older_than`` (keeping the keys, so a
    very late retry is still not handled twice). A reply can quote what a student answered
    (the survey summary); it is needed only while WeChat may retry. For the maintenance task;
    returns the number of rows blanked."""
    result = session.execute(
        update(ReceivedMessage)
        .where(
            ReceivedMessage.received_at < utcnow() - older_than,
            ReceivedMessage.done.is_(True),
            ReceivedMessage.reply.is_not(None),
            ReceivedMessage.reply != "",
        )
        .values(reply="")
    )
    return result.rowcount or 0


def _claim_redis(settings: Settings, key: str, wait_s: float) -> Claim:
    name = rkey(settings, "wechat", "msg", key)
    token = "pending:" + secrets.token_hex(8)
    deadline = time.monotonic() + wait_s
    while True:
        if _command(settings, "SET", name, token, "NX", "EX", CLAIM_TTL) is not None:
            return Claim(key, owned=True, token=token)
        value = _command(settings, "GET", name)
        if value is not None and not value.startswith(b"pending:"):
            return Claim(key, owned=False, reply=json.loads(value)["reply"])
        # Pending elsewhere (or just released/expired: the next SET NX takes it).
        if time.monotonic() >= deadline:
            return Claim(key, owned=False)
        time.sleep(POLL_SECONDS)


def _claim_db(session: Session, key: str, wait_s: float) -> Claim:
    deadline = time.monotonic() + wait_s
    while True:
        if session.in_transaction():
            session.rollback()
        begin_write(session)
        try:
            session.add(ReceivedMessage(key=key, done=False))
            session.commit()
            return Claim(key, owned=True, in_db=True)
        except IntegrityError:
            session.rollback()
        row = session.execute(
            select(ReceivedMessage.done, ReceivedMessage.reply, ReceivedMessage.received_at).where(
                ReceivedMessage.key == key
            )
        ).first()
        session.rollback()  # end the read so the next poll sees new commits (SQLite WAL)
        if row is not None and row.done:
            return Claim(key, owned=False, reply=row.reply or "")
        cutoff = utcnow() - dt.timedelta(seconds=CLAIM_TTL)
        if row is not None and row.received_at < cutoff:
            # Only one taker wins: the update matches while the row is still stale.
            taken = session.execute(
                update(ReceivedMessage)
                .where(
                    ReceivedMessage.key == key,
                    ReceivedMessage.done.is_(False),
                    ReceivedMessage.received_at < cutoff,
                )
                .values(received_at=utcnow())
            )
            session.commit()
            if taken.rowcount == 1:
                return Claim(key, owned=True, in_db=True)
        # Pending elsewhere, or released after a handling error (the next INSERT takes it).
        if time.monotonic() >= deadline:
            return Claim(key, owned=False)
        time.sleep(POLL_SECONDS)
