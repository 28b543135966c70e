"""The grading rules of 第十五条, the allowance of 第十八条 and the award rules of 第十九条 and
第二十条, as pure functions on plain values (no database, no clock)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from models.evaluation import Grade
from models.term import TERM_CODE

# 第十五条（一）: the lowest satisfaction (percent, compared unrounded) for each passing grade.
THRESHOLDS: tuple[tuple[float, Grade], ...] = (
    (80.0, Grade.EXCELLENT),
    (70.0, Grade.GOOD),
    (60.0, Grade.PASS),
)

# 第十五条（二）: every reason a head teacher is 不合格, in the policy's order.
REASON_SHORT_TERM = "任期不满一年"
REASON_LOW_SATISFACTION = "满意度低于60%"
REASON_SERIOUS_INCIDENT = "严重责任事件"
REASON_NO_WORK = "没有很好履行工作职责"
REASON_OTHER = "其他不称职行为"
REASONS = (
    REASON_SHORT_TERM,
    REASON_LOW_SATISFACTION,
    REASON_SERIOUS_INCIDENT,
    REASON_NO_WORK,
    REASON_OTHER,
)

ALLOWANCE_PER_MONTH = 300  # yuan, 第十八条
AWARD_BAN_YEARS = 3  # 第二十条: 被解聘者三年内取消评优资格


@dataclass(frozen=True)
class TeacherFacts:
    """What the grade depends on, for one head teacher in one term."""

    satisfaction: float | None  # percent, unrounded; None with no respondent
    ended_within_first_year: bool = False
    serious_incidents: int = 0
    other_incidents: int = 0
    log_entries: int = 0
    # Whether a satisfaction round of the term has closed: before that the term's evidence is
    # still coming in (issue 22).
    round_closed: bool = True


def grade_from_satisfaction(satisfaction: float | None) -> Grade:
    """第十五条（一）. With no satisfaction figure (nobody answered) there is no evidence of a
    satisfaction below 60%, so the teacher is 合格 unless another reason fails them; the report
    flags the missing data."""
    if satisfaction is None:
        return Grade.PASS
    for threshold, grade in THRESHOLDS:
        if satisfaction >= threshold:
            return grade
    return Grade.FAIL


def failing_reasons(facts: TeacherFacts) -> list[str]:
    """Every 第十五条（二） reason that applies, in the policy's order (empty when none)."""
    reasons = []
    if facts.ended_within_first_year:
        reasons.append(REASON_SHORT_TERM)
    if facts.satisfaction is not None and facts.satisfaction < 60.0:
        reasons.append(REASON_LOW_SATISFACTION)
    if facts.serious_incidents > 0:
        reasons.append(REASON_SERIOUS_INCIDENT)
    if facts.log_entries == 0:
        reasons.append(REASON_NO_WORK)
    if facts.other_incidents > 0:
        reasons.append(REASON_OTHER)
    return reasons


# Reasons that stand on facts recorded during the term, whatever the students say: they fail a
# teacher even before any satisfaction round has closed.
RECORDED_REASONS = (REASON_SHORT_TERM, REASON_SERIOUS_INCIDENT, REASON_OTHER)


def grade_teacher(facts: TeacherFacts) -> tuple[Grade, list[str]]:
    """The computed grade with its failing reasons: 不合格 whenever any reason applies.

    With no closed round the term has no result yet: 待测评, unless a recorded reason
    (任期不满一年, 严重责任事件, 其他不称职行为) fails the teacher. Neither the missing
    satisfaction nor an empty work log (still being written while the survey runs) fails anyone
    for lack of data."""
    reasons = failing_reasons(facts)
    if not facts.round_closed:
        recorded = [r for r in reasons if r in RECORDED_REASONS]
        return (Grade.FAIL, recorded) if recorded else (Grade.PENDING, [])
    if reasons:
        return Grade.FAIL, reasons
    return grade_from_satisfaction(facts.satisfaction), []


FLAG_NO_PRESERVICE_TRAINING = "未参加岗前培训"
FLAG_NO_TERM_TRAINING = "未参加本学期培训会"


def is_trained(roster_trained: bool, trainings_attended_by_term_end: int) -> bool:
    """第十二条 岗前培训: the roster says the teacher was trained, or they attended a training (a
    meeting of kind training) on or before the term's last day."""
    return roster_trained or trainings_attended_by_term_end > 0


def missed_term_training(school_trainings_in_term: int, attended_in_term: int) -> bool:
    """第十四条 学院每学期至少举办一次培训会: the school held a training this term and the teacher
    attended none of the term's trainings. A term with no school training flags the school (on
    the overview), not its teachers."""
    return school_trainings_in_term > 0 and attended_in_term == 0


@dataclass(frozen=True)
class QualityFacts:
    respondents: int
    eligible: int
    response_rate: float | None
    # 第十二条 pre-service training done (see is_trained).
    trained: bool
    straight_lined: int = 0
    too_fast: int = 0
    missed_term_training: bool = False
    round_closed: bool = True


FLAG_NO_CLOSED_ROUND = "测评尚未结束"


def participation_short(response_rate: float | None, min_participation: float) -> bool:
    """BANZHUREN_MIN_PARTICIPATION: the share of eligible students who answered (a fraction) is
    under the minimum (a percent; 0 = no minimum). No eligible student: nothing to judge."""
    return (
        min_participation > 0
        and response_rate is not None
        and (100 * response_rate < min_participation)
    )


def details_shown(
    respondents: int,
    response_rate: float | None,
    min_respondents: int,
    min_participation: float = 0,
) -> bool:
    """Whether anything beyond the satisfaction percentage and the grade (interval, per-question
    breakdown, comments, answer-quality counts) may be shown: at least ``min_respondents``
    respondents and a participation not under ``min_participation`` (DESIGN.md: the minimum
    participation applies like the minimum respondents)."""
    return respondents >= min_respondents and not participation_short(
        response_rate, min_participation
    )


def quality_flags(q: QualityFacts, min_respondents: int, min_participation: float = 0) -> list[str]:
    """Warnings shown beside a result; they never change the grade."""
    flags = []
    if not q.round_closed:
        flags.append(FLAG_NO_CLOSED_ROUND)
    if q.respondents < min_respondents:
        flags.append(f"答卷少于{min_respondents}份")
    short = participation_short(q.response_rate, min_participation)
    if short:
        flags.append(f"参评率低于{min_participation:g}%")
    if (
        q.respondents < min_respondents
        or short
        or (q.response_rate is not None and q.response_rate < 0.5)
    ):
        flags.append("数据不足")
    # Each flag names the training missing: the pre-service one (第十二条) or this term's
    # school training (第十四条).
    if not q.trained:
        flags.append(FLAG_NO_PRESERVICE_TRAINING)
    if q.missed_term_training:
        flags.append(FLAG_NO_TERM_TRAINING)
    if q.straight_lined:
        flags.append(f"{q.straight_lined}份答卷各题选项相同")
    if q.too_fast:
        flags.append(f"{q.too_fast}份答卷作答过快")
    return flags


def uncorroborated(logged: int, answered: int, confirmed: int) -> bool:
    """A teacher logged work of a kind students were asked about, some students answered, and
    none of them confirms it."""
    return logged >= 1 and answered >= 1 and confirmed == 0


def months_in_office(
    periods: Iterable[tuple[dt.date, dt.date]], term_start: dt.date, term_end: dt.date
) -> list[str]:
    """第十八条 months: the calendar months of the term (``YYYY-MM``) in which the teacher held
    office (any appointment, ``[start, last day]`` inclusive) on at least one day of the term.
    A month counts once however many classes the teacher had in it."""
    months: set[str] = set()
    for start, last in periods:
        lo, hi = max(start, term_start), min(last, term_end)
        if lo > hi:
            continue
        y, m = lo.year, lo.month
        while (y, m) <= (hi.year, hi.month):
            months.add(f"{y:04d}-{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return sorted(months)


def allowance(months: Sequence[str] | int) -> int:
    """第十八条: 300 yuan for each month in office."""
    count = months if isinstance(months, int) else len(months)
    return ALLOWANCE_PER_MONTH * count


def previous_term_code(code: str) -> str:
    """The semester just before ``code``: 2026-2027-1 → 2025-2026-2, 2026-2027-2 → 2026-2027-1."""
    m = TERM_CODE.match(code)
    if not m:
        raise ValueError(f"not a term code: {code!r}")
    first, second, n = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if n == 2:
        return f"{first}-{second}-1"
    return f"{first - 1}-{second - 1}-2"


def years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def is_award_candidate(
    grade: Grade | None,
    previous_grade: Grade | None,
    dismissals: Iterable[dt.date],
    as_of: dt.date,
) -> bool:
    """第十九条 and 第二十条: 优秀 in this semester and the one before, and not dismissed (解聘;
    a resignation does not count) on or after three years before ``as_of``."""
    if grade != Grade.EXCELLENT or previous_grade != Grade.EXCELLENT:
        return False
    ban_from = years_before(as_of, AWARD_BAN_YEARS)
    return not any(day >= ban_from for day in dismissals)
