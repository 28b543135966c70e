"""Issue 15 on the dashboard: the rounds page's reach figures, the 一键催填 button (CSRF-
protected, a branch only within its department) and unbound students listed per class."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditLog, OutboundMessage, RoundContact, Student, UserRole, WeChatBinding
from tests.support.dashboard import build_world, csrf_from, login, make_user, post_form


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gq", UserRole.BRANCH, w.dep_a)
    w.round.closed_at = None  # open again (build_world closes it)
    # Two students of each department bound; the others are not.
    for prefix in ("A", "B"):
        for i in range(2):
            student = session.scalar(
                select(Student).where(Student.student_no == f"{prefix}{i:04d}")
            )
            session.add(WeChatBinding(openid=f"o-{prefix}{i}", student_id=student.id))
    session.commit()
    return w


PAGE = "/dashboard/rounds?term=2026-2027-1"


def remind(client, **data):
    form = {"term": "2026-2027-1", "survey": "satisfaction", **data}
    return post_form(client, PAGE, "/dashboard/rounds/remind", form)


def reminded_openids(session) -> list[str]:
    session.rollback()
    return sorted(
        session.scalars(
            select(OutboundMessage.openid).join(
                RoundContact, RoundContact.outbound_id == OutboundMessage.id
            )
        )
    )


def test_branch_reminds_its_own_department_only(client, session, world):
    login(client, "gq")
    page = client.get(PAGE).get_data(as_text=True)
    assert "一键催填" in page and "未绑定微信" in page
    assert "钢琴2025级1班" in page and "管弦2025级1班" not in page  # unbound listed, in scope
    assert remind(client).status_code == 302
    assert reminded_openids(session) == ["o-A0", "o-A1"]
    # Once a day.
    assert remind(client).status_code == 302
    assert reminded_openids(session) == ["o-A0", "o-A1"]
    page = client.get(PAGE).get_data(as_text=True)
    assert "催填 2 人次" in page
    assert "被微信拒收的客服消息（45015/45047） 0" in page  # issue 23
    # Another department's class is out of scope: not found, nothing sent.
    other = remind(client, **{"class": "GX2025"})
    assert other.status_code == 400 and "没有班级 GX2025" in other.get_data(as_text=True)
    assert reminded_openids(session) == ["o-A0", "o-A1"]
    rows = session.scalars(select(AuditLog).where(AuditLog.action == "round.remind")).all()
    assert [(r.actor, r.detail["reminded"]) for r in rows] == [("gq", 2), ("gq", 0)]


def test_affairs_reminds_one_class(client, session, world):
    login(client, "xsc")
    assert remind(client, **{"class": "GX2025"}).status_code == 302
    assert reminded_openids(session) == ["o-B0", "o-B1"]


def test_remind_needs_the_csrf_token(client, session, world):
    login(client, "gq")
    csrf_from(client.get(PAGE).get_data(as_text=True))
    response = client.post(
        "/dashboard/rounds/remind", data={"term": "2026-2027-1", "survey": "satisfaction"}
    )
    assert response.status_code == 400
    assert reminded_openids(session) == []


# --- 第十四条: the monthly staff meeting reminder -----------------------------------------------


def test_staff_meeting_rule():
    import datetime as dt

    from core.reach.meetings import meeting_due

    assert not meeting_due(dt.date(2026, 11, 19), held_this_month=False)
    assert meeting_due(dt.date(2026, 11, 20), held_this_month=False)
    assert not meeting_due(dt.date(2026, 11, 30), held_this_month=True)


def test_branch_without_a_meeting_this_month_is_reminded_from_the_20th(
    client, session, world, monkeypatch
):
    import datetime as dt

    import bot.dashboard.admin as admin
    from models import Meeting, MeetingKind

    make_user(session, "gx", UserRole.BRANCH, world.dep_b)
    session.add(
        Meeting(
            department_id=world.dep_a.id,
            kind=MeetingKind.STAFF_MEETING,
            held_on=dt.date(2026, 11, 5),
            title="11月工作例会",
        )
    )
    session.commit()
    notice = "本月（11月）尚未记录例会"
    monkeypatch.setattr(admin, "today", lambda: dt.date(2026, 11, 19))
    login(client, "gx")
    assert notice not in client.get(PAGE).get_data(as_text=True)
    monkeypatch.setattr(admin, "today", lambda: dt.date(2026, 11, 20))
    assert notice in client.get(PAGE).get_data(as_text=True)
    for username in ("gq", "xsc"):  # gq held one on the 5th; xsc is not a branch
        other = client.application.test_client()
        login(other, username)
        assert notice not in other.get(PAGE).get_data(as_text=True)
