"""Scope is derived, never granted by the scoped user: the scope-widening sequence of issue 12
(a branch files an application for another department's teacher on its own class, then opens
that teacher) ends in 403/404 with nothing written; only Student Affairs' approval makes such a
teacher visible, and then only their work in the branch's classes."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select, update

from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    Award,
    Ballot,
    Incident,
    LogKind,
    Meeting,
    MeetingKind,
    User,
    UserRole,
    WorkLogEntry,
)
from tests.support.dashboard import build_world, login, make_token, make_user, post_form


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    gx = make_user(session, "gx", UserRole.BRANCH, w.dep_b)  # 管弦系: teacher_a is not theirs
    make_user(session, "gq", UserRole.BRANCH, w.dep_a)
    w.gx_token = make_token(session, gx)
    return w


def fresh(session) -> None:
    session.rollback()
    session.expire_all()


def count(session, model, *where) -> int:
    fresh(session)
    return session.scalar(select(func.count()).select_from(model).where(*where))


def apply_for(client, staff_no: str, class_code: str):
    return post_form(
        client,
        "/dashboard/appointments",
        "/dashboard/appointments/new",
        {"staff_no": staff_no, "class_code": class_code, "start_date": "2026-10-01"},
    )


def teacher_a_page(client, w):
    return client.get(f"/dashboard/teachers/{w.teacher_a.id}?term={w.term.code}")


def teacher_a_api(client, w):
    return client.get(
        f"/api/v1/terms/{w.term.code}/teachers/TA001",
        headers={"Authorization": f"Bearer {w.gx_token}"},
    )


def incident_on_a(client, w):
    return post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/teachers/{w.teacher_a.id}/incidents",
        {
            "term": w.term.code,
            "kind": "serious",
            "occurred_on": "2026-10-05",
            "description": "严重责任事件",
        },
    )


def test_the_scope_widening_sequence_is_refused(client, session, world):
    login(client, "gx")
    appointments = count(session, Appointment)
    audits = count(session, AuditLog, AuditLog.action != "login")
    filed = apply_for(client, "TA001", "GX2025")
    assert filed.status_code == 403
    assert "只能为本党总支的教师登记聘任申请" in filed.get_data(as_text=True)
    assert count(session, Appointment) == appointments
    assert count(session, AuditLog, AuditLog.action != "login") == audits
    assert teacher_a_page(client, world).status_code == 404
    assert teacher_a_api(client, world).status_code == 404
    assert incident_on_a(client, world).status_code == 404
    assert count(session, Incident) == 0
    # Its own department's teacher may be applied for.
    assert apply_for(client, "TB001", "GX2025").status_code == 302


def test_pending_or_rejected_applications_grant_nothing(app, client, session, world):
    # Student Affairs files the application (it may, for anyone) on the branch's class.
    affairs = app.test_client()
    login(affairs, "xsc")
    assert apply_for(affairs, "TA001", "GX2025").status_code == 302
    fresh(session)
    pending = session.scalar(
        select(Appointment).where(Appointment.status == AppointmentStatus.APPLIED)
    )
    login(client, "gx")
    for status in (
        AppointmentStatus.APPLIED,
        AppointmentStatus.BRANCH_REVIEWED,
        AppointmentStatus.REJECTED,
    ):
        fresh(session)  # a new transaction: the app has written since the last one began
        session.execute(
            update(Appointment).where(Appointment.id == pending.id).values(status=status)
        )
        session.commit()
        assert teacher_a_page(client, world).status_code == 404, status
        assert teacher_a_api(client, world).status_code == 404, status
        assert incident_on_a(client, world).status_code == 404, status
        meeting = post_form(
            client,
            "/dashboard/meetings",
            "/dashboard/meetings",
            {
                "kind": "staff_meeting",
                "held_on": "2026-10-10",
                "title": "例会",
                "attendees": [str(world.teacher_a.id)],
            },
        )
        assert meeting.status_code == 400, status
    assert count(session, Incident) == 0 and count(session, Meeting) == 0


def test_an_approved_appointment_shows_only_the_work_in_the_branchs_classes(client, session, world):
    session.add(
        Appointment(
            teacher_id=world.teacher_a.id,
            class_id=world.class_b.id,
            start_date=dt.date(2026, 9, 1),
            end_date=dt.date(2027, 9, 1),
            status=AppointmentStatus.AFFAIRS_APPROVED,
        )
    )
    session.add(
        WorkLogEntry(
            teacher_id=world.teacher_a.id,
            class_id=world.class_b.id,
            kind=LogKind.DORM_VISIT,
            occurred_on=dt.date(2026, 10, 9),
            text="走访管弦寝室",
            raw="走访管弦寝室",
        )
    )
    session.commit()
    login(client, "gx")
    page = teacher_a_page(client, world)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "走访管弦寝室" in html
    # Not the teacher's work elsewhere, their grade or their students' comments.
    assert "与学生谈心" not in html and "A意见" not in html and "优秀" not in html
    assert "钢琴2025级1班" not in html
    body = teacher_a_api(client, world).get_json()
    assert [e["text"] for e in body["worklog"]] == ["走访管弦寝室"]
    assert body["evaluation"] is None and body["comments"] is None
    # Approved is not appointed: an incident fails the teacher for the whole term, so the
    # branch records one only where its appointment is in force (聘任 done, within the dates).
    refused = incident_on_a(client, world)
    assert refused.status_code == 403
    assert "只能登记其在本党总支班级聘期内" in refused.get_data(as_text=True)
    assert count(session, Incident) == 0


def _borrowed(session, world, status, start, end, ended_on=None):
    session.add(
        Appointment(
            teacher_id=world.teacher_a.id,
            class_id=world.class_b.id,
            start_date=start,
            end_date=end,
            ended_on=ended_on,
            end_reason="辞职" if ended_on else None,
            status=status,
        )
    )
    session.commit()


@pytest.mark.parametrize(
    ("status", "start", "end", "ended_on", "allowed"),
    [
        (AppointmentStatus.HR_FILED, dt.date(2026, 9, 1), dt.date(2027, 9, 1), None, False),
        (AppointmentStatus.APPOINTED, dt.date(2026, 9, 1), dt.date(2027, 9, 1), None, True),
        # Appointed, but from after the day of the incident (2026-10-05).
        (AppointmentStatus.APPOINTED, dt.date(2026, 10, 6), dt.date(2027, 10, 6), None, False),
        # Ended by resignation before it.
        (
            AppointmentStatus.RESIGNED,
            dt.date(2026, 9, 1),
            dt.date(2027, 9, 1),
            dt.date(2026, 10, 4),
            False,
        ),
        (
            AppointmentStatus.RESIGNED,
            dt.date(2026, 9, 1),
            dt.date(2027, 9, 1),
            dt.date(2026, 10, 5),
            True,
        ),
    ],
)
def test_an_incident_on_a_borrowed_teacher_needs_the_appointment_in_force(
    client, session, world, status, start, end, ended_on, allowed
):
    _borrowed(session, world, status, start, end, ended_on)
    login(client, "gx")
    response = incident_on_a(client, world)
    assert response.status_code == (302 if allowed else 403)
    assert count(session, Incident) == (1 if allowed else 0)
    assert count(session, AuditLog, AuditLog.action == "incident.add") == (1 if allowed else 0)


def test_own_teachers_and_affairs_are_not_limited_by_the_appointment(app, client, session, world):
    # The branch's own teacher B (appointed in the world) and Student Affairs on teacher A.
    login(client, "gx")
    own = post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/teachers/{world.teacher_b.id}/incidents",
        {
            "term": world.term.code,
            "kind": "serious",
            "occurred_on": "2026-10-05",
            "description": "x",
        },
    )
    assert own.status_code == 302
    affairs = app.test_client()
    login(affairs, "xsc")
    assert incident_on_a(affairs, world).status_code == 302
    assert count(session, Incident) == 2


def test_branch_does_not_see_other_departments_attendees(client, session, world):
    meeting = Meeting(
        department_id=None, kind=MeetingKind.TRAINING, held_on=dt.date(2026, 10, 20), title="培训"
    )
    meeting.attendees = [world.teacher_a, world.teacher_b]
    session.add(meeting)
    session.commit()
    login(client, "gq")
    html = client.get(f"/dashboard/meetings?term={world.term.code}").get_data(as_text=True)
    assert "甲老师" in html and "乙老师" not in html


# --- issue 25: the holes a scanner found in a branch's scope --------------------------------


def _appoint_a_to_class_b(session, world) -> None:
    """Teacher A (钢琴系) appointed, in force, to 管弦系's class: 管弦系 now borrows them."""
    session.add(
        Appointment(
            teacher_id=world.teacher_a.id,
            class_id=world.class_b.id,
            start_date=dt.date(2026, 9, 1),
            end_date=dt.date(2027, 9, 1),
            status=AppointmentStatus.APPOINTED,
        )
    )
    session.commit()


def test_a_branch_downloads_no_borrowed_teachers_award(app, client, session, world):
    _appoint_a_to_class_b(session, world)
    award = Award(
        teacher_id=world.teacher_a.id, academic_year=world.term.code[:9], status="awarded"
    )
    session.add(award)
    session.commit()
    login(client, "gx")
    # Ids are sequential: the single download is scoped exactly as the merged one.
    assert client.get(f"/dashboard/documents/award/{award.id}.docx").status_code == 404
    assert client.get(f"/dashboard/documents/award.docx?term={world.term.code}").status_code == 404
    page = teacher_a_page(client, world).get_data(as_text=True)
    assert "荣誉证书" not in page
    # The teacher's own branch and Student Affairs get it.
    for who in ("gq", "xsc"):
        other = app.test_client()
        login(other, who)
        got = other.get(f"/dashboard/documents/award/{award.id}.docx")
        assert got.status_code == 200, who
        assert got.data[:2] == b"PK"
        assert "荣誉证书" in other.get(
            f"/dashboard/teachers/{world.teacher_a.id}?term={world.term.code}"
        ).get_data(as_text=True)


def _ballots(session, world, teacher, students) -> None:
    for student in students:
        session.add(
            Ballot(
                round_id=world.round.id,
                student_id=student.id,
                teacher_id=teacher.id,
                submitted_on=dt.date(2026, 12, 1),
            )
        )
    session.commit()


def test_a_branchs_round_figures_count_its_own_classes_only(client, session, world):
    _appoint_a_to_class_b(session, world)
    a_students = list(world.class_a.students)
    b_students = list(world.class_b.students)
    assert (len(a_students), len(b_students)) == (6, 3)
    # Teacher A: all 6 of their 钢琴系 class answered, 1 of the 3 in 管弦系's; teacher B: 2 of 3.
    _ballots(session, world, world.teacher_a, a_students + b_students[:1])
    _ballots(session, world, world.teacher_b, b_students[:2])
    login(client, "gx")
    rounds = client.get(
        f"/api/v1/terms/{world.term.code}/rounds",
        headers={"Authorization": f"Bearer {world.gx_token}"},
    ).get_json()
    (rnd,) = rounds
    per_teacher = {p["teacher_id"]: (p["answered"], p["eligible"]) for p in rnd["teachers"]}
    assert per_teacher == {world.teacher_a.id: (1, 3), world.teacher_b.id: (2, 3)}
    assert (rnd["answered"], rnd["eligible"]) == (3, 6)
    html = client.get(f"/dashboard/rounds?term={world.term.code}").get_data(as_text=True)
    assert "（3/6）" in html
    # Student Affairs still sees the whole school: A 7 of 9, B 2 of 3.
    affairs = make_token(session, session.scalar(select(User).where(User.username == "xsc")))
    (whole,) = client.get(
        f"/api/v1/terms/{world.term.code}/rounds",
        headers={"Authorization": f"Bearer {affairs}"},
    ).get_json()
    assert (whole["answered"], whole["eligible"]) == (9, 12)
