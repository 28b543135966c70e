"""Each admin action through the dashboard's forms: what it changes, the audit row it writes,
and the clear answer (and nothing written) on bad input."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    Department,
    Incident,
    Meeting,
    Student,
    SurveyRound,
    TermEvaluation,
    UserRole,
)
from tests.roster_files import school_tables, set_cell, write_csv, write_xlsx
from tests.support.dashboard import build_world, login, make_user, post_form


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gq", UserRole.BRANCH, w.dep_a)
    return w


def fresh(session) -> None:
    """End the test session's read transaction (so it sees what the app committed since) and
    forget loaded objects (with expire_on_commit off, a rollback keeps clean ones)."""
    session.rollback()
    session.expire_all()


def audits(session, action: str) -> list[AuditLog]:
    fresh(session)
    return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def count(session, model) -> int:
    fresh(session)
    return session.scalar(select(func.count()).select_from(model))


def text(response) -> str:
    return response.get_data(as_text=True)


# --- roster -------------------------------------------------------------------------------


def upload(client, files: list[tuple[bytes, str]]):
    return post_form(
        client,
        "/dashboard/roster",
        "/dashboard/roster",
        {"files": [(io.BytesIO(body), name) for body, name in files]},
        content_type="multipart/form-data",
    )


def test_roster_upload_xlsx(client, session, world, tmp_path):
    login(client, "xsc")
    path = write_xlsx(school_tables(), tmp_path / "名册.xlsx")
    response = upload(client, [(path.read_bytes(), "名册.xlsx")])
    assert response.status_code == 302
    assert count(session, Student) == 9 + 150
    (row,) = audits(session, "roster.import")
    assert row.actor == "xsc"
    page = text(client.get("/dashboard/roster"))
    assert "名册已导入" in page
    # The sheets by the names people give them, not the code's English ones (issue 24).
    assert "党总支、班级、学生、教师、聘任" in page
    assert not re.search(r"departments|classes|appointments", page.split("<main")[-1])


def test_roster_upload_csv_files(client, session, world, tmp_path):
    login(client, "xsc")
    folder = write_csv(school_tables(), tmp_path / "csv")
    files = [(p.read_bytes(), p.name) for p in sorted(folder.glob("*.csv"))]
    assert upload(client, files).status_code == 302
    assert count(session, Department) == 2 + 2


def test_roster_errors_are_listed_and_nothing_is_written(client, session, world, tmp_path):
    login(client, "xsc")
    tables = school_tables()
    set_cell(tables, "students", 3, "class_code", "NOPE")
    path = write_xlsx(tables, tmp_path / "bad.xlsx")
    response = upload(client, [(path.read_bytes(), "bad.xlsx")])
    assert response.status_code == 422
    assert "students:3:" in text(response)
    assert count(session, Student) == 9
    assert audits(session, "roster.import") == []


@pytest.mark.parametrize(
    ("files", "message"),
    [([], "请选择名册文件"), ([(b"x", "roster.txt")], "只接受")],
)
def test_roster_bad_uploads(client, world, files, message):
    login(client, "xsc")
    response = upload(client, files)
    assert response.status_code == 400
    assert message in text(response)


def test_branch_cannot_upload_a_roster(client, world, tmp_path):
    login(client, "gq")
    assert client.get("/dashboard/roster").status_code == 403


# --- appointments -------------------------------------------------------------------------


def step(client, appointment_id: int, target: str, **extra):
    return post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/appointments/{appointment_id}/step",
        {"target": target, **extra},
    )


def apply(client, **data):
    form = {"staff_no": "TA001", "class_code": "GQ2025", "start_date": "2027-09-01", **data}
    return post_form(client, "/dashboard/appointments", "/dashboard/appointments/new", form)


def test_the_whole_appointment_workflow(app, session, world):
    branch, affairs = app.test_client(), app.test_client()
    login(branch, "gq")
    login(affairs, "xsc")
    assert apply(branch, note="本人申请").status_code == 302
    new = session.scalar(select(Appointment).where(Appointment.status == AppointmentStatus.APPLIED))
    assert new.end_date.isoformat() == "2028-09-01" and new.application_note == "本人申请"

    # Student Affairs may not do the branch's 初审; the branch may not do Student Affairs' steps.
    refused = step(affairs, new.id, "branch_reviewed")
    assert refused.status_code == 403 and "党总支初审由党总支办理" in text(refused)
    assert step(branch, new.id, "branch_reviewed").status_code == 302
    refused = step(branch, new.id, "affairs_approved")
    assert refused.status_code == 403 and "由学生处办理" in text(refused)
    # Out of order is refused for anyone.
    out_of_order = step(affairs, new.id, "appointed")
    assert out_of_order.status_code == 409 and "不能从" in text(out_of_order)
    for target in ("affairs_approved", "hr_filed", "appointed"):
        assert step(affairs, new.id, target).status_code == 302, target
    fresh(session)
    assert session.get(Appointment, new.id).status == AppointmentStatus.APPOINTED

    rows = audits(session, "appointment.transition")
    assert [(r.detail["before"], r.detail["after"], r.actor) for r in rows] == [
        ("applied", "branch_reviewed", "gq"),
        ("branch_reviewed", "affairs_approved", "xsc"),
        ("affairs_approved", "hr_filed", "xsc"),
        ("hr_filed", "appointed", "xsc"),
    ]
    assert audits(session, "appointment.apply")[0].actor == "gq"


def test_resignation_needs_date_and_reason(client, session, world):
    login(client, "gq")
    a = world.appointment_a
    missing = step(client, a.id, "resigned")
    assert missing.status_code == 400
    assert "请填写解聘/辞职日期" in text(missing) and "请填写解聘/辞职原因" in text(missing)
    bad_date = step(client, a.id, "resigned", ended_on="2026-13-01", reason="工作调动")
    assert bad_date.status_code == 400 and "不是有效日期" in text(bad_date)
    too_early = step(client, a.id, "resigned", ended_on="2026-08-01", reason="工作调动")
    assert too_early.status_code == 400 and "不能早于" in text(too_early)
    fresh(session)
    assert session.get(Appointment, a.id).status == AppointmentStatus.APPOINTED

    assert (
        step(client, a.id, "resigned", ended_on="2026-11-01", reason="工作调动").status_code == 302
    )
    fresh(session)
    done = session.get(Appointment, a.id)
    assert done.status == AppointmentStatus.RESIGNED
    assert done.ended_on.isoformat() == "2026-11-01" and done.end_reason == "工作调动"
    (row,) = audits(session, "appointment.transition")
    assert row.detail["reason"] == "工作调动" and row.detail["ended_on"] == "2026-11-01"


def test_bad_applications(client, session, world):
    login(client, "gq")
    unknown = apply(client, staff_no="T9999")
    assert unknown.status_code == 400 and "没有工号为 T9999 的教师" in text(unknown)
    other_dep = apply(client, class_code="GX2025")
    assert other_dep.status_code == 400 and "不属于本党总支" in text(other_dep)
    backwards = apply(client, end_date="2027-01-01")
    assert backwards.status_code == 400 and "应晚于开始日期" in text(backwards)
    duplicate = apply(client, start_date="2026-09-01")
    assert duplicate.status_code == 409 and "已登记过" in text(duplicate)
    assert count(session, Appointment) == 2
    assert audits(session, "appointment.apply") == []


# --- survey rounds ----------------------------------------------------------------------------


def round_form(client, action: str, **data):
    form = {"term": "2026-2027-1", "survey": "satisfaction", **data}
    return post_form(client, "/dashboard/rounds", f"/dashboard/rounds/{action}", form)


def open_again(session, world) -> None:
    """The world's round, open (build_world closes it: its responses exist)."""
    world.round.closed_at = None
    session.commit()


def test_close_a_round_once_and_never_reopen(client, session, world):
    open_again(session, world)
    login(client, "xsc")
    page = text(client.get("/dashboard/rounds?term=2026-2027-1"))
    assert "进行中" in page and "参评率" in page
    closed = round_form(client, "close")
    assert closed.status_code == 302
    # The survey's title where a person reads, not its code (issue 24).
    shown = text(client.get(closed.headers["Location"]))
    assert "测评「兼职班主任学生满意度测评」" in shown and "satisfaction</" not in shown
    log = text(client.get("/dashboard/audit"))
    assert "关闭了测评 2026-2027-1 学期的「兼职班主任学生满意度测评」，收回答卷" in log
    assert "satisfaction" not in log and "responses" not in log
    fresh(session)
    assert session.scalar(select(SurveyRound)).closed_at is not None
    again = round_form(client, "close")
    assert again.status_code == 409 and "已于" in text(again)
    # A closed round's answers were opened: it cannot be opened again (issue 11).
    reopen = round_form(client, "open")
    assert reopen.status_code == 409 and "不能重新开放" in text(reopen)
    fresh(session)
    assert session.scalar(select(SurveyRound)).closed_at is not None
    assert [r.actor for r in audits(session, "round.close")] == ["xsc"]
    assert audits(session, "round.reopen") == []


def test_bad_round_requests(client, session, world):
    open_again(session, world)
    login(client, "xsc")
    unknown = round_form(client, "open", survey="nosuch")
    assert unknown.status_code == 400 and "没有问卷 nosuch" in text(unknown)
    no_term = round_form(client, "open", term="2031-2032-1")
    assert no_term.status_code == 400 and "没有学期 2031-2032-1" in text(no_term)
    outside = round_form(client, "open", closes_on="2027-03-01")
    assert outside.status_code == 400 and "截止日期应在学期" in text(outside)
    already_open = round_form(client, "open")
    assert already_open.status_code == 409 and "已在进行中" in text(already_open)
    assert count(session, SurveyRound) == 1


def test_branch_sees_rounds_but_cannot_open_or_close(client, world):
    login(client, "gq")
    assert "参评率" in text(client.get("/dashboard/rounds?term=2026-2027-1"))
    assert round_form(client, "close").status_code == 403


# --- meetings -----------------------------------------------------------------------------------


def meeting(client, **data):
    form = {"kind": "staff_meeting", "held_on": "2026-10-15", "title": "10月工作例会", **data}
    return post_form(client, "/dashboard/meetings", "/dashboard/meetings", form)


def test_branch_records_a_meeting_with_attendance(client, session, world):
    login(client, "gq")
    assert meeting(client, attendees=[str(world.teacher_a.id)]).status_code == 302
    fresh(session)
    (m,) = session.scalars(select(Meeting))
    assert m.department_id == world.dep_a.id  # a branch records its own meetings
    assert [t.staff_no for t in m.attendees] == ["TA001"]
    (row,) = audits(session, "meeting.add")
    assert row.actor == "gq" and row.detail["attendees"] == ["TA001"]
    page = text(client.get(f"/dashboard/teachers/{world.teacher_a.id}?term=2026-2027-1"))
    assert "10月工作例会" in page


def test_bad_meetings_write_nothing(client, session, world):
    login(client, "gq")
    other = meeting(client, attendees=[str(world.teacher_b.id)])
    assert other.status_code == 400 and "不属于本党总支" in text(other)
    bad = meeting(client, held_on="10/15", title="", kind="party")
    body = text(bad)
    assert bad.status_code == 400
    assert "不是有效日期" in body and "请填写会议名称" in body and "会议类型" in body
    assert count(session, Meeting) == 0 and audits(session, "meeting.add") == []


# --- incidents and overrides ----------------------------------------------------------------


def incident(client, teacher_id: int, **data):
    form = {
        "term": "2026-2027-1",
        "kind": "serious",
        "occurred_on": "2026-11-03",
        "description": "学生安全事故处置不力",
        **data,
    }
    page = f"/dashboard/teachers/{teacher_id}"
    return post_form(client, page, f"/dashboard/teachers/{teacher_id}/incidents", form)


def test_record_an_incident(client, session, world):
    login(client, "gq")
    assert incident(client, world.teacher_a.id).status_code == 302
    fresh(session)
    (i,) = session.scalars(select(Incident))
    assert i.recorded_by == "gq" and i.kind.value == "serious"
    (row,) = audits(session, "incident.add")
    assert row.target == "TA001 2026-2027-1"
    page = text(client.get(f"/dashboard/teachers/{world.teacher_a.id}?term=2026-2027-1"))
    assert "学生安全事故处置不力" in page


def test_bad_incidents(client, session, world):
    login(client, "gq")
    outside = incident(client, world.teacher_a.id, occurred_on="2027-03-01")
    assert outside.status_code == 400 and "应在学期" in text(outside)
    empty = incident(client, world.teacher_a.id, description=" ", kind="bad")
    assert empty.status_code == 400
    assert "请填写情况说明" in text(empty) and "情形类别" in text(empty)
    assert count(session, Incident) == 0


def override(client, teacher_id: int, **data):
    form = {"term": "2026-2027-1", **data}
    page = f"/dashboard/teachers/{teacher_id}"
    return post_form(client, page, f"/dashboard/teachers/{teacher_id}/override", form)


def test_override_a_grade_and_undo_it(client, session, world):
    login(client, "xsc")
    response = override(
        client, world.teacher_b.id, grade="fail", reason="严重违反师德，经学生处研究"
    )
    assert response.status_code == 302
    fresh(session)
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == world.teacher_b.id)
    )
    assert ev.grade.value == "fail" and ev.computed_grade.value == "pass"
    assert ev.override_reason == "严重违反师德，经学生处研究"
    (row,) = audits(session, "grade.override")
    assert (row.detail["before"], row.detail["after"]) == ("pass", "fail")
    page = text(client.get("/dashboard/teachers?term=2026-2027-1&grade=fail"))
    assert "乙老师" in page and "已调整" in page

    assert override(client, world.teacher_b.id, clear="1").status_code == 302
    fresh(session)
    ev = session.get(TermEvaluation, ev.id)
    assert ev.override_grade is None and ev.grade.value == "pass"
    assert len(audits(session, "grade.override_clear")) == 1


def test_override_needs_a_reason_and_an_evaluation(client, session, world):
    login(client, "xsc")
    no_reason = override(client, world.teacher_b.id, grade="fail", reason="")
    assert no_reason.status_code == 400 and "请填写调整理由" in text(no_reason)
    bad_grade = override(client, world.teacher_b.id, grade="A+", reason="理由写得很清楚")
    assert bad_grade.status_code == 400 and "考核等级" in text(bad_grade)
    session.execute(TermEvaluation.__table__.delete())
    session.commit()
    none = override(client, world.teacher_b.id, grade="fail", reason="理由写得很清楚")
    assert none.status_code == 400 and "还没有考核结果" in text(none)
    assert audits(session, "grade.override") == []


# --- the audit page -------------------------------------------------------------------------------


def test_audit_page_lists_changes(client, session, world):
    login(client, "gq")
    incident(client, world.teacher_a.id)
    post_form(client, "/dashboard/", "/dashboard/logout", {})
    login(client, "xsc")
    page = text(client.get("/dashboard/audit"))
    assert "记录不合格情形" in page and "TA001 2026-2027-1" in page and "gq" in page
    filtered = text(client.get("/dashboard/audit?action=login"))
    assert "记录不合格情形" not in filtered.split("<tbody>")[1]
