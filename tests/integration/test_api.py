"""The bearer-token API: tokens stored as SHA-256, 401 without or with a bad token, the JSON
report of DESIGN.md, the privacy threshold, and the OpenAPI description."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from models import ApiToken, User, UserRole
from tests.support.dashboard import build_world, make_token, make_user

REPORT_KEYS = {
    "staff_no",
    "teacher",
    "department",
    "classes",
    "respondents",
    "eligible",
    "response_rate",
    "satisfaction_pct",
    "grade",
    "reasons",
    "logs",
    "flags",
}


@pytest.fixture
def world(session):
    return build_world(session)


@pytest.fixture
def token(session, world):
    return make_token(session, make_user(session, "xsc", UserRole.AFFAIRS))


def get(client, path: str, token: str | None = None, scheme: str = "Bearer"):
    headers = {"Authorization": f"{scheme} {token}"} if token else {}
    return client.get(path, headers=headers)


def test_token_is_stored_as_its_sha256(session, token):
    stored = session.scalar(select(ApiToken.token_hash))
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored


@pytest.mark.parametrize(
    ("header"),
    [None, "Bearer", "Bearer wrong", "Basic eHNjOnBhc3N3b3Jk", "bearer "],
)
def test_missing_or_bad_token_is_401(client, token, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/terms/2026-2027-1/evaluations", headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "令牌" in response.get_json()["error"]


def test_the_scheme_is_case_insensitive_and_use_is_recorded(client, session, token):
    assert get(client, "/api/v1/terms", token, scheme="bearer").status_code == 200
    session.rollback()
    assert session.scalar(select(ApiToken.last_used_at)) is not None


def test_evaluations_is_the_json_report(client, world, token):
    rows = get(client, "/api/v1/terms/2026-2027-1/evaluations", token).get_json()
    assert [r["staff_no"] for r in rows] == ["TB001", "TA001"]  # 管弦 < 钢琴 by name order
    for row in rows:
        assert set(row) >= REPORT_KEYS
    a = next(r for r in rows if r["staff_no"] == "TA001")
    assert a["teacher"] == "甲老师" and a["department"] == "钢琴系党总支"
    assert a["classes"] == ["钢琴2025级1班"]
    assert (a["respondents"], a["eligible"], a["grade"]) == (6, 6, "优秀")
    assert a["satisfaction_pct"] == 100.0 and a["logs"] == {"talk": 2}


def test_teacher_breakdown_only_at_the_threshold(client, world, token):
    a = get(client, "/api/v1/terms/2026-2027-1/teachers/TA001", token).get_json()
    assert a["breakdown_shown"] is True and a["respondents"] == 6
    assert a["questions"][0]["question"] == "care" and a["questions"][0]["mean_score"] == 100.0
    assert sorted(a["comments"]) == [f"A意见{i}" for i in range(6)]
    b = get(client, "/api/v1/terms/2026-2027-1/teachers/TB001", token).get_json()
    # 3 respondents, below the default minimum of 5: percentage and grade only.
    assert b["breakdown_shown"] is False
    assert b["questions"] is None and b["comments"] is None
    assert b["evaluation"]["grade"] == "合格" and b["evaluation"]["satisfaction_pct"] == 65.0
    assert "B意见" not in str(b)


def test_unknown_term_teacher_and_bad_filter(client, world, token):
    assert get(client, "/api/v1/terms/2030-2031-1/overview", token).status_code == 404
    assert get(client, "/api/v1/terms/2026-2027-1/teachers/NOBODY", token).status_code == 404
    bad = get(client, "/api/v1/terms/2026-2027-1/teachers?grade=A", token)
    assert bad.status_code == 400 and "error" in bad.get_json()


def test_overview_and_filters(client, world, token):
    overview = get(client, "/api/v1/terms/2026-2027-1/overview", token).get_json()
    assert overview["teachers"] == 2 and overview["respondents"] == 9
    assert overview["grades"] == {"优秀": 1, "良好": 0, "合格": 1, "不合格": 0}
    fails = get(client, "/api/v1/terms/2026-2027-1/teachers?grade=pass", token).get_json()
    assert [r["staff_no"] for r in fails] == ["TB001"]


def test_rounds_show_live_progress(client, world, token):
    (rnd,) = get(client, "/api/v1/terms/2026-2027-1/rounds", token).get_json()
    # The world's round is closed (its responses exist only once closed).
    assert rnd["survey"] == "satisfaction" and rnd["open"] is False
    assert rnd["eligible"] == 9


def test_openapi_description(client, world):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert "/terms/{term}/evaluations" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    required = set(spec["components"]["schemas"]["ReportRow"]["required"])
    assert required == REPORT_KEYS


def test_a_branch_token_follows_its_users_department(client, session, world):
    user = make_user(session, "gx", UserRole.BRANCH, world.dep_b)
    token = make_token(session, user)
    me = get(client, "/api/v1/me", token).get_json()
    assert me == {"username": "gx", "role": "branch", "department": "管弦系党总支"}
    rows = get(client, "/api/v1/terms/2026-2027-1/evaluations", token).get_json()
    assert [r["staff_no"] for r in rows] == ["TB001"]
    # Deleting the user revokes its tokens.
    session.delete(session.get(User, user.id))
    session.commit()
    assert get(client, "/api/v1/me", token).status_code == 401
