"""Online application (issue 25.2, 第六条, 第九条): in the months of ``BANZHUREN_APPLY_MONTHS`` a
bound head teacher's ``申请`` answers with a link to a mobile form carrying the 业务审批表's
fields; what they send enters the 第九条 workflow (申请 → 党总支初审 → 学生处审核 → 人事处备案 →
聘任) as their application, exactly as one a branch types in, and each later step is told to
them by WeChat (:func:`notify_step`, through the outbox).

The link is a one-time token of :mod:`core.download_links` (kind ``apply``; 24 hours; spent by
a successful submission; dead once the account that asked is unbound): it names the teacher.
Opening it goes through WeChat's web authorisation (``snsapi_base``, the campus login's
:mod:`core.binding.campus`), and the form opens only for the openid the link was sent to, so
a forwarded link fills in nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.download_links import create_link, peek, use
from core.outbox import queue_reach
from core.settings import Settings
from models import Appointment, AppointmentStatus, ChatLink, SchoolClass, Teacher, WeChatBinding
from models.appointment import STATUS_LABELS, one_year_after

APPLY = "apply"
NOTE_MAX = 500
A = AppointmentStatus


def cn_day(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def months_text(months: tuple[int, ...]) -> str:
    return "、".join(f"{m}月" for m in months)


def next_opening(months: tuple[int, ...], today: dt.date) -> dt.date:
    """The first day of the next month in ``months`` after ``today``'s month (pure)."""
    for ahead in range(1, 13):
        month = (today.month - 1 + ahead) % 12 + 1
        year = today.year + (today.month - 1 + ahead) // 12
        if month in months:
            return dt.date(year, month, 1)
    raise ValueError("no month to apply in")


def web_authorisation(settings: Settings) -> bool:
    """Whether the form asks WeChat's web authorisation (snsapi_base) for the openid: with the
    account's AppID and secret and the public address (always, in production)."""
    return bool(settings.wechat_appid and settings.wechat_secret and settings.public_url)


def is_open(settings: Settings, today: dt.date) -> bool:
    return today.month in settings.apply_months


def closed_text(settings: Settings, today: dt.date) -> str:
    opens = next_opening(settings.apply_months, today)
    return (
        f"现在不在兼职班主任申请时间内。每年{months_text(settings.apply_months)}开放网上申请"
        f"（第九条），下次开放：{cn_day(opens)}。届时发送「申请」即可填写业务审批表。"
    )


def default_start(today: dt.date) -> dt.date:
    """Appointments begin with the academic year: the coming 1 September."""
    year = today.year if today.month < 9 else today.year + 1
    return dt.date(year, 9, 1)


def apply_reply(
    session: Session, settings: Settings, teacher_id: int, openid: str, now: dt.datetime
) -> str:
    """The chat reply to ``申请``."""
    today = now.astimezone(settings.tz).date()
    if not is_open(settings, today):
        return closed_text(settings, today)
    if not settings.public_url:
        return (
            "暂时无法生成申请链接：系统还没有设置对外访问地址（BANZHUREN_PUBLIC_URL）。"
            "请向所在党总支提交纸质业务审批表，由党总支代为登记。"
        )
    teacher = session.get(Teacher, teacher_id)
    if teacher is None or teacher.department_id is None:
        return "您的教师信息没有登记所在党总支，不能网上申请，请联系党总支。"
    token = create_link(session, teacher_id, openid, APPLY, now)
    audit.record(session, f"wechat:{teacher.staff_no}", "application.link", teacher.staff_no)
    return (
        "兼职班主任网上申请（业务审批表）：\n"
        f"{settings.public_url}/apply/{token}\n"
        "请在24小时内填写提交，链接只能提交一次，请勿转发。提交后党总支初审、学生处审核、"
        "人事处备案、聘任，每一步都会在这里通知您。"
    )


@dataclass(frozen=True)
class FormContext:
    """What the form shows: who applies (fixed by the link) and the classes they may choose."""

    link: ChatLink
    teacher: Teacher
    department: str
    classes: list[SchoolClass]
    default_start: dt.date


def form_context(session: Session, token: str, now: dt.datetime, tz) -> FormContext | None:
    """The form behind ``token``; None when the link is unknown, spent, expired or its
    account unbound."""
    link = peek(session, token, APPLY, now)
    if link is None:
        return None
    teacher = session.get(Teacher, link.teacher_id)
    classes = list(
        session.scalars(
            select(SchoolClass)
            .where(SchoolClass.department_id == teacher.department_id)
            .order_by(SchoolClass.code)
        )
    )
    department = teacher.department.name if teacher.department else "—"
    return FormContext(link, teacher, department, classes, default_start(now.astimezone(tz).date()))


@dataclass(frozen=True)
class Application:
    class_id: int
    start: dt.date
    end: dt.date
    trained: bool
    note: str


def check_form(
    data: Mapping[str, str], classes: list[SchoolClass], today: dt.date
) -> Application | list[str]:
    """The application in the form's fields, or every problem with them in Chinese (pure)."""
    problems: list[str] = []
    values = {k: (data.get(k) or "").strip() for k in ("class_code", "start_date", "end_date")}
    if any("\x00" in (v or "") for v in data.values()):
        return ["表单中含有无法识别的字符，请重新填写"]
    by_code = {c.code: c for c in classes}
    cls = by_code.get(values["class_code"])
    if not values["class_code"]:
        problems.append("请选择拟带班级")
    elif cls is None:
        problems.append("请从列表中选择本党总支的班级")

    def day(name: str, label: str, required: bool) -> dt.date | None:
        raw = values[name]
        if not raw:
            if required:
                problems.append(f"请填写{label}（例如 {default_start(today).isoformat()}）")
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            problems.append(f"{label}“{raw[:20]}”不是有效日期，应为 YYYY-MM-DD，例如 2027-09-01")
            return None

    start = day("start_date", "拟聘期开始日期", True)
    end = day("end_date", "拟聘期结束日期", False)
    if start is not None and start < today:
        problems.append("拟聘期开始日期不能早于今天")
    if start is not None and start > today + dt.timedelta(days=366):
        problems.append("拟聘期开始日期应在一年以内")
    if start is not None and end is not None:
        if end <= start:
            problems.append("拟聘期结束日期应晚于开始日期")
        elif end > one_year_after(start):
            problems.append("聘期为一年（第十条），结束日期不能晚于开始日期一年后")
    trained = (data.get("trained") or "").strip()
    if trained not in ("1", "0"):
        problems.append("请选择是否已参加岗前培训")
    note = (data.get("note") or "").strip()
    if not note:
        problems.append("请填写个人申请（为什么申请、带班设想等）")
    elif len(note) > NOTE_MAX:
        problems.append(f"个人申请不能超过 {NOTE_MAX} 个字（现在 {len(note)} 个字）")
    if problems:
        return problems
    return Application(cls.id, start, end or one_year_after(start), trained == "1", note)


def submit(
    session: Session, token: str, application: Application, now: dt.datetime, address: str = ""
) -> Appointment | str | None:
    """File the application of the link's teacher: the new appointment (status 申请); a
    sentence when it duplicates one already filed; None when the link is no longer usable.
    Spends the link; the caller commits (a rollback leaves the link usable)."""
    link = use(session, token, APPLY, now, address)
    if link is None:
        return None
    teacher = session.get(Teacher, link.teacher_id)
    cls = session.get(SchoolClass, application.class_id)
    if cls is None or cls.department_id != teacher.department_id:
        return "请从列表中选择本党总支的班级"
    duplicate = session.scalar(
        select(Appointment.id).where(
            Appointment.teacher_id == teacher.id,
            Appointment.class_id == cls.id,
            Appointment.start_date == application.start,
        )
    )
    if duplicate is not None:
        return (
            f"您已申请过从 {cn_day(application.start)} 开始担任{cls.name}兼职班主任，不能重复申请"
        )
    appointment = Appointment(
        teacher_id=teacher.id,
        class_id=cls.id,
        start_date=application.start,
        end_date=application.end,
        trained=application.trained,
        status=A.APPLIED,
        application_note=application.note,
    )
    session.add(appointment)
    session.flush()
    audit.record(
        session,
        f"wechat:{teacher.staff_no}",
        "appointment.apply",
        f"{teacher.staff_no} {cls.code}",
        appointment_id=appointment.id,
        start=application.start,
        end=application.end,
        online=True,
    )
    tell(
        session,
        teacher.id,
        f"【聘任申请】您担任{cls.name}兼职班主任的申请已提交（拟聘期 {cn_day(application.start)}"
        f" 至 {cn_day(application.end)}），等待党总支初审。",
        "申请已提交",
        application.start,
    )
    return appointment


def tell(session: Session, teacher_id: int, text: str, step: str, day: dt.date) -> bool:
    """Queue ``text`` to the teacher's WeChat (sent after the caller commits): a
    customer-service message while their allowance lasts, else the remind template (steps
    come weeks after the teacher last wrote) with ``step`` and ``day`` as its values; False
    when they have not bound WeChat."""
    openid = session.scalar(
        select(WeChatBinding.openid).where(WeChatBinding.teacher_id == teacher_id)
    )
    if openid is None:
        return False
    values = {
        "title": "兼职班主任聘任进度",
        "term": step,
        "deadline": cn_day(day),
        "hint": "详情请联系所在党总支",
    }
    queue_reach(session, openid, text, values)
    return True


def step_text(appointment: Appointment, before: AppointmentStatus, after: AppointmentStatus) -> str:
    """What the teacher is told when their appointment moves from ``before`` to ``after``."""
    cls = appointment.school_class.name
    head = f"【聘任进度】您担任{cls}兼职班主任的申请"
    if after == A.BRANCH_REVIEWED:
        return head + "已通过党总支初审，已报学生处审核。"
    if after == A.AFFAIRS_APPROVED:
        return head + "已通过学生处审核，待人事处备案。"
    if after == A.HR_FILED:
        return head + "已由人事处备案，待学校聘任。"
    if after == A.APPOINTED:
        return (
            f"【聘任】您已被聘为{cls}兼职班主任，聘期 {cn_day(appointment.start_date)} 至 "
            f"{cn_day(appointment.end_date)}。聘书由学校统一签发；聘期开始后可在这里记录工作日志"
            "（发送「帮助」查看说明）。"
        )
    if after == A.REJECTED:
        who = "党总支初审" if before == A.APPLIED else "学生处审核"
        return head + f"未通过{who}。如有疑问请联系所在党总支。"
    ended = appointment.ended_on
    when = f"于{cn_day(ended)}" if ended else ""
    return f"【聘任】您担任{cls}兼职班主任的聘任已{when}结束（{STATUS_LABELS[after]}）。"


def notify_step(
    session: Session, appointment: Appointment, before: AppointmentStatus, after: AppointmentStatus
) -> bool:
    """Tell the teacher of a step of their appointment (in the caller's transaction, sent
    after it commits); False when they have not bound WeChat."""
    label = "未通过" if after == A.REJECTED else STATUS_LABELS[after]
    day = appointment.ended_on or appointment.start_date
    return tell(session, appointment.teacher_id, step_text(appointment, before, after), label, day)
