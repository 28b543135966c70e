"""The head teacher's side of the chat: log entries, 撤销, 我的日志, 统计, photos.

``handle(ctx)`` is called by the router (bot/chat/router.py) for every text, voice and image
message from a bound head teacher. It answers with exactly what it stored, asks when a name is
ambiguous or unknown (the pending entry waits in the DialogueStore under
``worklog:<openid>``), and refuses what it cannot read with the reason and an example.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select

from bot.chat.context import ChatContext
from core import applications, download_links
from core.worklog import counts, feedback_replies, record, result
from core.worklog.dates import format_day
from core.worklog.feedback import forward_after_commit, undelivered_feedback
from core.worklog.parser import EXAMPLE, ParsedEntry, ParseError, parse_entry, to_halfwidth
from core.worklog.requirements import requirements_for
from core.worklog.teachers import TeacherInfo, load_teacher
from models import LogKind, StudentFeedback

PENDING_TTL = 30 * 60
RECENT = 10
MY_FEEDBACK_SHOWN = 15

UNDO_WORDS = {"撤销", "撤回", "撤销上一条", "删除上一条"}
MY_LOGS_WORDS = {"我的日志", "日志", "我的记录", "查看日志", "最近日志"}
STATS_WORDS = {"统计", "本月统计", "我的统计", "日志统计"}
LOGBOOK_WORDS = {"日志本", "工作日志本", "下载日志本"}
APPLY_WORDS = {"申请", "网上申请", "我要申请", "申请班主任"}
MY_FEEDBACK_WORDS = {"我的反馈", "反馈情况", "查看反馈"}
CANCEL_WORDS = {"取消", "算了", "不记了"}
CONFIRM_WORDS = {"确认", "确定", "是", "是的", "对", "1"}
# Not a log attempt: the router answers these with the role's help.
CHITCHAT = {"你好", "您好", "hi", "hello", "谢谢", "好的", "好", "ok", "嗯", "在吗", "收到", "?"}

CANCELLED = "上一条待确认的日志已取消，没有记录。"


def _key(openid: str) -> str:
    return f"worklog:{openid}"


def _word(text: str) -> str:
    return to_halfwidth(text).strip().strip(" 。.!！?？~～").lower()


def handle(ctx: ChatContext) -> str | None:
    """Answer a head teacher's message; None when it is clearly not for the work log."""
    teacher_id = ctx.sender.teacher_id
    if teacher_id is None:
        return None
    inc = ctx.incoming
    if inc.msg_type == "image":
        return _image(ctx, teacher_id)
    if inc.msg_type not in ("text", "voice"):
        return None
    text = inc.text.strip()
    word = _word(text)

    prefix = ""
    pending = ctx.store.get(_key(inc.openid))
    if pending is not None:
        if word in CANCEL_WORDS or word in UNDO_WORDS:
            ctx.store.delete(_key(inc.openid))
            return "好的，待确认的日志已取消，没有记录。"
        reply = _answer_pending(ctx, teacher_id, pending, word)
        if reply is not None:
            return reply
        # A wrong number or a short "不" answers the question; anything longer is a new
        # message, handled after saying that the pending one was dropped.
        commands = (
            MY_LOGS_WORDS
            | STATS_WORDS
            | MY_FEEDBACK_WORDS
            | LOGBOOK_WORDS
            | APPLY_WORDS
            | result.RESULT_WORDS
        )
        if word not in commands and (word.isdigit() or len(word) <= 2):
            return CANCELLED
        prefix = CANCELLED + "\n"

    if not word:
        if inc.msg_type == "voice":
            return prefix + f"没有识别出语音内容，请再说一遍，或直接打字，例如：{EXAMPLE}"
        return prefix.strip() or None
    if word in UNDO_WORDS:
        return prefix + _undo(ctx, teacher_id)
    if word in MY_LOGS_WORDS:
        return prefix + _my_logs(ctx, teacher_id)
    if word in STATS_WORDS:
        return prefix + _stats(ctx, teacher_id)
    if word in MY_FEEDBACK_WORDS:
        return prefix + _my_feedback(ctx, teacher_id)
    if word in APPLY_WORDS:
        # Issue 25.2: in the application months, a link to the online 业务审批表.
        return prefix + applications.apply_reply(
            ctx.session, ctx.settings, teacher_id, inc.openid, inc.now
        )
    if word in LOGBOOK_WORDS:
        # Issue 25.3: a one-time link (24 hours) to the current 聘期's 工作日志本.
        return prefix + download_links.logbook_reply(
            ctx.session, ctx.settings, teacher_id, inc.openid, inc.now
        )
    if word in result.RESULT_WORDS:
        # The teacher's own published term result (core/worklog/result.py).
        return prefix + result.reply(
            ctx.session,
            teacher_id,
            ctx.settings.min_respondents,
            ctx.settings.min_participation,
        )
    if word in CANCEL_WORDS:
        return prefix.strip() or "没有待确认的日志。"
    if not prefix and (word.isdigit() or word in CONFIRM_WORDS):
        # An answer to a question that is no longer open (expired after 30 minutes).
        return "没有待确认的日志（问题超过30分钟会失效），请重新发送那条日志。"
    if word in CHITCHAT:
        return prefix.strip() or None
    return prefix + _log(ctx, teacher_id, text)


# --- log entries -------------------------------------------------------------------------


def _teacher(ctx: ChatContext, teacher_id: int) -> TeacherInfo | str:
    info = load_teacher(ctx.session, teacher_id)
    if info is None or not info.appointments:
        return "您目前没有在任的兼职班主任聘任，不能记录工作日志。如有疑问请联系党总支。"
    earliest = info.earliest
    if earliest is not None and earliest > ctx.today:
        return (
            f"您的聘任从{earliest.year}年{earliest.month}月{earliest.day}日开始，"
            "从那天起才能记录工作日志。"
        )
    return info


def _log(ctx: ChatContext, teacher_id: int, text: str) -> str:
    info = _teacher(ctx, teacher_id)
    if isinstance(info, str):
        return info
    parsed = parse_entry(
        text, today=ctx.today, earliest=info.earliest, known_names=info.roster.names
    )
    if isinstance(parsed, ParseError):
        return parsed.reply()
    state: dict[str, Any] = {
        "entry": {
            "kind": parsed.kind.value,
            "kind_word": parsed.kind_word,
            "date": parsed.date.isoformat(),
            "names": list(parsed.names),
            "place": parsed.place,
            "text": parsed.text,
            "unknown_name": parsed.unknown_name,
        },
        "raw": text,
        "source": ctx.incoming.msg_type,
        "chosen": {},
        "confirmed": False,
    }
    return _proceed(ctx, info, state)


def _entry_of(state: dict[str, Any]) -> ParsedEntry:
    e = state["entry"]
    return ParsedEntry(
        kind=LogKind(e["kind"]),
        kind_word=e["kind_word"],
        date=dt.date.fromisoformat(e["date"]),
        names=tuple(e["names"]),
        place=e["place"],
        text=e["text"],
        unknown_name=e["unknown_name"],
    )


def _proceed(ctx: ChatContext, info: TeacherInfo, state: dict[str, Any]) -> str:
    """Ask the next question about a parsed entry, or store it when nothing is left to ask."""
    key = _key(ctx.incoming.openid)
    entry = _entry_of(state)
    if entry.unknown_name and not state["confirmed"]:
        state["stage"] = "confirm"
        ctx.store.set(key, state, PENDING_TTL)
        u = entry.unknown_name
        return (
            f"“{u}”不是您所带班级的学生，这条日志还没有记录。\n"
            f"如果名字写错了，请改正后重新发送；如果“{u}”不是学生姓名，回复“确认”按原文记录"
            "（回复其他内容取消）。"
        )
    for name in entry.names:
        if name in state["chosen"]:
            continue
        candidates = info.roster.by_name.get(name, [])
        if len(candidates) == 1:
            state["chosen"][name] = candidates[0].id
            continue
        if not candidates:  # the roster changed while the question was open
            ctx.store.delete(key)
            return f"没有记录：“{name}”已不在您所带班级的名单中，请重新发送。"
        state["stage"] = "choose"
        state["choosing"] = name
        state["options"] = [c.id for c in candidates]
        ctx.store.set(key, state, PENDING_TTL)
        lines = [f"您的学生中有{len(candidates)}位叫{name}，请回复序号选择是哪一位："]
        for i, c in enumerate(candidates, 1):
            classes = "、".join(
                dict.fromkeys(s.class_name for s in info.roster.students if s.id == c.id)
            )
            lines.append(f"{i}. {c.name}（{classes}，学号{c.student_no}）")
        lines.append("回复其他内容将取消这条日志。")
        return "\n".join(lines)

    ctx.store.delete(key)
    ids = [state["chosen"][n] for n in entry.names]
    saved = record.save_entry(
        ctx.session,
        info,
        entry,
        ids,
        raw=state["raw"],
        source=state["source"],
        today=ctx.today,
    )
    if saved.feedback_ids:
        forward_after_commit(ctx.session, saved.feedback_ids)
    reply = "已记录：" + record.describe(saved.entry, ctx.today)
    if saved.notes:
        reply += "\n" + "\n".join(saved.notes)
    return reply


def _answer_pending(
    ctx: ChatContext, teacher_id: int, state: dict[str, Any], word: str
) -> str | None:
    """Go on with a pending entry; None when the answer is not one (the entry is dropped)."""
    key = _key(ctx.incoming.openid)
    stage = state.get("stage")
    if stage == "confirm" and word in CONFIRM_WORDS:
        state["confirmed"] = True
    elif stage == "choose" and word.isdigit() and 1 <= int(word) <= len(state["options"]):
        state["chosen"][state["choosing"]] = state["options"][int(word) - 1]
    else:
        ctx.store.delete(key)
        return None
    info = _teacher(ctx, teacher_id)
    if isinstance(info, str):
        ctx.store.delete(key)
        return info
    return _proceed(ctx, info, state)


# --- commands ----------------------------------------------------------------------------


def _undo(ctx: ChatContext, teacher_id: int) -> str:
    entry = record.last_entry(ctx.session, teacher_id)
    if entry is None:
        return "您还没有记录过工作日志，没有可以撤销的。"
    described = record.describe(entry, ctx.today)
    age = ctx.incoming.now - entry.created_at
    if age > record.UNDO_WINDOW:
        recorded = entry.created_at.astimezone(ctx.settings.tz).date()
        return (
            f"最近一条日志（{described}）是{format_day(recorded, ctx.today)}记录的，"
            "超过24小时不能在微信里撤销；如需更正请联系党总支。"
        )
    forwarded = ctx.session.scalar(
        select(func.count(StudentFeedback.id)).where(
            StudentFeedback.entry_id == entry.id,
            # Queued counts too: the message goes out whether or not the entry stays.
            or_(
                StudentFeedback.forwarded_at.is_not(None),
                StudentFeedback.outbound_id.is_not(None),
            ),
        )
    )
    notes = record.undo_entry(ctx.session, entry)
    if forwarded:
        notes.append("这条反馈已经转给辅导员，撤销不能收回已发出的消息")
    return "\n".join(["已撤销：" + described, *notes])


def _short(entry_text: str, limit: int = 40) -> str:
    return entry_text if len(entry_text) <= limit else entry_text[: limit - 1] + "…"


def _my_logs(ctx: ChatContext, teacher_id: int) -> str:
    entries = record.recent_entries(ctx.session, teacher_id, RECENT)
    if not entries:
        return f"您还没有工作日志。发送一条试试，例如：{EXAMPLE}"
    lines = [f"最近的工作日志（最多显示{RECENT}条）："]
    failed = undelivered_feedback(ctx.session, [e.id for e in entries])
    for i, e in enumerate(entries, 1):
        parts = record.entry_parts(e, ctx.today)
        if e.text:
            parts.append(_short(e.text))
        if e.id in failed:
            parts.append("⚠反馈" + failed[e.id])
        lines.append(f"{i}. " + "｜".join(parts))
    return "\n".join(lines)


def _my_feedback(ctx: ChatContext, teacher_id: int) -> str:
    """我的反馈 (issue 25): this term's 反馈 with the counsellor's answer."""
    term = counts.term_on(ctx.session, ctx.today)
    rows = feedback_replies.of_teacher(ctx.session, teacher_id, term)
    if not rows:
        return "本学期还没有反馈。反馈学生情况请发送，例如：反馈 张三 最近情绪低落，请辅导员关注"
    lines = [f"本学期的反馈（{len(rows)}条）："]
    for fb in rows[-MY_FEEDBACK_SHOWN:]:
        state = feedback_replies.status(fb)
        if fb.acknowledged_at is None and fb.failed_at is not None:
            state = fb.note or "未送达"
        elif fb.acknowledged_at is None and fb.outbound_id is None:
            state = fb.note or "未转发"
        line = f"#{fb.id} {fb.student.name}｜{_short(fb.text)}｜{state}"
        if fb.counsellor_note:
            line += f"（辅导员：{fb.counsellor_note}）"
        lines.append(line)
    if len(rows) > MY_FEEDBACK_SHOWN:
        lines.append(f"（只显示最近{MY_FEEDBACK_SHOWN}条）")
    return "\n".join(lines)


def _stats(ctx: ChatContext, teacher_id: int) -> str:
    info = load_teacher(ctx.session, teacher_id)
    today = ctx.today
    first, last = counts.month_bounds(today)
    month = counts.kind_counts(ctx.session, teacher_id, first, last)
    required = requirements_for(ctx.session, info.scope(today)) if info and info.classes else {}
    progress, others = counts.monthly_progress(month, required)
    lines = [f"本月（{today.month}月）工作日志："]
    lines += [p.line() for p in progress]
    if others:
        lines.append("其他：" + "、".join(f"{k.label} {n}" for k, n in others.items()))
    if not progress and not others:
        lines.append("还没有记录")
    term = counts.term_on(ctx.session, today)
    if term is None:
        lines.append("今天不在任何学期内，没有学期统计。")
        return "\n".join(lines)
    by_kind = counts.kind_counts(ctx.session, teacher_id, term.start_date, term.end_date)
    # The term's requirement so far: the monthly one for each month of the term in office.
    since = max(term.start_date, info.earliest) if info and info.earliest else term.start_date
    months = counts.months_between(since, min(today, term.end_date))
    lines.append(f"本学期（{term.code}，{months}个月）共{sum(by_kind.values())}条：")
    term_progress, term_others = counts.monthly_progress(
        by_kind, {k: n * months for k, n in required.items()}
    )
    parts = [f"{p.kind.label} {p.done}/{p.required}" for p in term_progress]
    parts += [f"{k.label} {n}" for k, n in term_others.items()]
    if parts:
        lines.append("、".join(parts))
    return "\n".join(lines)


def _image(ctx: ChatContext, teacher_id: int) -> str:
    inc = ctx.incoming
    if not inc.media_id:
        return "照片没有收到，请重新发送。"
    entry = record.attach_image(ctx.session, teacher_id, inc.media_id, inc.pic_url, inc.now)
    if entry is None:
        return (
            "照片没有保存：请先发送日志文字，再在10分钟内发送照片，照片会附在那条日志上。\n"
            "例如：班会 学风建设主题班会，全班到齐"
        )
    return (
        f"照片已附在日志上：{record.describe(entry, ctx.today)}（共{len(entry.attachments)}张照片）"
    )
