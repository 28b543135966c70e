"""Role hr (人事处, issue 25.4): the allowance sheet, the appointments and their 人事处备案 step,
the appointments' documents; nothing of survey figures beyond the grade, no comments, no
work-log text, and no other step of the workflow. The route-by-route matrix is
test_route_scope.py; this file checks what hr sees and does on the routes it may use."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from core.accounts import disable_user
from models import Appointment, AppointmentStatus, AuditLog, User, UserRole
from tests.support.dashboard import build_world, login, make_token, make_user, post_form

# What hr must never read: the students' comments, the work log, the survey figures.
SECRETS = ("A意见", "B意见", "与学生谈心", "满意度", "参评率")


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    w.hr_user = make_user(session, "rsc", UserRole.HR)
    make_user(session, "gq", UserRole.BRANCH, w.dep_a)
    w.pending = Appointment(
        teacher_id=w.teacher_a.id,
        class_id=w.class_b.id,
        start_date=dt.date(2026, 11, 1),
        end_date=dt.date(2027, 11, 1),
        status=AppointmentStatus.AFFAIRS_APPROVED,
    )
    session.add(w.pending)
    session.commit()
    return w


def step(client, appointment_id: int, target: str, **extra):
    return post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/appointments/{appointment_id}/step",
        {"target": target, **extra},
    )


def status_of(session, appointment_id: int) -> AppointmentStatus:
    session.rollback()
    session.expire_all()
    return session.get(Appointment, appointment_id).status


def test_hr_lands_on_the_appointments_with_its_own_menu(client, world):
    response = login(client, "rsc")
    assert response.headers["Location"].endswith("/dashboard/appointments")
    assert client.get("/").headers["Location"].endswith("/dashboard/appointments")
    html = client.get("/dashboard/appointments").get_data(as_text=True)
    nav = html[html.index('<nav id="nav">') : html.index("</nav>")]
    assert "补贴" in nav and "聘任" in nav
    for other in ("学期概览", "班主任考核", "先进候选", "满意度测评", "例会培训", "用户管理"):
        assert other not in nav, other
    assert "rsc（人事处）" in html
    # No application form (that is the branches'), no link to the teacher pages (only to the
    # 任职证明 download, which is hr's, issue 25.3).
    assert "登记新的聘任申请" not in html
    assert f'href="/dashboard/teachers/{world.teacher_a.id}"' not in html
    assert f'href="/dashboard/teachers/{world.teacher_a.id}?' not in html
    assert f'href="/dashboard/teachers/{world.teacher_a.id}/service.docx"' in html
    # The 备案 button on the approved appointment, and no other step.
    row = html[html.index(f'id="appointment-{world.pending.id}"') :]
    row = row[: row.index("</tr>")]
    assert 'name="target" value="hr_filed"' in row
    assert 'name="target" value="appointed"' not in html
    assert 'name="target" value="dismissed"' not in html


def test_hr_reads_the_allowance_sheet_and_nothing_of_the_survey(client, session, world):
    login(client, "rsc")
    t = world.term.code
    token = make_token(session, world.hr_user)
    headers = {"Authorization": f"Bearer {token}"}
    readable = {
        "/dashboard/appointments": client.get("/dashboard/appointments"),
        "/dashboard/allowances": client.get(f"/dashboard/allowances?term={t}"),
        "allowance.csv": client.get(f"/dashboard/download/allowance.csv?term={t}"),
        "allowance.json": client.get(f"/dashboard/download/allowance.json?term={t}"),
        "api allowances": client.get(f"/api/v1/terms/{t}/allowances", headers=headers),
    }
    for name, response in readable.items():
        assert response.status_code == 200, name
        text = response.get_data(as_text=True)
        for secret in SECRETS:
            assert secret not in text, (name, secret)
    sheet = readable["allowance.csv"].get_data(as_text=True)
    assert "TA001" in sheet and "TB001" in sheet and "1500" in sheet
    assert {r["staff_no"] for r in readable["api allowances"].get_json()} == {"TA001", "TB001"}
    # The adversary's reads: comments, log text and figures, by page, file and API.
    for path in (
        f"/dashboard/teachers/{world.teacher_a.id}?term={t}",
        f"/dashboard/download/evaluation.csv?term={t}",
        f"/dashboard/download/evaluation.json?term={t}",
        f"/dashboard/download/award.csv?term={t}",
        f"/dashboard/?term={t}",
        f"/dashboard/rounds?term={t}",
        f"/dashboard/classes/{world.class_a.code}?term={t}",
    ):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "A意见" not in response.get_data(as_text=True)
    for path in ("teachers/TA001", "evaluations", "teachers", "overview", "rounds", "awards"):
        response = client.get(f"/api/v1/terms/{t}/{path}", headers=headers)
        assert response.status_code == 403, path
        assert "A意见" not in response.get_data(as_text=True)


def test_hr_downloads_the_appointment_documents_only(client, session, world):
    login(client, "rsc")
    t = world.term.code
    got = client.get(f"/dashboard/documents/application/{world.pending.id}.docx")
    assert got.status_code == 200 and got.data[:2] == b"PK"
    assert client.get(f"/dashboard/documents/application.docx?term={t}").status_code == 200
    assert client.get(f"/dashboard/documents/award.docx?term={t}").status_code == 403


def test_hr_files_the_record_and_takes_no_other_step(app, client, session, world):
    login(client, "rsc")
    filed = step(client, world.pending.id, "hr_filed")
    assert filed.status_code == 302
    assert status_of(session, world.pending.id) == AppointmentStatus.HR_FILED
    audit = session.scalar(
        select(AuditLog).where(AuditLog.action == "appointment.transition").order_by(AuditLog.id)
    )
    assert audit.actor == "rsc" and audit.detail["after"] == "hr_filed"
    # 聘任 is Student Affairs'; 解聘 the branch's or Student Affairs'; 初审 the branch's.
    refused = step(client, world.pending.id, "appointed")
    assert refused.status_code == 403
    assert "不由人事处办理" in refused.get_data(as_text=True)
    ended = step(
        client, world.appointment_a.id, "dismissed", ended_on="2026-10-01", reason="人事处越权"
    )
    assert ended.status_code == 403
    assert status_of(session, world.appointment_a.id) == AppointmentStatus.APPOINTED
    assert status_of(session, world.pending.id) == AppointmentStatus.HR_FILED
    # Out of order is bad input, as for anyone.
    assert step(client, world.appointment_a.id, "hr_filed").status_code == 409
    # Then Student Affairs appoints.
    affairs = app.test_client()
    login(affairs, "xsc")
    assert step(affairs, world.pending.id, "appointed").status_code == 302
    assert status_of(session, world.pending.id) == AppointmentStatus.APPOINTED


def test_hr_cannot_write_what_is_not_its_own(client, session, world):
    login(client, "rsc")
    before = session.scalar(select(func.count()).select_from(Appointment))
    applied = post_form(
        client,
        "/dashboard/appointments",
        "/dashboard/appointments/new",
        {"staff_no": "TA001", "class_code": "GQ2025", "start_date": "2026-12-01"},
    )
    assert applied.status_code == 403
    incident = post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/teachers/{world.teacher_a.id}/incidents",
        {
            "term": world.term.code,
            "kind": "serious",
            "occurred_on": "2026-10-05",
            "description": "x",
        },
    )
    assert incident.status_code == 403
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Appointment)) == before
    assert session.scalar(select(AuditLog).where(AuditLog.action == "incident.add")) is None


def test_affairs_files_on_hrs_behalf_only_while_hr_has_no_account(app, session, world):
    affairs = app.test_client()
    login(affairs, "xsc")
    html = affairs.get("/dashboard/appointments").get_data(as_text=True)
    assert 'name="target" value="hr_filed"' not in html
    refused = step(affairs, world.pending.id, "hr_filed")
    assert refused.status_code == 403
    assert "人事处备案由人事处办理" in refused.get_data(as_text=True)
    assert status_of(session, world.pending.id) == AppointmentStatus.AFFAIRS_APPROVED
    # The branch never files it.
    branch = app.test_client()
    login(branch, "gq")
    session.rollback()  # a new transaction: the app has written since the last one began
    approved_a = Appointment(
        teacher_id=world.teacher_a.id,
        class_id=world.class_a.id,
        start_date=dt.date(2027, 9, 1),
        end_date=dt.date(2028, 9, 1),
        status=AppointmentStatus.AFFAIRS_APPROVED,
    )
    session.add(approved_a)
    session.commit()
    assert step(branch, approved_a.id, "hr_filed").status_code == 403
    # A school whose 人事处 has no (active) account: Student Affairs records it, as before.
    session.rollback()
    disable_user(session, session.get(User, world.hr_user.id))
    session.commit()
    assert 'name="target" value="hr_filed"' in affairs.get("/dashboard/appointments").get_data(
        as_text=True
    )
    assert step(affairs, world.pending.id, "hr_filed").status_code == 302
    assert status_of(session, world.pending.id) == AppointmentStatus.HR_FILED


def test_affairs_adds_an_hr_user_on_the_users_page(client, session, world):
    login(client, "xsc")
    response = post_form(
        client,
        "/dashboard/users",
        "/dashboard/users/new",
        {"username": "renshichu", "role": "hr", "password": "a-long-password-9"},
    )
    assert response.status_code == 302
    session.rollback()
    user = session.scalar(select(User).where(User.username == "renshichu"))
    assert user.role == UserRole.HR and user.department_id is None
    assert "人事处" in client.get("/dashboard/users").get_data(as_text=True)
