"""CSRF on every dashboard form; none on the WeChat webhook and the bearer-token API; secure
session cookies when configured."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import create_app
from models import Meeting, UserRole
from tests.conftest import make_settings
from tests.support.dashboard import build_world, csrf_from, login, make_token, make_user


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    return w


def test_login_form_without_token_is_refused(client, world):
    response = client.post("/dashboard/login", data={"username": "xsc", "password": "x" * 12})
    assert response.status_code == 400
    assert "安全令牌" in response.get_data(as_text=True)


def test_login_with_token_works(client, world):
    assert login(client, "xsc").status_code == 302


def forms(w) -> list[tuple[str, dict]]:
    t = w.term.code
    return [
        (
            "/dashboard/meetings",
            {"kind": "staff_meeting", "held_on": "2026-10-10", "title": "例会"},
        ),
        (
            f"/dashboard/teachers/{w.teacher_a.id}/incidents",
            {"term": t, "kind": "other", "occurred_on": "2026-10-10", "description": "x"},
        ),
        (
            f"/dashboard/teachers/{w.teacher_a.id}/override",
            {"term": t, "grade": "fail", "reason": "写明的理由"},
        ),
        (
            "/dashboard/appointments/new",
            {"staff_no": "TA001", "class_code": "GQ2025", "start_date": "2027-09-01"},
        ),
        (f"/dashboard/appointments/{w.appointment_a.id}/step", {"target": "resigned"}),
        ("/dashboard/rounds/open", {"term": t, "survey": "satisfaction"}),
        ("/dashboard/rounds/close", {"term": t, "survey": "satisfaction"}),
        ("/dashboard/roster", {}),
        ("/dashboard/logout", {}),
    ]


def test_every_form_needs_the_token(client, world, session):
    login(client, "xsc")
    for action, data in forms(world):
        response = client.post(action, data=data)
        assert response.status_code == 400, action
        wrong = client.post(action, data={**data, "csrf_token": "forged"})
        assert wrong.status_code == 400, action
    # Nothing was changed, and the session is still logged in (logout was refused too).
    assert session.scalar(select(func.count()).select_from(Meeting)) == 0
    assert client.get("/dashboard/audit").status_code == 200


def test_a_token_from_another_session_is_refused(app, world):
    first, second = app.test_client(), app.test_client()
    login(first, "xsc")
    login(second, "xsc")
    token = csrf_from(first.get("/dashboard/meetings").get_data(as_text=True))
    response = second.post(
        "/dashboard/meetings",
        data={
            "kind": "staff_meeting",
            "held_on": "2026-10-10",
            "title": "例会",
            "csrf_token": token,
        },
    )
    assert response.status_code == 400


def test_api_and_webhook_take_no_csrf_token(client, world, session):
    from models import User

    user = session.scalar(select(User).where(User.username == "xsc"))
    token = make_token(session, user)
    assert (
        client.get("/api/v1/terms", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    # The webhook checks WeChat's signature instead: a bad one is 403, never a CSRF 400.
    response = client.post(
        "/wechat?signature=bad&timestamp=1&nonce=1", data=b"<xml></xml>", content_type="text/xml"
    )
    assert response.status_code == 403


def test_session_cookie_is_secure_when_configured(db_url, world):
    app = create_app(make_settings(db_url, secure_cookies=True))
    client = app.test_client()
    response = login(client, "xsc")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_forbid_framing_and_foreign_scripts(client, world):
    login(client, "xsc")
    policy = client.get("/dashboard/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
