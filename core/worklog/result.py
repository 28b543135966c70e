"""A head teacher's own published term result, for the chat command ``考核结果`` (``我的考核``).

Only terms that Student Affairs has published (``Term.published_at``) are shown, and only the
sender's own row. Below ``BANZHUREN_MIN_RESPONDENTS`` respondents the reply holds the percentage
and the grade only (DESIGN.md, Privacy).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.evaluation.grading import participation_short
from models import Term, TermEvaluation
from models.evaluation import Grade

RESULT_WORDS = {"考核结果", "我的考核", "考核", "我的考核结果", "查看考核结果"}

NOT_PUBLISHED = "学期考核结果还没有发布。学生处发布后会通知您，届时也可以发送「考核结果」查看。"
NO_RESULT = (
    "已发布的学期考核中没有您的结果（考核只包括当学期在任的兼职班主任）。如有疑问请联系所在党总支。"
)
CONTACT = "如有疑问请联系所在党总支。"


@dataclass(frozen=True)
class OwnResult:
    """What a head teacher may see of their own evaluation in one published term."""

    term_code: str
    grade: Grade
    overridden: bool
    satisfaction: float | None  # percent, unrounded
    respondents: int
    eligible: int
    reasons: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    response_rate: float | None = None  # share of eligible students who answered


def own_result(session: Session, teacher_id: int) -> OwnResult | None:
    """The teacher's result in the latest published term that evaluated them, or None."""
    row = session.execute(
        select(TermEvaluation, Term.code)
        .join(Term, Term.id == TermEvaluation.term_id)
        .where(TermEvaluation.teacher_id == teacher_id, Term.published_at.is_not(None))
        .order_by(Term.end_date.desc(), Term.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    ev, code = row
    grade = ev.grade
    reasons: list[str] = []
    if grade == Grade.FAIL:
        # As in the report: the computed reasons, or the written reason of an override.
        reasons = [str(r) for r in ev.reasons] or (
            [ev.override_reason] if ev.override_reason else []
        )
    return OwnResult(
        term_code=code,
        grade=grade,
        overridden=ev.override_grade is not None and ev.override_grade != ev.computed_grade,
        satisfaction=ev.satisfaction,
        respondents=ev.respondents,
        eligible=ev.eligible,
        reasons=reasons,
        flags=[str(f) for f in ev.flags],
        response_rate=ev.response_rate,
    )


def format_result(result: OwnResult, min_respondents: int, min_participation: float = 0) -> str:
    """The chat reply for ``result`` (pure). Below ``min_respondents`` respondents or under the
    minimum participation: grade and percentage only."""
    grade = result.grade.label + ("（经学生处复核）" if result.overridden else "")
    pct = "无答卷" if result.satisfaction is None else f"{result.satisfaction:.1f}%"
    lines = [f"【学期考核结果】{result.term_code} 学期", f"考核等级：{grade}", f"学生满意度：{pct}"]
    if result.respondents < min_respondents:
        lines.append(f"（答卷少于{min_respondents}份，只显示满意度和等级）")
    elif participation_short(result.response_rate, min_participation):
        lines.append(f"（参评率低于{min_participation:g}%，数据不足，只显示满意度和等级）")
    else:
        lines.append(f"参评学生：{result.respondents}/{result.eligible} 人")
        if result.reasons:
            lines.append("不合格原因：" + "；".join(result.reasons))
        if result.flags:
            lines.append("提示：" + "；".join(result.flags))
    lines.append(CONTACT)
    return "\n".join(lines)


def reply(
    session: Session, teacher_id: int, min_respondents: int, min_participation: float = 0
) -> str:
    """The answer to ``考核结果`` from head teacher ``teacher_id``."""
    result = own_result(session, teacher_id)
    if result is not None:
        return format_result(result, min_respondents, min_participation)
    published = session.scalar(select(Term.id).where(Term.published_at.is_not(None)).limit(1))
    return NOT_PUBLISHED if published is None else NO_RESULT
