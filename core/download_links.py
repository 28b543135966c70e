"""One-time links sent in chat (issue 25): ``日志本`` answers with a link to the .docx of the
current 聘期's 工作日志本.

A link is a random token (32 bytes, URL-safe) of which only the SHA-256 is stored, for one
teacher and the WeChat account that asked, valid 24 hours and used once: the first download
marks it used in the same statement that checks it (two downloads at once cannot both win),
and a failure while making the document rolls the mark back. It dies early when that account
is no longer bound to the teacher. Making and using a link are audited (actor
``wechat:<工号>``); a guessed or spent token changes nothing and tells nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from core import audit
from core.documents.logbook import NoPeriod, Period, logbook_spec, period_starting
from core.documents.records import DocumentSpec, Letterhead
from core.settings import Settings
from core.wecom import SENDER_PREFIX as WECOM_SENDER_PREFIX
from models import ChatLink, Teacher, WeChatBinding

LIFETIME = dt.timedelta(hours=24)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{43}$")
LOGBOOK = "logbook"

NO_PUBLIC_URL = (
    "暂时无法生成下载链接：系统还没有设置对外访问地址（BANZHUREN_PUBLIC_URL）。"
    "请联系所在党总支，在管理后台的教师页面下载您的工作日志本。"
)
NO_PERIOD = "您还没有聘期（兼职班主任聘任从开始之日起才有工作日志本）。如有疑问请联系党总支。"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def create_link(
    session: Session,
    teacher_id: int,
    openid: str,
    kind: str,
    now: dt.datetime,
    period: Period | None = None,
    lifetime: dt.timedelta = LIFETIME,
) -> str:
    """Store a new link and return its token (shown once, never stored)."""
    token = new_token()
    session.add(
        ChatLink(
            token_hash=token_hash(token),
            kind=kind,
            teacher_id=teacher_id,
            openid=openid,
            period_start=period.start if period else None,
            period_end=period.end if period else None,
            expires_at=now + lifetime,
        )
    )
    return token


def _actor(session: Session, teacher_id: int) -> str:
    staff_no = session.scalar(select(Teacher.staff_no).where(Teacher.id == teacher_id))
    return f"wechat:{staff_no}"


def logbook_reply(
    session: Session, settings: Settings, teacher_id: int, openid: str, now: dt.datetime
) -> str:
    """The chat reply to ``日志本``: a link to the current 聘期's 日志本, or why there is none."""
    if not settings.public_url:
        return NO_PUBLIC_URL
    today = now.astimezone(settings.tz).date()
    try:
        period = period_starting(session, teacher_id, None, today)
    except NoPeriod:
        return NO_PERIOD
    token = create_link(session, teacher_id, openid, LOGBOOK, now, period)
    audit.record(
        session,
        _actor(session, teacher_id),
        "logbook.link",
        _actor(session, teacher_id).split(":", 1)[1],
        period_start=period.start,
        period_end=period.end,
        expires_at=now + LIFETIME,
    )
    expires = (now + LIFETIME).astimezone(settings.tz)
    return (
        f"您本聘期（{period.label()}）的工作日志本：\n"
        f"{settings.public_url}/d/{token}\n"
        f"链接只能下载一次，{expires:%m月%d日 %H:%M}前有效，请勿转发。"
        "在微信中打不开时，请点右上角“…”选择“在浏览器打开”。"
    )


@dataclass(frozen=True)
class Download:
    spec: DocumentSpec

    @property
    def filename(self) -> str:
        return self.spec.filename

    def render(self) -> bytes:
        return self.spec.render()


def _valid(now: dt.datetime):
    """The condition of a link still usable at ``now``: unused, unexpired, and its account
    still bound to its teacher."""
    still_bound = (
        select(WeChatBinding.id)
        .where(
            WeChatBinding.openid == ChatLink.openid,
            WeChatBinding.teacher_id == ChatLink.teacher_id,
        )
        .exists()
    )
    # Asked through WeCom (issue 25.5): the sender is ``wecom:<UserId>``, which has no binding;
    # the link holds while that UserId still names its teacher (as the roster says today).
    userid = func.substr(ChatLink.openid, len(WECOM_SENDER_PREFIX) + 1)
    still_on_wecom = (
        select(Teacher.id)
        .where(
            Teacher.id == ChatLink.teacher_id,
            ChatLink.openid.startswith(WECOM_SENDER_PREFIX),
            or_(
                Teacher.wecom_userid == userid,
                and_(Teacher.wecom_userid.is_(None), Teacher.staff_no == userid),
            ),
        )
        .exists()
    )
    return (
        ChatLink.used_at.is_(None),
        ChatLink.expires_at > now,
        or_(still_bound, still_on_wecom),
    )


def peek(session: Session, token: str, kind: str, now: dt.datetime) -> ChatLink | None:
    """The link of ``token`` when it is usable, without using it (a HEAD request, the form
    before it is sent)."""
    if not TOKEN_SHAPE.match(token or ""):
        return None
    return session.scalar(
        select(ChatLink).where(
            ChatLink.token_hash == token_hash(token), ChatLink.kind == kind, *_valid(now)
        )
    )


def use(
    session: Session, token: str, kind: str, now: dt.datetime, address: str = ""
) -> ChatLink | None:
    """Mark the link of ``token`` used and return it; None when it is unknown, spent, expired,
    of another kind or its account unbound. The caller commits (or rolls back, which leaves
    the link unused)."""
    if not TOKEN_SHAPE.match(token or ""):
        return None
    hashed = token_hash(token)
    result = session.execute(
        update(ChatLink)
        .where(ChatLink.token_hash == hashed, ChatLink.kind == kind, *_valid(now))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    link = session.scalar(select(ChatLink).where(ChatLink.token_hash == hashed))
    audit.record(
        session,
        _actor(session, link.teacher_id),
        f"{kind}.link_used",
        _actor(session, link.teacher_id).split(":", 1)[1],
        link_id=link.id,
        address=address,
    )
    return link


def logbook_download(
    session: Session, token: str, now: dt.datetime, settings: Settings, address: str = ""
) -> Download | None:
    """Use a 日志本 link: the document of its teacher's 聘期 as it stands now, or None."""
    link = use(session, token, LOGBOOK, now, address)
    if link is None:
        return None
    today = now.astimezone(settings.tz).date()
    teacher = session.get(Teacher, link.teacher_id)
    try:
        period = period_starting(session, link.teacher_id, link.period_start, today)
    except NoPeriod:
        # The appointment was withdrawn since: the link's own days, with no appointment.
        period = Period(link.period_start, link.period_end, ())
    return Download(logbook_spec(session, teacher, period, today, Letterhead.of(settings)))
