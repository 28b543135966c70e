"""The role matrix: Student Affairs, a Party branch and an anonymous visitor against every
dashboard page and API endpoint; a branch never sees another department, even by direct URL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from models import Incident, TermEvaluation, UserRole
from tests.support.dashboard import build_world, login, make_token, make_user, post_form


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gq", UserRole.BRANCH, w.dep_a)
    return w


def pages(w) -> list[tuple[str, int, int]]:
    """(path, status for affairs, status for the branch of department A)."""
    t = w.term.code
    return [
        (f"/dashboard/?term={t}", 200, 200),
        (f"/dashboard/teachers?term={t}", 200, 200),
        (f"/dashboard/teachers/{w.teacher_a.id}?term={t}", 200, 200),
        (f"/dashboard/teachers/{w.teacher_b.id}?term={t}", 200, 404),
        (f"/dashboard/awards?term={t}", 200, 200),
        (f"/dashboard/allowances?term={t}", 200, 200),
        (f"/dashboard/download/evaluation.xlsx?term={t}", 200, 200),
        (f"/dashboard/download/evaluation.csv?term={t}", 200, 200),
        (f"/dashboard/download/award.csv?term={t}", 200, 200),
        (f"/dashboard/download/allowance.xlsx?term={t}", 200, 200),
        ("/dashboard/appointments", 200, 200),
        (f"/dashboard/rounds?term={t}", 200, 200),
        (f"/dashboard/meetings?term={t}", 200, 200),
        ("/dashboard/roster", 200, 403),
        ("/dashboard/audit", 200, 403),
    ]


@pytest.mark.parametrize("who", ["xsc", "gq"])
def test_every_page_for_each_role(client, world, who):
    assert login(client, who).status_code == 302
    for path, affairs, branch in pages(world):
        expected = affairs if who == "xsc" else branch
        assert client.get(path).status_code == expected, path


def test_anonymous_is_sent_to_login_everywhere(client, world):
    for path, _, _ in pages(world):
        response = client.get(path)
        assert response.status_code == 302, path
        assert "/dashboard/login" in response.headers["Location"]
    assert client.get("/").headers["Location"].endswith("/dashboard/")


def test_branch_lists_hold_only_its_department(client, world):
    login(client, "gq")
    t = world.term.code
    for path in (
        f"/dashboard/?term={t}",
        f"/dashboard/teachers?term={t}",
        # Asking for the other department by filter gives nothing, not its rows.
        f"/dashboard/teachers?term={t}&department={world.dep_b.id}",
        f"/dashboard/allowances?term={t}",
        "/dashboard/appointments",
        f"/dashboard/rounds?term={t}",
        f"/dashboard/meetings?term={t}",
    ):
        html = client.get(path).get_data(as_text=True)
        assert "乙老师" not in html and "管弦2025级1班" not in html, path
    html = client.get(f"/dashboard/teachers?term={t}").get_data(as_text=True)
    assert "甲老师" in html
    csv = client.get(f"/dashboard/download/evaluation.csv?term={t}").get_data(as_text=True)
    assert "TA001" in csv and "TB001" not in csv


def test_affairs_sees_both_departments(client, world):
    login(client, "xsc")
    html = client.get(f"/dashboard/teachers?term={world.term.code}").get_data(as_text=True)
    assert "甲老师" in html and "乙老师" in html
    csv = client.get(f"/dashboard/download/evaluation.csv?term={world.term.code}").get_data(
        as_text=True
    )
    assert "TA001" in csv and "TB001" in csv


def test_branch_cannot_change_another_departments_records(client, world, session):
    login(client, "gq")
    page = f"/dashboard/teachers/{world.teacher_a.id}"
    incident = post_form(
        client,
        page,
        f"/dashboard/teachers/{world.teacher_b.id}/incidents",
        {
            "term": world.term.code,
            "kind": "serious",
            "occurred_on": "2026-10-01",
            "description": "越权",
        },
    )
    assert incident.status_code == 404
    step = post_form(
        client,
        "/dashboard/appointments",
        f"/dashboard/appointments/{world.appointment_b.id}/step",
        {"target": "resigned", "ended_on": "2026-10-01", "reason": "越权"},
    )
    assert step.status_code == 404
    override = post_form(
        client,
        page,
        f"/dashboard/teachers/{world.teacher_a.id}/override",
        {"term": world.term.code, "grade": "fail", "reason": "党总支不能调整等级"},
    )
    assert override.status_code == 403
    session.rollback()
    session.expire_all()
    assert session.scalar(select(Incident)) is None
    assert world.appointment_b.status.value == "appointed"
    assert all(ev.override_grade is None for ev in session.scalars(select(TermEvaluation)))


# --- the API ------------------------------------------------------------------------------


@pytest.fixture
def tokens(session, world):
    from models import User

    users = {u.username: u for u in session.scalars(select(User))}
    return {name: make_token(session, users[name]) for name in ("xsc", "gq")}


def endpoints(w) -> list[tuple[str, int, int]]:
    t = w.term.code
    return [
        ("/api/v1/me", 200, 200),
        ("/api/v1/terms", 200, 200),
        (f"/api/v1/terms/{t}/evaluations", 200, 200),
        (f"/api/v1/terms/{t}/overview", 200, 200),
        (f"/api/v1/terms/{t}/teachers", 200, 200),
        (f"/api/v1/terms/{t}/teachers/TA001", 200, 200),
        (f"/api/v1/terms/{t}/teachers/TB001", 200, 404),
        (f"/api/v1/terms/{t}/awards", 200, 200),
        (f"/api/v1/terms/{t}/allowances", 200, 200),
        (f"/api/v1/terms/{t}/rounds", 200, 200),
        ("/api/v1/terms/2030-2031-1/evaluations", 404, 404),
    ]


def test_api_matrix(client, world, tokens):
    for path, affairs, branch in endpoints(world):
        for who, expected in (("xsc", affairs), ("gq", branch)):
            response = client.get(path, headers={"Authorization": f"Bearer {tokens[who]}"})
            assert response.status_code == expected, (who, path)
        assert client.get(path).status_code == 401, path
        bad = client.get(path, headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401, path


def test_api_branch_rows_are_its_own(client, world, tokens):
    headers = {"Authorization": f"Bearer {tokens['gq']}"}
    t = world.term.code
    for path in ("evaluations", "teachers", "allowances"):
        rows = client.get(f"/api/v1/terms/{t}/{path}", headers=headers).get_json()
        assert [r["staff_no"] for r in rows] == ["TA001"], path
    overview = client.get(f"/api/v1/terms/{t}/overview", headers=headers).get_json()
    assert [d["department"] for d in overview["departments"]] == ["钢琴系党总支"]
    rounds = client.get(f"/api/v1/terms/{t}/rounds", headers=headers).get_json()
    assert {p["teacher_id"] for r in rounds for p in r["teachers"]} == {world.teacher_a.id}
    filtered = client.get(
        f"/api/v1/terms/{t}/teachers?department={world.dep_b.id}", headers=headers
    ).get_json()
    assert filtered == []
