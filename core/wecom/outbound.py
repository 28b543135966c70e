"""Messages to staff through WeCom when they are reachable there (issue 25.5).

The outbox (:mod:`core.outbox`) asks :func:`recipient` when it queues a text for a teacher
(a 反馈 for a counsellor, a reminder, a published result): with WeCom configured, the row carries
the teacher's WeCom UserId (their 工号) besides the openid they may have bound. When the row is
sent, :func:`send` tries WeCom first; a user WeCom does not know (``invaliduser``) or a refusal
that will not go away (the app not allowed to reach that user, a revoked secret...) makes the
outbox fall back to the official account, which is the only channel a person without WeCom has.
A busy WeCom (-1), its frequency limit or the network are raised, so the outbox retries later
as it does the official account's.
"""

from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wechatpy.exceptions import WeChatClientException

from core.settings import Settings
from core.wechat.api import scrub
from core.wecom.api import WeComApi
from models.org import Teacher

log = logging.getLogger(__name__)

# Retried later instead of falling back: WeCom busy (-1), HTTP-level failure (None), too many
# calls (45009 API frequency, 45033 concurrency).
TRANSIENT = frozenset({-1, None, 45009, 45033})
NOT_IN_WECOM = "企业微信通讯录中没有此人"


def recipient(session: Session, settings: Settings, teacher_id: int) -> str | None:
    """The WeCom UserId a message to teacher ``teacher_id`` goes to (their roster
    ``wecom_userid``, else their 工号), None without WeCom."""
    if not settings.wecom:
        return None
    return session.scalar(
        select(func.coalesce(Teacher.wecom_userid, Teacher.staff_no)).where(
            Teacher.id == teacher_id
        )
    )


def send(settings: Settings, userid: str, content: str, api=None) -> str | None:
    """Send one text to ``userid`` on WeCom: None when delivered, else why it did not reach
    them there (the caller then uses the official account). Raises WeChatClientException for
    transient refusals and requests' errors for the network."""
    try:
        invalid = (api or WeComApi(settings)).send_text(userid, content)
    except WeChatClientException as exc:
        if exc.errcode in TRANSIENT:
            raise
        reason = scrub(f"企业微信拒收（errcode {exc.errcode}: {exc.errmsg}）")
        log.warning("WeCom refused a message, trying the official account: %s", reason)
        return reason
    except RuntimeError as exc:  # WeCom configured when queued, no longer when sent
        return str(exc)
    if userid in invalid:
        log.info("user not in WeCom's address book: trying the official account")
        return NOT_IN_WECOM
    return None
