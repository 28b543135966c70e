"""The counsellor's side of the chat (issue 25): answering the 反馈 the head teachers send.

``收到`` acknowledges the latest unacknowledged 反馈, ``收到 12 备注`` number 12 with a note,
``跟进 12 内容`` adds a follow-up; ``反馈`` (or ``待确认``) lists those still waiting. The rules
(who may answer which, the teacher told) are core.worklog.feedback_replies'.
"""

from __future__ import annotations

import re

from bot.chat.context import ChatContext
from core.worklog import feedback_replies as replies
from core.worklog.dates import format_day
from core.worklog.parser import to_halfwidth

ACK = re.compile(r"^收到(?:\s*#?\s*(\d+))?(?:\s+(.*))?$", re.S)
FOLLOW = re.compile(r"^跟进(?:\s*#?\s*(\d+))?(?:\s+(.*))?$", re.S)
LIST_WORDS = {"反馈", "待确认", "待办", "我的反馈", "待确认反馈"}
# 收到了 / 收到！ are a plain 收到.
ACK_ALONE = {"收到", "收到了", "已收到", "好的收到"}


def handle(ctx: ChatContext) -> str | None:
    """Answer a counsellor's message; None when it is none of the commands (→ help)."""
    counsellor_id = ctx.sender.teacher_id
    if counsellor_id is None or ctx.incoming.msg_type not in ("text", "voice"):
        return None
    original = ctx.incoming.text.strip()
    # Matched half-width (one character for one), the note kept as written (full-width ，).
    text = to_halfwidth(original)
    word = text.strip(" 。.!！~～")
    if word in LIST_WORDS:
        return _list(ctx, counsellor_id)
    try:
        if word in ACK_ALONE:
            return _acknowledged(
                ctx, replies.acknowledge(ctx.session, counsellor_id, None, None, ctx.incoming.now)
            )
        match = ACK.match(text)
        if match:
            number = match.group(1)
            note = original[match.start(2) :] if match.group(2) is not None else None
            if number is None and not (note or "").strip():
                return None
            answer = replies.acknowledge(
                ctx.session, counsellor_id, int(number) if number else None, note, ctx.incoming.now
            )
            return _acknowledged(ctx, answer)
        match = FOLLOW.match(text)
        if match:
            number = match.group(1)
            content = original[match.start(2) :] if match.group(2) is not None else None
            if number is None:
                return f"请写上反馈编号和跟进内容，例如：{replies.EXAMPLE_FOLLOW}"
            answer = replies.follow_up(
                ctx.session, counsellor_id, int(number), content, ctx.incoming.now
            )
            fb = answer.feedback
            return f"已记录对反馈 #{fb.id}（{fb.student.name}）的跟进，已告知班主任{fb.entry.teacher.name}。"
    except replies.FeedbackReplyError as exc:
        return str(exc)
    return None


def _acknowledged(ctx: ChatContext, answer: replies.Answer) -> str:
    fb = answer.feedback
    who = f"反馈 #{fb.id}（班主任{fb.entry.teacher.name}，关于{fb.student.name}）"
    if not answer.first and not fb.counsellor_note:
        return f"{who}此前已确认收到。"
    note = f"，备注：{fb.counsellor_note}" if fb.counsellor_note else ""
    verb = "已确认收到" if answer.first else "已更新备注"
    return f"{verb}{who}{note}。已告知班主任。"


def _list(ctx: ChatContext, counsellor_id: int) -> str:
    rows = replies.unacknowledged_for(ctx.session, counsellor_id)
    if not rows:
        return "没有待确认的反馈。"
    lines = ["待确认的反馈（最新在前）："]
    for fb in rows:
        day = format_day(fb.entry.occurred_on, ctx.today)
        lines.append(f"#{fb.id} {day} {fb.entry.teacher.name}：{fb.student.name} {fb.text[:30]}")
    lines.append(f"回复「收到」确认最新一条，或「{replies.EXAMPLE_ACK}」。")
    return "\n".join(lines)
