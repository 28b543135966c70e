"""Who may take which step of the 第九条 appointment workflow (pure rules).

申请 → 党总支初审 → 学生处审核 → 人事处备案 → 聘任, then 解聘 or 辞职 ends it early:

- a branch (党总支) user records applications for its department's classes, does the 初审
  (passes or rejects them, 第六条/第九条2), and records 解聘 / 辞职 of its head teachers;
- 人事处 (hr) records its 人事处备案, and nothing else;
- Student Affairs (学生处) does 审核 (passes or rejects), issues the 聘书 (聘任, 第九条3), and
  may also record applications and 解聘 / 辞职 for any department. It does not do the
  branch's 初审: that decision is the branch's (第三条). It records the 人事处备案 on HR's
  behalf only while the school has no 人事处 account (``hr_present``): once HR has one, the
  step is HR's own.
"""

from __future__ import annotations

from models import AppointmentStatus, UserRole
from models.appointment import ENDED_EARLY, STATUS_LABELS, TRANSITIONS

A = AppointmentStatus

BRANCH_STEPS = frozenset({(A.APPLIED, A.BRANCH_REVIEWED), (A.APPLIED, A.REJECTED)})
HR_STEPS = frozenset({(A.AFFAIRS_APPROVED, A.HR_FILED)})
END_STEPS = frozenset({(A.APPOINTED, A.DISMISSED), (A.APPOINTED, A.RESIGNED)})


def transition_problem(
    role: UserRole,
    current: AppointmentStatus,
    target: AppointmentStatus,
    *,
    hr_present: bool = False,
) -> str | None:
    """Why ``role`` may not move an appointment from ``current`` to ``target``, or None.
    ``hr_present``: the school has an active 人事处 user, who then files its own 备案.
    (Whether the appointment lies in a branch user's department is checked by the caller.)"""
    if target not in TRANSITIONS[current]:
        return f"不能从“{STATUS_LABELS[current]}”转到“{STATUS_LABELS[target]}”"
    step = (current, target)
    if role == UserRole.HR:
        return None if step in HR_STEPS else f"“{STATUS_LABELS[target]}”不由人事处办理"
    if step in END_STEPS:
        return None
    if step in HR_STEPS:
        if role == UserRole.AFFAIRS and not hr_present:
            return None
        return "人事处备案由人事处办理"
    if role == UserRole.BRANCH:
        if step in BRANCH_STEPS:
            return None
        return f"“{STATUS_LABELS[target]}”由学生处办理"
    if step in BRANCH_STEPS:
        return "党总支初审由党总支办理"
    return None


def next_steps(
    role: UserRole, current: AppointmentStatus, *, hr_present: bool = False
) -> list[AppointmentStatus]:
    """The steps ``role`` may take from ``current`` (the buttons to show)."""
    return [
        t
        for t in TRANSITIONS[current]
        if transition_problem(role, current, t, hr_present=hr_present) is None
    ]


def needs_end_details(target: AppointmentStatus) -> bool:
    """解聘 / 辞职 need the day it ended and a reason."""
    return target in ENDED_EARLY
