"""``绑定 <学号或工号> <绑定码>`` and ``解绑``: tying a WeChat account to a roster person.

A binding code is handed out by the counsellor (``banzhuren bind-codes``) and proves the WeChat
user is that student or teacher. Guessing is slowed down: after :data:`MAX_FAILURES` wrong tries
within :data:`WINDOW`, for one openid or for one 学号/工号, further tries are refused for
:data:`WINDOW` (failures are rows of ``binding_failures``, so every web process counts them).
A person already bound to another WeChat account is not taken over; that account must send
``解绑`` first (or the counsellor helps).

The parsing and the lock-out rule are pure functions (:func:`parse_bind`, :func:`locked_until`);
:func:`handle_bind`, :func:`handle_unbind` and :func:`lookup_sender` touch the database. The
binding itself (who may be bound to whom, the audit row) is :mod:`core.binding.service`, which
the campus login (``bot/bind/``) shares.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Sequence

from sqlalchemy import Select, bindparam, delete, func, select

from bot.chat.context import ChatContext, Sender
from bot.chat.help import BIND_HOWTO, ROLE_NAMES, help_for
from core.binding.service import Outcome, bind, find_person, unbind
from models.base import utcnow
from models.binding import BindingFailure, WeChatBinding
from models.org import Student, Teacher, TeacherRole

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)

BIND_EXAMPLE = "绑定 2023010101 123456"
_BIND = re.compile(r"^\s*绑定(?!码)[\s:：,，]*(?P<rest>.*)$", re.S)
UNBIND_WORDS = ("解绑", "解除绑定", "取消绑定")


class BindSyntaxError(ValueError):
    """A 绑定 command without exactly a number and a code; the message is the reply."""


def is_bind_command(text: str) -> bool:
    return bool(_BIND.match(text))


def is_unbind_command(text: str) -> bool:
    return text.strip() in UNBIND_WORDS


def parse_bind(text: str) -> tuple[str, str]:
    """``绑定 2023010101 123456`` → ("2023010101", "123456"). Any whitespace separates the
    parts, full-width spaces (U+3000) included; a colon after 绑定 is allowed."""
    match = _BIND.match(text)
    if not match:
        raise BindSyntaxError("不是绑定命令。")
    parts = match.group("rest").replace(",", " ").replace("，", " ").split()
    if len(parts) != 2:
        raise BindSyntaxError(
            "绑定的格式是「绑定 学号或工号 绑定码」，中间用空格隔开，例如：\n" + BIND_EXAMPLE
        )
    number, code = parts
    return number, code


def locked_until(failures: Sequence[dt.datetime], now: dt.datetime) -> dt.datetime | None:
    """When ``failures`` (times of wrong tries, any order) hold :data:`MAX_FAILURES` within
    :data:`WINDOW`, tries are refused until :data:`WINDOW` after the last of those; returns that
    time if it is still ahead of ``now``, else None."""
    times = sorted(failures)
    until: dt.datetime | None = None
    for i in range(len(times) - MAX_FAILURES + 1):
        last = times[i + MAX_FAILURES - 1]
        if last - times[i] <= WINDOW:
            candidate = last + WINDOW
            if until is None or candidate > until:
                until = candidate
    return until if until is not None and until > now else None


def codes_match(given: str, expected: str) -> bool:
    """Binding codes compared in constant time, ignoring case and surrounding spaces."""
    return hmac.compare_digest(
        given.strip().upper().encode("utf-8"), expected.strip().upper().encode("utf-8")
    )


# Who is bound to the openid given as the parameter ``openid``: a row (student_id, teacher_id,
# teacher_role, name), or no row when unbound. Built once: on every message, constructing the
# statement would cost more than running it. Callers may add columns to it (the webhook adds
# its dedup check, to read both in one round trip).
# Table columns, not ORM attributes: a Core select skips the ORM's result processing.
_BINDINGS, _STUDENTS, _TEACHERS = WeChatBinding.__table__, Student.__table__, Teacher.__table__
# The columns :func:`sender_from_row` reads, for a select that :func:`join_sender` joins.
SENDER_COLUMNS = (
    _BINDINGS.c.student_id,
    _BINDINGS.c.teacher_id,
    _TEACHERS.c.role.label("teacher_role"),
    func.coalesce(_STUDENTS.c.name, _TEACHERS.c.name).label("name"),
)


def join_sender(stmt: Select, openid) -> Select:
    """``stmt`` (selecting :data:`SENDER_COLUMNS`) outer-joined to the binding of the openid
    column ``openid`` and its person (the webhook reads the sender with other things)."""
    return (
        stmt.outerjoin(_BINDINGS, _BINDINGS.c.openid == openid)
        .outerjoin(_STUDENTS, _STUDENTS.c.id == _BINDINGS.c.student_id)
        .outerjoin(_TEACHERS, _TEACHERS.c.id == _BINDINGS.c.teacher_id)
    )


SENDER_QUERY: Select = (
    select(*SENDER_COLUMNS)
    .select_from(_BINDINGS)
    .outerjoin(_STUDENTS, _STUDENTS.c.id == _BINDINGS.c.student_id)
    .outerjoin(_TEACHERS, _TEACHERS.c.id == _BINDINGS.c.teacher_id)
    .where(_BINDINGS.c.openid == bindparam("openid"))
)


def sender_from_row(openid: str, row) -> tuple[Sender, str | None]:
    """The :class:`Sender` and name from a row of :data:`SENDER_QUERY` (None: unbound)."""
    if row is None or (row.student_id is None and row.teacher_id is None):
        return Sender(openid=openid), None
    if row.student_id is not None:
        role = "student"
    elif row.teacher_role == TeacherRole.COUNSELLOR:
        role = "counsellor"
    else:
        role = "head_teacher"
    sender = Sender(openid=openid, student_id=row.student_id, teacher_id=row.teacher_id, role=role)
    return sender, row.name


def lookup_sender(session, openid: str) -> tuple[Sender, str | None]:
    """The roster person bound to ``openid`` (a :class:`Sender` with role None when unbound),
    and that person's name."""
    return sender_from_row(openid, session.execute(SENDER_QUERY, {"openid": openid}).first())


def _recent_failures(session, column, value: str, since: dt.datetime) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(BindingFailure.at).where(column == value, BindingFailure.at >= since)
        )
    )


def handle_bind(ctx: ChatContext) -> str:
    """Reply to a 绑定 command (see the module docstring for the rules)."""
    session, openid = ctx.session, ctx.sender.openid
    if ctx.sender.role is not None:
        _sender, name = lookup_sender(session, openid)
        return (
            f"本微信已绑定为 {name}（{ROLE_NAMES[ctx.sender.role]}）。"
            "如需绑定其他身份，请先发送「解绑」。"
        )
    try:
        number, code = parse_bind(ctx.incoming.text)
    except BindSyntaxError as exc:
        return str(exc)

    now = utcnow()
    since = now - 2 * WINDOW
    for column, value in ((BindingFailure.openid, openid), (BindingFailure.person_no, number)):
        until = locked_until(_recent_failures(session, column, value, since), now)
        if until is not None:
            at = until.astimezone(ctx.settings.tz).strftime("%H:%M")
            return f"绑定码错误次数过多，请在 {at} 之后再试。如忘记绑定码，请联系辅导员。"

    person = find_person(session, number)
    if person is None or not codes_match(code, person.binding_code):
        session.add(BindingFailure(openid=openid, person_no=number[:32], at=now))
        session.flush()
        tries = _recent_failures(session, BindingFailure.openid, openid, now - WINDOW)
        left = MAX_FAILURES - len(tries)
        hint = f"还可以再试 {left} 次。" if left > 0 else "请 15 分钟后再试。"
        return (
            "学号/工号或绑定码不正确，未能绑定。" + hint + "\n"
            "请核对辅导员发放的绑定码，格式例如：\n" + BIND_EXAMPLE
        )

    result = bind(session, openid, person, via="code")
    if result.outcome == Outcome.PERSON_TAKEN:
        return (
            "该学号/工号已绑定其他微信账号，不能重复绑定。"
            "如需更换，请在原微信上发送「解绑」，或联系辅导员。"
        )
    if result.outcome == Outcome.OPENID_TAKEN:
        # Bound by the campus login a moment ago, between the check above and this one.
        return "本微信已绑定其他身份。如需绑定其他身份，请先发送「解绑」。"
    session.execute(delete(BindingFailure).where(BindingFailure.openid == openid))
    assert result.role is not None
    return f"绑定成功！你好，{person.name}（{ROLE_NAMES[result.role]}）。\n" + help_for(result.role)


def handle_unbind(ctx: ChatContext) -> str:
    """Reply to 解绑: removes the binding and this openid's dialogue states."""
    session, openid = ctx.session, ctx.sender.openid
    if unbind(session, openid) is None:
        return "本微信还没有绑定身份。\n" + BIND_HOWTO
    forget = getattr(ctx.store, "forget_openid", None)
    if forget is not None:
        forget(openid)
    session.flush()
    return (
        "已解除绑定。未提交的测评草稿已清除，已提交的内容不受影响。\n如需重新绑定：\n" + BIND_HOWTO
    )
