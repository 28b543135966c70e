"""The students' survey dialogue (测评 / 评价): one question a message, one head teacher after
another, ending with a summary that ``确认`` submits.

The draft lives sealed in the ``survey_drafts`` table (core/surveys/seal.py), in the handling
transaction: never in process memory and never only in Redis, so a student may pause with
``退出`` and go on later on any web process, and a Redis restart loses nothing. Submitting writes
a Ballot (who answered about whom) and a sealed envelope (what, with nothing that maps it to the
ballot) in the caller's transaction, then deletes the draft. The round's close opens the
envelopes into anonymous Response/Answer rows (:func:`core.surveys.rounds.close_round`).

A reply that quotes the student's answers (the summary) is a :class:`QuotingReply`: the webhook
stores a marker for it, never the text, beside the message's key.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.chat.context import ChatContext
from core.fastsql import FastStatement
from core.reach import window
from core.reach.menus import menu_fits, parse_menu_id, queue_question_menu
from core.surveys import submission
from core.surveys.drafts import drop_draft, load_draft, save_draft, unseal_draft
from core.surveys.rounds import (
    RoundState,
    TeacherToRate,
    open_round_states,
    round_definition,
    round_is_open,
    round_state,
    teachers_for_student,
    term_dates,
)
from models import Ballot, SurveyRound
from surveys import scoring
from surveys.definition import SurveyDefinition

# A round as the dialogue uses it: an ORM row (from open_rounds) or a RoundState.
Round = SurveyRound | RoundState
_BALLOTS = Ballot.__table__


_RATED_TEACHERS = FastStatement(
    select(_BALLOTS.c.teacher_id).where(
        _BALLOTS.c.round_id == bindparam("round_id"),
        _BALLOTS.c.student_id == bindparam("student_id"),
    )
)

START = ("测评", "评价")
BACK, SKIP, QUIT, CONFIRM = "上一题", "跳过", "退出", "确认"
EDIT = re.compile(r"^修改\s*第?\s*(\d+)\s*题?$")
TEXT_MAX = 500
# WeChat cuts a passive text reply at 2048 bytes; keep some room.
REPLY_MAX_BYTES = 2000
SUMMARY_QUESTION_CHARS = (16, 10, 6)
SUMMARY_TEXT_CHARS = 20


def draft_key(openid: str) -> str:
    return f"survey:{openid}"


class QuotingReply(str):
    """A reply that quotes a student's answers: sent, never stored (the webhook keeps a marker)."""

    quotes_answers = True


def _load(ctx: ChatContext) -> dict | None:
    """The sender's draft, unsealed: from what the webhook read with the sender when it did (the
    handlers' first read of this message), else from the database."""
    state = ctx.state
    if state is None:
        return load_draft(ctx.session, ctx.settings, ctx.sender.openid)
    if state.draft_sealed is None:
        return None
    return unseal_draft(ctx.settings, ctx.sender.openid, state.draft_sealed)


def _round(ctx: ChatContext, round_id: int) -> RoundState | None:
    """The round ``round_id``: the draft's round as read with the sender, else from the database."""
    state = ctx.state
    if state is not None:
        rnd = state.draft_round
        if rnd is not None and rnd.id == round_id:
            return rnd
    return round_state(ctx.session, round_id)


def _drop_draft(ctx: ChatContext) -> None:
    ctx.session.info[_MOVED] = True
    drop_draft(ctx.session, ctx.sender.openid)


def normalize(text: str) -> str:
    """Full-width digits, letters and spaces become ASCII (NFKC); outer blanks go."""
    return unicodedata.normalize("NFKC", text or "").strip()


def parse_choice(text: str, labels: Sequence[str]) -> int | None:
    """The 1-based option a reply names: its number, its letter (A = 1, any case, full-width
    too), or its label; None when it names none."""
    t = normalize(text).strip("。.、,，)）(（ ")
    if re.fullmatch(r"[0-9]+", t):
        n = int(t)
        return n if 1 <= n <= len(labels) else None
    if len(t) == 1 and "a" <= t.lower() <= "z":
        n = ord(t.lower()) - ord("a") + 1
        return n if n <= len(labels) else None
    for i, label in enumerate(labels, start=1):
        if normalize(label) == t:
            return i
    return None


def handle(ctx: ChatContext) -> str | None:
    """Reply to a student's message, or None when it is not about the survey."""
    if ctx.sender.student_id is None:
        return None
    text = normalize(ctx.incoming.text)
    draft = _load(ctx)
    if text in START:
        reply = _start(ctx, draft)
    elif draft is None or not draft.get("active"):
        return None
    else:
        reply = _go_on(ctx, draft, text)
    if getattr(ctx, "quotes_answers", False):
        return QuotingReply(reply)
    return reply


# --- starting and resuming -------------------------------------------------------------------


def pending_question(ctx: ChatContext) -> str | None:
    """The question a student mid-survey is expected to answer, to repeat after a message the
    dialogue cannot take (a picture, a location...); None when no survey is in progress. At the
    summary it says how to go on without quoting the answers (nothing stored may quote them)."""
    if ctx.sender.student_id is None:
        return None
    draft = _load(ctx)
    if draft is None or not draft.get("active"):
        return None
    rnd = _round(ctx, draft["round_id"])
    if rnd is None or not round_is_open(rnd, ctx.today):
        return None
    if draft["mode"] == "summary":
        return f"关于 {draft['teacher']}的测评已答完：回复「确认」提交，或「修改 题号」改答。"
    return render_question(round_definition(rnd), draft)


def _start(ctx: ChatContext, draft: dict | None) -> str:
    if draft is not None:
        rnd = _round(ctx, draft["round_id"])
        if rnd is not None and round_is_open(rnd, ctx.today):
            if not draft.get("active"):
                draft["active"] = True
                _save(ctx, draft)
            # Shown again, an active draft moves nothing: a late reply may go out another way.
            return "继续上次的测评。\n\n" + _render_current(ctx, draft)
        _drop_draft(ctx)
    rounds = open_round_states(ctx.session)
    if not rounds:
        return "目前没有进行中的满意度测评，开放时会通知你。"
    past_due: list[RoundState] = []
    rated = 0
    for rnd, term in rounds:
        teachers = teachers_for_student(ctx.session, term, ctx.sender.student_id)
        if not teachers:
            continue
        if not round_is_open(rnd, ctx.today):
            past_due.append(rnd)
            continue
        pending = _pending(ctx, rnd, teachers)
        rated += len(teachers) - len(pending)
        if pending:
            definition = round_definition(rnd)
            draft = _new_draft(
                ctx, rnd, definition, pending[0], len(teachers) - len(pending) + 1, len(teachers)
            )
            intro = (
                f"{definition.title}（{term.code}）：请为你的 {len(teachers)} 位班主任分别作答，"
                "答案匿名保存。\n\n"
                if rated == 0
                else ""
            )
            return intro + _render_current(ctx, draft, definition)
    if rated:
        return f"你已完成本轮全部测评（{rated} 位班主任），答案已提交，不能再修改。谢谢参与！"
    if past_due:
        closes_on = past_due[0].closes_on
        return f"本轮测评已于 {closes_on.month}月{closes_on.day}日截止，不能再作答。"
    return "你所在的班级本学期没有需要测评的兼职班主任，无需参加。"


def _pending(ctx: ChatContext, rnd: Round, teachers: list[TeacherToRate]) -> list:
    done = {
        row[0]
        for row in _RATED_TEACHERS.execute(
            ctx.session, {"round_id": rnd.id, "student_id": ctx.sender.student_id}
        )
    }
    return [t for t in teachers if t.teacher_id not in done]


def _new_draft(
    ctx: ChatContext,
    rnd: Round,
    definition: SurveyDefinition,
    teacher: TeacherToRate,
    number: int,
    total: int,
) -> dict:
    questions = definition.questions_for(
        first_year=teacher.first_year, final_year=teacher.final_year
    )
    draft = {
        "round_id": rnd.id,
        "teacher_id": teacher.teacher_id,
        "teacher": teacher.label,
        "number": number,
        "total": total,
        "questions": [q.id for q in questions],
        "answers": {},
        "pos": 0,
        "mode": "question",
        "editing": False,
        "active": True,
        # For too_fast: seconds from the first question shown to 确认.
        "started_at": ctx.incoming.sent_at.timestamp(),
    }
    _save(ctx, draft)
    return draft


def _save(ctx: ChatContext, draft: dict) -> None:
    ctx.session.info[_MOVED] = True
    save_draft(ctx.session, ctx.settings, ctx.sender.openid, draft)


# --- answering -------------------------------------------------------------------------------


def _go_on(ctx: ChatContext, draft: dict, text: str) -> str:
    rnd = _round(ctx, draft["round_id"])
    if rnd is None or not round_is_open(rnd, ctx.today):
        _drop_draft(ctx)
        return "本轮测评已结束，未提交的回答没有计入。"
    definition = round_definition(rnd)
    if text == QUIT:
        draft["active"] = False
        _save(ctx, draft)
        return "已暂停，已答的题目已保存。回复「测评」继续。"
    tapped = parse_menu_id(ctx.incoming.menu_id)  # issue 15.3: a tap names its question
    if tapped is not None:
        if draft["mode"] == "summary" or tapped[0] != draft["pos"]:
            return "这是之前一题的选项，请回答当前这一题。\n\n" + _render_current(
                ctx, draft, definition
            )
        draft["undelivered"], text = False, str(tapped[1])
    if draft.get("undelivered") and draft.get("seen") is not None:
        return _reanswer(ctx, definition, draft, text)
    if draft["mode"] == "summary":
        return _in_summary(ctx, rnd, definition, draft, text)

    q = definition.question(draft["questions"][draft["pos"]])
    if text == BACK:
        if draft["pos"] == 0:
            return "已经是第一题了。\n\n" + _render_current(ctx, draft, definition)
        draft["pos"] -= 1
        draft["editing"] = False
        _save(ctx, draft)
        return _render_current(ctx, draft, definition)
    if text == SKIP:
        if q.required:
            return f"第 {draft['pos'] + 1} 题是必答题，不能跳过。\n\n" + _render_current(
                ctx, draft, definition
            )
        draft["answers"][q.id] = None
        return _advance(ctx, draft, definition)
    if q.is_choice:
        choice = parse_choice(text, [o.label for o in q.options])
        if choice is None:
            m = len(q.options)
            return f"请回复 1-{m} 的数字、字母或选项文字，例如 1\n\n" + _render_current(
                ctx, draft, definition
            )
        draft["answers"][q.id] = choice
    else:
        if not text:
            return "请用文字回复这道题。\n\n" + _render_current(ctx, draft, definition)
        if len(text) > TEXT_MAX:
            return f"回答最多 {TEXT_MAX} 字（这条有 {len(text)} 字），请精简后重新发送。"
        draft["answers"][q.id] = text
    return _advance(ctx, draft, definition)


def _advance(ctx: ChatContext, draft: dict, definition: SurveyDefinition) -> str:
    # The question just answered is the last one the student is known to have seen. A reply
    # too late for WeChat undoes this whole move (:func:`moved`, issue 22 item 3); drafts
    # marked ``undelivered`` by earlier versions (issue 13 item 5) still go through _reanswer.
    draft["seen"], draft["undelivered"] = draft["pos"], False
    if draft["editing"] or draft["pos"] + 1 >= len(draft["questions"]):
        draft["mode"] = "summary"
        draft["editing"] = False
    else:
        draft["pos"] += 1
    _save(ctx, draft)
    return _render_current(ctx, draft, definition)


def _reanswer(ctx: ChatContext, definition: SurveyDefinition, draft: dict, text: str) -> str:
    """The question shown after ``seen`` may never have reached the student: this message
    answers the question they saw (``seen``), and the reply shows the pending one again."""
    pos = draft["seen"]
    q = definition.question(draft["questions"][pos])
    value: int | str | None = None
    if q.is_choice:
        value = parse_choice(text, [o.label for o in q.options])
    elif text and len(text) <= TEXT_MAX and text not in (BACK, SKIP, CONFIRM):
        value = text
    if value is None and not (text == SKIP and not q.required):
        note = "上一条消息没有记录。"
    else:
        draft["answers"][q.id] = value
        note = f"已按第 {pos + 1} 题记录你的回答。"
    draft["undelivered"] = False
    _save(ctx, draft)
    return f"{note}下面是你还没看到的{'核对页' if draft['mode'] == 'summary' else '题目'}：\n\n" + (
        _render_current(ctx, draft, definition)
    )


# session.info key: a draft was changed, started, dropped or submitted by this message.
_MOVED = "banzhuren_survey_moved"


def moved(session: Session) -> bool:
    """True when handling the current message changed a survey draft or submitted one (and
    forgets it): the webhook undoes such a move when its reply is too late for WeChat, so that
    the dialogue never goes past a question the student did not see (issue 22 item 3)."""
    return bool(session.info.pop(_MOVED, None))


def _in_summary(
    ctx: ChatContext, rnd: Round, definition: SurveyDefinition, draft: dict, text: str
) -> str:
    n = len(draft["questions"])
    if text == CONFIRM:
        return _submit(ctx, rnd, definition, draft)
    if text == BACK:
        draft["mode"], draft["pos"], draft["editing"] = "question", n - 1, False
        _save(ctx, draft)
        return _render_current(ctx, draft, definition)
    m = EDIT.match(text)
    if m:
        number = int(m.group(1))
        if not 1 <= number <= n:
            return f"没有第 {number} 题，请回复 修改 1-{n} 之间的题号，例如 修改 3"
        draft["mode"], draft["pos"], draft["editing"] = "question", number - 1, True
        _save(ctx, draft)
        return _render_current(ctx, draft, definition)
    return f"请回复「确认」提交，或「修改 N」重新回答第 N 题（N 为 1-{n}），例如 修改 3"


def _submit(ctx: ChatContext, rnd: Round, definition: SurveyDefinition, draft: dict) -> str:
    questions = [definition.question(qid) for qid in draft["questions"]]
    answers = draft["answers"]
    for i, q in enumerate(questions):
        # Cannot happen through the dialogue; kept so a damaged draft never submits a gap.
        if q.required and answers.get(q.id) is None:
            draft["mode"], draft["pos"], draft["editing"] = "question", i, False
            _save(ctx, draft)
            return f"第 {i + 1} 题还没有回答。\n\n" + _render_current(ctx, draft, definition)
    duration = ctx.incoming.sent_at.timestamp() - draft["started_at"]
    if not submission.round_still_open(ctx.session, rnd.id):
        # Closed meanwhile (its envelopes are being, or have been, opened): too late.
        _drop_draft(ctx)
        return "本轮测评已结束，未提交的回答没有计入。"
    stored = submission.store_submission(
        ctx.session,
        ctx.settings,
        round_id=rnd.id,
        student_id=ctx.sender.student_id,
        teacher_id=draft["teacher_id"],
        submitted_on=ctx.today,
        response={
            "score": scoring.respondent_score(definition, answers),
            "top_box": scoring.top_box(definition, answers),
            "straight_lined": scoring.straight_lined(definition, answers),
            "too_fast": scoring.too_fast(questions, duration),
        },
        answers=[submission.answer_values(q, answers.get(q.id)) for q in questions],
    )
    _drop_draft(ctx)
    if stored:
        done = f"已提交关于 {draft['teacher']}的测评，谢谢！"
    else:
        done = f"关于 {draft['teacher']}的测评已经提交过，不能重复提交。"
    nxt = _start_next(ctx, rnd, definition)
    return done + ("\n\n" + nxt if nxt else "\n你已完成本轮全部测评。")


def _start_next(ctx: ChatContext, rnd: Round, definition: SurveyDefinition) -> str | None:
    term = term_dates(ctx.session, rnd.term_id)
    teachers = teachers_for_student(ctx.session, term, ctx.sender.student_id)
    pending = _pending(ctx, rnd, teachers)
    if not pending:
        return None
    draft = _new_draft(
        ctx, rnd, definition, pending[0], len(teachers) - len(pending) + 1, len(teachers)
    )
    return _render_current(ctx, draft, definition)


# --- rendering -------------------------------------------------------------------------------


def _render_current(
    ctx: ChatContext, draft: dict, definition: SurveyDefinition | None = None
) -> str:
    if definition is None:
        definition = round_definition(_round(ctx, draft["round_id"]))
    if draft["mode"] == "summary":
        ctx.quotes_answers = True  # type: ignore[attr-defined]  # see QuotingReply
        return render_summary(definition, draft)
    text = render_question(definition, draft)
    q = definition.question(draft["questions"][draft["pos"]])
    if ctx.settings.wechat_tap_to_answer and q.is_choice and _menu_fits(ctx):
        # Issue 15.3: the question goes out as a menu message; the reply itself says nothing.
        head = "\n".join(text.split("\n")[:2])
        labels = [o.label for o in q.options]
        queue_question_menu(ctx.session, ctx.sender.openid, text, head, labels, draft["pos"])
        return ""
    return text


def _menu_fits(ctx: ChatContext) -> bool:
    """Issue 23: a menu only while the customer-service allowance keeps a message for a late
    reply; otherwise the question goes in the passive reply, which costs nothing."""
    left = ctx.state.allowance(window.clock()) if ctx.state is not None else None
    return menu_fits(ctx.session, ctx.sender.openid, left)


def render_question(definition: SurveyDefinition, draft: dict) -> str:
    """One question: which teacher, progress, the text, numbered options, what may be replied."""
    pos, total = draft["pos"], len(draft["questions"])
    q = definition.question(draft["questions"][pos])
    head = f"关于 {draft['teacher']}的测评 {pos + 1}/{total}"
    if draft.get("total", 1) > 1:
        head += f"（第 {draft['number']}/{draft['total']} 位班主任）"
    lines = [head, q.text]
    if q.is_choice:
        lines += [f"{i}. {o.label}" for i, o in enumerate(q.options, start=1)]
        hint = "回复数字、字母或选项文字，例如 1"
    else:
        hint = "请直接回复文字"
    extras = []
    if not q.required:
        extras.append("「跳过」不答")
    if pos > 0:
        extras.append("「上一题」返回")
    extras.append("「退出」暂停")
    if draft.get("editing"):
        hint = "修改后回到核对页。" + hint
    lines.append(f"（{hint}；{'，'.join(extras)}）")
    return "\n".join(lines)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def render_summary(definition: SurveyDefinition, draft: dict) -> str:
    """Every answer, numbered as the questions were, and how to submit or change one.

    Question texts are shown whole when the reply fits WeChat's 2048-byte limit for a text
    reply, else shortened until it does."""
    for limit in (None, *SUMMARY_QUESTION_CHARS):
        text = _summary(definition, draft, limit)
        if len(text.encode()) <= REPLY_MAX_BYTES:
            break
    return text


def _summary(definition: SurveyDefinition, draft: dict, limit: int | None) -> str:
    lines = [f"请核对关于 {draft['teacher']}的回答："]
    for i, qid in enumerate(draft["questions"], start=1):
        q = definition.question(qid)
        value = draft["answers"].get(qid)
        if value is None:
            shown = "（未答）"
        elif q.is_choice:
            shown = q.options[value - 1].label
        else:
            shown = _shorten(value, SUMMARY_TEXT_CHARS)
        question = q.text if limit is None else _shorten(q.text, limit)
        lines.append(f"{i}. {question}：{shown}")
    lines.append("回复「确认」提交（提交后不能修改），或「修改 N」重答第 N 题，例如 修改 3")
    return "\n".join(lines)


__all__ = [
    "QuotingReply",
    "draft_key",
    "handle",
    "normalize",
    "parse_choice",
    "render_question",
    "render_summary",
]
