"""BANZHUREN_MIN_PARTICIPATION (DESIGN.md): under the minimum share of eligible students a
teacher's satisfaction is 数据不足, and, as under the minimum respondents, only the percentage
and the grade are shown — in the evaluation, the report, the API and the teacher page."""

from __future__ import annotations

from sqlalchemy import select

from bot import create_app
from core.evaluation.run import evaluate_term
from core.reports import evaluation_rows
from models import TermEvaluation, UserRole
from tests.conftest import make_settings
from tests.integration.evaluation_school import build_scenario
from tests.support.dashboard import build_world, login, make_token, make_user

CODE = "2026-2027-1"


def _good(session) -> dict:
    return next(r for r in evaluation_rows(session, CODE) if r["teacher"] == "张老师")


def test_evaluation_flags_and_hides_details_under_the_minimum(session, settings):
    # 张老师: 5 of 6 students answered (83.3%), 84.0 优秀, a dorm visit nobody confirms.
    build_scenario(session)
    evaluate_term(CODE, settings.min_respondents, min_participation=90)
    session.rollback()  # a fresh snapshot after the evaluation's own transaction
    low = _good(session)
    assert "参评率低于90%" in low["flags"] and "数据不足" in low["flags"]
    assert low["ci_low"] is None and low["ci_high"] is None
    assert low["straight_lined"] is None or low["straight_lined"] == 0
    assert not any("未获学生印证" in f for f in low["flags"])
    # The grade still follows the satisfaction, as under the minimum respondents.
    assert (low["satisfaction_pct"], low["grade"]) == (84.0, "优秀")

    evaluate_term(CODE, settings.min_respondents, min_participation=80)
    session.rollback()  # a fresh snapshot after the evaluation's own transaction
    ok = _good(session)
    assert "数据不足" not in ok["flags"] and not any("参评率" in f for f in ok["flags"])
    assert ok["ci_low"] is not None
    assert any("未获学生印证" in f for f in ok["flags"])


def test_pages_and_api_follow_the_setting(db_url, session):
    world = build_world(session)
    token = make_token(session, make_user(session, "xsc", UserRole.AFFAIRS))
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == world.teacher_a.id)
    )
    ev.response_rate = 0.5
    session.commit()
    path = f"/dashboard/teachers/{world.teacher_a.id}?term={CODE}"

    strict = create_app(make_settings(db_url, min_participation=60)).test_client()
    login(strict, "xsc")
    html = strict.get(path).get_data(as_text=True)
    assert "参评率 50.0%，低于 60%" in html and "A意见0" not in html

    lax = create_app(make_settings(db_url, min_participation=50)).test_client()
    login(lax, "xsc")
    html = lax.get(path).get_data(as_text=True)
    assert "A意见0" in html and "低于 50%" not in html

    api = f"/api/v1/terms/{CODE}/teachers/{world.teacher_a.staff_no}"
    auth = {"Authorization": f"Bearer {token}"}
    body = strict.get(api, headers=auth).get_json()
    assert body["breakdown_shown"] is False and body["comments"] is None
    body = lax.get(api, headers=auth).get_json()
    assert body["breakdown_shown"] is True and "A意见0" in body["comments"]
