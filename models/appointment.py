"""聘任: a teacher appointed head teacher of a class, through the 第九条 workflow."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, LabelledEnum, str_enum
from models.org import SchoolClass, Teacher


class AppointmentStatus(LabelledEnum):
    """第九条: 申请 → 党总支初审 → 学生处审核 → 人事处备案 → 聘任; then 解聘 or 辞职 ends it early."""

    APPLIED = "applied", "申请"
    BRANCH_REVIEWED = "branch_reviewed", "党总支初审"
    AFFAIRS_APPROVED = "affairs_approved", "学生处审核"
    HR_FILED = "hr_filed", "人事处备案"
    APPOINTED = "appointed", "聘任"
    REJECTED = "rejected", "驳回"
    DISMISSED = "dismissed", "解聘"
    RESIGNED = "resigned", "辞职"


STATUS_LABELS = {status: status.label for status in AppointmentStatus}

# Which step may follow which; the dashboard and CLI refuse anything else.
TRANSITIONS: dict[AppointmentStatus, tuple[AppointmentStatus, ...]] = {
    AppointmentStatus.APPLIED: (AppointmentStatus.BRANCH_REVIEWED, AppointmentStatus.REJECTED),
    AppointmentStatus.BRANCH_REVIEWED: (
        AppointmentStatus.AFFAIRS_APPROVED,
        AppointmentStatus.REJECTED,
    ),
    AppointmentStatus.AFFAIRS_APPROVED: (AppointmentStatus.HR_FILED,),
    AppointmentStatus.HR_FILED: (AppointmentStatus.APPOINTED,),
    AppointmentStatus.APPOINTED: (AppointmentStatus.DISMISSED, AppointmentStatus.RESIGNED),
    AppointmentStatus.REJECTED: (),
    AppointmentStatus.DISMISSED: (),
    AppointmentStatus.RESIGNED: (),
}

ENDED_EARLY = (AppointmentStatus.DISMISSED, AppointmentStatus.RESIGNED)


def one_year_after(start: dt.date) -> dt.date:
    """第十条: the appointment runs one year from the day it starts."""
    try:
        return start.replace(year=start.year + 1)
    except ValueError:  # 29 February
        return start.replace(year=start.year + 1, day=28)


class Appointment(CreatedAt, Base):
    __tablename__ = "appointments"

    id: Mapped[int] = mapped_column(primary_key=True)
    teacher_id: Mapped[int] = mapped_column(ForeignKey("teachers.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    start_date: Mapped[dt.date]
    end_date: Mapped[dt.date]
    # 第十二条: a new head teacher takes the pre-service training before starting.
    trained: Mapped[bool] = mapped_column(default=False)
    status: Mapped[AppointmentStatus] = mapped_column(
        str_enum(AppointmentStatus), default=AppointmentStatus.APPOINTED, index=True
    )
    # Set with 解聘 / 辞职: the day the appointment actually ended.
    ended_on: Mapped[dt.date | None]
    end_reason: Mapped[str | None] = mapped_column(Text)
    application_note: Mapped[str | None] = mapped_column(String(500))

    teacher: Mapped[Teacher] = relationship()
    school_class: Mapped[SchoolClass] = relationship()

    __table_args__ = (
        UniqueConstraint("teacher_id", "class_id", "start_date"),
        CheckConstraint("end_date > start_date", name="ends_after_start"),
        CheckConstraint(
            "(status IN ('dismissed', 'resigned')) = (ended_on IS NOT NULL)",
            name="ended_on_iff_ended",
        ),
    )

    @property
    def is_in_force(self) -> bool:
        return self.status == AppointmentStatus.APPOINTED

    def active_between(self, start: dt.date, end: dt.date) -> bool:
        """Whether the appointment was in office on any day of ``[start, end]``."""
        if self.status not in (AppointmentStatus.APPOINTED, *ENDED_EARLY):
            return False
        last = self.ended_on or self.end_date
        return self.start_date <= end and last >= start

    def ended_within_first_year(self) -> bool:
        """第十五条（二）1 任期不满一年: ended (解聘 / 辞职) before a year from its start."""
        return (
            self.status in ENDED_EARLY
            and self.ended_on is not None
            and self.ended_on < one_year_after(self.start_date)
        )
