"""One scope rule over every route (issue 25.4): the Flask url_map is enumerated, and for each
role (学生处 affairs, 党总支 branch, 人事处 hr) every route, read, write or download, is either
allowed or refused with 403 (and a refused write writes nothing). The table below is the
specification: a route added to the app without a decision here and in
``bot.dashboard.access.ROUTES`` fails ``test_every_route_has_a_scope_decision``, and is refused
to everyone meanwhile (``test_a_route_without_a_decision_is_refused``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select

from bot.dashboard import access
from core.accounts import issue_token
from models import (
    ApiToken,
    Appointment,
    AuditLog,
    Award,
    Incident,
    Meeting,
    SurveyRound,
    TermEvaluation,
    User,
    UserRole,
)
from tests.support.dashboard import build_world, csrf_from, login, make_token, make_user

AFFAIRS, BRANCH, HR = UserRole.AFFAIRS, UserRole.BRANCH, UserRole.HR
ALL = frozenset({AFFAIRS, BRANCH, HR})
OFFICES = frozenset({AFFAIRS, BRANCH})
ONLY_AFFAIRS = frozenset({AFFAIRS})
PUBLIC = "public"
USERS = {AFFAIRS: "xsc", BRANCH: "gq", HR: "rsc"}


@dataclass
class Sample:
    """One request to a route; ``allowed`` the roles that may make it. ``form``: a complete
    form, sent by a role that is refused (so that only the rule stands between it and a
    write); a role that is allowed sends the CSRF token alone (bad input, nothing written)."""

    endpoint: str
    method: str
    url: str
    allowed: frozenset[UserRole] | str
    form: dict = field(default_factory=dict)


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", AFFAIRS)
    make_user(session, "gq", BRANCH, w.dep_a)
    make_user(session, "rsc", HR)
    w.victim = make_user(session, "victim-user", BRANCH, w.dep_b)
    _, w.victim_token = issue_token(session, w.victim)
    w.award = Award(teacher_id=w.teacher_a.id, academic_year=w.term.code[:9], status="awarded")
    session.add(w.award)
    session.commit()
    return w


def samples(w) -> list[Sample]:
    t = w.term.code
    a = w.teacher_a.id
    incident = {"term": t, "kind": "serious", "occurred_on": "2026-10-05", "description": "越权"}
    return [
        Sample("dashboard.overview", "GET", f"/dashboard/?term={t}", OFFICES),
        Sample("dashboard.teachers", "GET", f"/dashboard/teachers?term={t}", OFFICES),
        Sample("dashboard.teacher", "GET", f"/dashboard/teachers/{a}?term={t}", OFFICES),
        Sample("dashboard.awards", "GET", f"/dashboard/awards?term={t}", OFFICES),
        Sample("dashboard.allowances", "GET", f"/dashboard/allowances?term={t}", ALL),
        Sample("dashboard.download", "GET", f"/dashboard/download/allowance.csv?term={t}", ALL),
        Sample("dashboard.download", "GET", f"/dashboard/download/allowance.xlsx?term={t}", ALL),
        Sample(
            "dashboard.download", "GET", f"/dashboard/download/evaluation.csv?term={t}", OFFICES
        ),
        Sample("dashboard.download", "GET", f"/dashboard/download/award.csv?term={t}", OFFICES),
        Sample("dashboard.appointments", "GET", "/dashboard/appointments", ALL),
        Sample(
            "dashboard.appointment_new",
            "POST",
            "/dashboard/appointments/new",
            OFFICES,
            {"staff_no": "TA001", "class_code": "GQ2025", "start_date": "2026-12-01"},
        ),
        Sample(
            "dashboard.appointment_step",
            "POST",
            f"/dashboard/appointments/{w.appointment_a.id}/step",
            ALL,
        ),
        Sample(
            "dashboard.document",
            "GET",
            f"/dashboard/documents/application/{w.appointment_a.id}.docx",
            ALL,
        ),
        Sample(
            "dashboard.document",
            "GET",
            f"/dashboard/documents/appointment/{w.appointment_a.id}.docx",
            ALL,
        ),
        Sample(
            "dashboard.document", "GET", f"/dashboard/documents/award/{w.award.id}.docx", OFFICES
        ),
        Sample(
            "dashboard.teacher_logbook", "GET", f"/dashboard/teachers/{a}/logbook.docx", OFFICES
        ),
        Sample("dashboard.teacher_service", "GET", f"/dashboard/teachers/{a}/service.docx", ALL),
        Sample(
            "dashboard.term_documents_merged",
            "GET",
            f"/dashboard/documents/application.docx?term={t}",
            ALL,
        ),
        Sample(
            "dashboard.term_documents_merged",
            "GET",
            f"/dashboard/documents/appointment.docx?term={t}",
            ALL,
        ),
        Sample(
            "dashboard.term_documents_merged",
            "GET",
            f"/dashboard/documents/award.docx?term={t}",
            OFFICES,
        ),
        Sample("dashboard.rounds", "GET", f"/dashboard/rounds?term={t}", OFFICES),
        Sample(
            "dashboard.round_open",
            "POST",
            "/dashboard/rounds/open",
            ONLY_AFFAIRS,
            {"term": t, "survey": "satisfaction"},
        ),
        Sample(
            "dashboard.round_close",
            "POST",
            "/dashboard/rounds/close",
            ONLY_AFFAIRS,
            {"term": t, "survey": "satisfaction"},
        ),
        Sample(
            "dashboard.round_remind",
            "POST",
            "/dashboard/rounds/remind",
            OFFICES,
            {"term": t, "survey": "satisfaction"},
        ),
        Sample("dashboard.class_poster", "GET", "/dashboard/classes/GQ2025/poster.png", OFFICES),
        Sample("dashboard.school_class", "GET", f"/dashboard/classes/GQ2025?term={t}", OFFICES),
        Sample("dashboard.meetings", "GET", f"/dashboard/meetings?term={t}", OFFICES),
        Sample("dashboard.feedback", "GET", "/dashboard/feedback", OFFICES),
        Sample(
            "dashboard.meetings",
            "POST",
            "/dashboard/meetings",
            OFFICES,
            {"kind": "staff_meeting", "held_on": "2026-10-10", "title": "例会"},
        ),
        Sample(
            "dashboard.incident_add",
            "POST",
            f"/dashboard/teachers/{a}/incidents",
            OFFICES,
            incident,
        ),
        Sample(
            "dashboard.grade_override",
            "POST",
            f"/dashboard/teachers/{a}/override",
            ONLY_AFFAIRS,
            {"term": t, "grade": "fail", "reason": "越权调整等级"},
        ),
        Sample("dashboard.publish", "POST", "/dashboard/publish", ONLY_AFFAIRS, {"term": t}),
        Sample("dashboard.trends", "GET", "/dashboard/trends", OFFICES),
        Sample("dashboard.comment_queue", "GET", f"/dashboard/comments?term={t}", ONLY_AFFAIRS),
        Sample(
            "dashboard.comment_review_post",
            "POST",
            f"/dashboard/comments/review?term={t}",
            ONLY_AFFAIRS,
            {"answer": "0" * 32, "decision": "show", "reason": "越权显示"},
        ),
        Sample(
            "dashboard.comment_show_unheld",
            "POST",
            f"/dashboard/comments/show-unheld?term={t}",
            ONLY_AFFAIRS,
            {},
        ),
        Sample(
            "dashboard.award_grant",
            "POST",
            f"/dashboard/awards/grant?term={t}",
            ONLY_AFFAIRS,
            {"teacher": str(a)},
        ),
        Sample("dashboard.roster", "GET", "/dashboard/roster", ONLY_AFFAIRS),
        Sample("dashboard.roster", "POST", "/dashboard/roster", ONLY_AFFAIRS),
        Sample("dashboard.audit_log", "GET", "/dashboard/audit", ONLY_AFFAIRS),
        Sample("dashboard.users", "GET", "/dashboard/users", ONLY_AFFAIRS),
        Sample(
            "dashboard.user_new",
            "POST",
            "/dashboard/users/new",
            ONLY_AFFAIRS,
            {"username": "intruder", "role": "affairs", "password": "a-long-password-9"},
        ),
        Sample(
            "dashboard.user_reset", "POST", f"/dashboard/users/{w.victim.id}/reset", ONLY_AFFAIRS
        ),
        Sample(
            "dashboard.user_unlock", "POST", f"/dashboard/users/{w.victim.id}/unlock", ONLY_AFFAIRS
        ),
        Sample(
            "dashboard.user_disable",
            "POST",
            f"/dashboard/users/{w.victim.id}/disable",
            ONLY_AFFAIRS,
        ),
        Sample(
            "dashboard.user_enable", "POST", f"/dashboard/users/{w.victim.id}/enable", ONLY_AFFAIRS
        ),
        Sample(
            "dashboard.token_new",
            "POST",
            f"/dashboard/users/{w.victim.id}/tokens",
            ONLY_AFFAIRS,
            {"label": "越权", "days": "30"},
        ),
        Sample(
            "dashboard.token_revoke",
            "POST",
            f"/dashboard/tokens/{w.victim_token.id}/revoke",
            ONLY_AFFAIRS,
        ),
        Sample("dashboard.own_password", "GET", "/dashboard/account/password", ALL),
        Sample("dashboard.own_password", "POST", "/dashboard/account/password", ALL),
        # Last: it ends the session.
        Sample("dashboard.logout", "POST", "/dashboard/logout", ALL),
    ]


def api_samples(w) -> list[Sample]:
    t = w.term.code
    return [
        Sample("api.me", "GET", "/api/v1/me", ALL),
        Sample("api.terms", "GET", "/api/v1/terms", ALL),
        Sample("api.allowances", "GET", f"/api/v1/terms/{t}/allowances", ALL),
        Sample("api.evaluations", "GET", f"/api/v1/terms/{t}/evaluations", OFFICES),
        Sample("api.overview", "GET", f"/api/v1/terms/{t}/overview", OFFICES),
        Sample("api.teachers", "GET", f"/api/v1/terms/{t}/teachers", OFFICES),
        Sample("api.teacher", "GET", f"/api/v1/terms/{t}/teachers/TA001", OFFICES),
        Sample("api.awards", "GET", f"/api/v1/terms/{t}/awards", OFFICES),
        Sample("api.rounds", "GET", f"/api/v1/terms/{t}/rounds", OFFICES),
        Sample("api.trends", "GET", "/api/v1/trends", OFFICES),
    ]


# Routes that authenticate themselves or show nothing of the school.
PUBLIC_ROUTES = {
    "root",
    "favicon",
    "static",
    "wechat.receive",
    "wechat.verify_url",
    "bind.start",
    "bind.wechat",
    "bind.cas",
    "wecom.receive",
    "wecom.verify_url",
    "public.logbook",
    "public.logbook_other",
    "public.apply",
    "public.apply_authorised",
    "public.apply_other",
    "api.openapi",
    "dashboard.login",
    "dashboard.static",
}


def _written(session) -> tuple[int, ...]:
    """Everything a refused write could have changed."""
    session.rollback()
    session.expire_all()
    counts = [
        session.scalar(select(func.count()).select_from(m))
        for m in (Appointment, Incident, Meeting, User, ApiToken, SurveyRound)
    ]
    counts.append(
        session.scalar(
            select(func.count()).select_from(AuditLog).where(~AuditLog.action.like("login%"))
        )
    )
    statuses = tuple(session.scalars(select(Appointment.status).order_by(Appointment.id)))
    overrides = tuple(session.scalars(select(TermEvaluation.override_grade)))
    disabled = tuple(session.scalars(select(User.disabled_at).order_by(User.id)))
    hashes = tuple(session.scalars(select(User.password_hash).order_by(User.id)))
    revoked = tuple(session.scalars(select(ApiToken.revoked_at).order_by(ApiToken.id)))
    published = tuple(session.scalars(select(SurveyRound.closed_at)))
    return (*counts, statuses, overrides, disabled, hashes, revoked, published)


def test_every_route_has_a_scope_decision(app, world):
    declared = {s.endpoint for s in samples(world) + api_samples(world)} | PUBLIC_ROUTES
    routes = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert routes - declared == set(), "a route without a scope decision in this test"
    assert routes - set(access.ROUTES) == set(), "a route without an entry in access.ROUTES"
    assert set(access.ROUTES) - routes == set(), "access.ROUTES names a route that is gone"
    # Every method of every route is exercised.
    exercised = {(s.endpoint, s.method) for s in samples(world) + api_samples(world)}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ROUTES:
            assert access.is_public(rule.endpoint), rule.endpoint
            continue
        assert not access.is_public(rule.endpoint), rule.endpoint
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (rule.endpoint, method) in exercised, (rule.endpoint, method)


@pytest.mark.parametrize("role", [AFFAIRS, BRANCH, HR])
def test_dashboard_routes_per_role(app, session, world, role):
    client = app.test_client()
    assert login(client, USERS[role]).status_code == 302
    token = csrf_from(client.get("/dashboard/account/password").get_data(as_text=True))
    for s in samples(world):
        allowed = role in s.allowed
        before = _written(session) if not allowed else None
        if s.method == "GET":
            response = client.get(s.url)
        else:
            form = {} if allowed else s.form
            response = client.post(s.url, data={**form, "csrf_token": token})
        where = (role.value, s.method, s.url, response.status_code)
        if allowed:
            assert response.status_code != 403, where
            if s.endpoint != "dashboard.logout":  # the one that ends the session
                assert "/dashboard/login" not in response.headers.get("Location", ""), where
        else:
            assert response.status_code == 403, where
            assert "无权访问" in response.get_data(as_text=True), where
            assert _written(session) == before, where


def test_anonymous_is_sent_to_login_on_every_dashboard_route(client, world):
    for s in samples(world):
        response = client.get(s.url) if s.method == "GET" else client.post(s.url)
        if s.method == "POST" and response.status_code == 400:
            continue  # CSRF is checked first on a form without a session: refused either way
        assert response.status_code == 302, (s.method, s.url, response.status_code)
        assert "/dashboard/login" in response.headers["Location"], s.url


@pytest.mark.parametrize("role", [AFFAIRS, BRANCH, HR])
def test_api_routes_per_role(client, session, world, role):
    user = session.scalar(select(User).where(User.username == USERS[role]))
    headers = {"Authorization": f"Bearer {make_token(session, user)}"}
    for s in api_samples(world):
        response = client.get(s.url, headers=headers)
        if role in s.allowed:
            assert response.status_code == 200, (role.value, s.url, response.status_code)
        else:
            assert response.status_code == 403, (role.value, s.url)
            assert response.get_json() == {"error": "您的角色无权访问此接口"}
        assert client.get(s.url).status_code == 401, s.url


def test_a_route_without_a_decision_is_refused(app, session, world):
    """A route added without an entry in access.ROUTES is refused to everyone, even Student
    Affairs, on the dashboard and on the API."""
    app.add_url_rule("/dashboard/new-page", "dashboard.new_page", lambda: "unscoped data")
    app.add_url_rule("/api/v1/new-endpoint", "api.new_endpoint", lambda: {"data": "unscoped"})
    client = app.test_client()
    login(client, "xsc")
    assert client.get("/dashboard/new-page").status_code == 403
    user = session.scalar(select(User).where(User.username == "xsc"))
    headers = {"Authorization": f"Bearer {make_token(session, user)}"}
    assert client.get("/api/v1/new-endpoint", headers=headers).status_code == 403
