"""User management for Student Affairs (add, reset, unlock, disable, tokens) and a user's own
password change: what each changes, the audit row it writes, the secret shown once, and the
sessions and tokens it ends."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import select, update

from models import ApiToken, AuditLog, LoginLock, User, UserRole
from tests.support.dashboard import PASSWORD, login, make_token, make_user, post_form

SECRET = re.compile(r'<code id="secret">([^<]+)</code>')


@pytest.fixture
def people(session):
    from tests.factories import make_department

    dep = make_department(session, name="钢琴系党总支")
    session.commit()
    return {
        "xsc": make_user(session, "xsc", UserRole.AFFAIRS),
        "gq": make_user(session, "gq", UserRole.BRANCH, dep),
        "dep": dep,
    }


def fresh(session) -> None:
    session.rollback()
    session.expire_all()


def actions(session) -> list[str]:
    fresh(session)
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def secret_of(response) -> str:
    match = SECRET.search(response.get_data(as_text=True))
    assert match, response.get_data(as_text=True)
    return match.group(1)


def act(client, path: str, data: dict | None = None):
    return post_form(client, "/dashboard/users", path, data or {})


def user_id(session, name: str) -> int:
    fresh(session)
    return session.scalar(select(User.id).where(User.username == name))


def test_only_student_affairs_manages_users(app, client, people):
    login(client, "gq")
    assert client.get("/dashboard/users").status_code == 403
    page = "/dashboard/account/password"
    assert post_form(
        client, page, f"/dashboard/users/{people['xsc'].id}/reset", {}
    ).status_code == (403)
    login(app.test_client(), "xsc")


def test_add_with_a_generated_password_shown_once(app, client, session, people):
    login(client, "xsc")
    listing = client.get("/dashboard/users").get_data(as_text=True)
    assert "gq" in listing and "从未登录" in listing
    response = act(
        client,
        "/dashboard/users/new",
        {"username": "gx", "role": "branch", "department": str(people["dep"].id)},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = secret_of(response)
    assert len(password) == 16
    assert password not in client.get("/dashboard/users").get_data(as_text=True)
    assert login(app.test_client(), "gx", password).status_code == 302
    assert "user.add" in actions(session)
    # Bad input: a common password, a branch without a department, a duplicate name.
    bad = act(
        client,
        "/dashboard/users/new",
        {"username": "a1", "role": "affairs", "password": "1234567890"},
    )
    assert bad.status_code == 400 and "太常见" in bad.get_data(as_text=True)
    bad = act(client, "/dashboard/users/new", {"username": "a2", "role": "branch"})
    assert bad.status_code == 400 and "需要选择所属党总支" in bad.get_data(as_text=True)
    bad = act(client, "/dashboard/users/new", {"username": "gx", "role": "affairs"})
    assert bad.status_code == 400 and "已存在" in bad.get_data(as_text=True)


def test_reset_ends_the_users_sessions(app, client, session, people):
    victim = app.test_client()
    login(victim, "gq")
    assert victim.get("/dashboard/").status_code == 200
    login(client, "xsc")
    password = secret_of(act(client, f"/dashboard/users/{people['gq'].id}/reset"))
    assert victim.get("/dashboard/").status_code == 302
    assert login(app.test_client(), "gq").status_code == 401  # the old password
    assert login(app.test_client(), "gq", password).status_code == 302
    assert actions(session)[-3:] == ["user.reset", "login.failed", "login"]


def test_unlock_lifts_the_lock(app, client, session, people):
    for _ in range(5):
        login(app.test_client(), "gq", "wrong-password")
    assert login(app.test_client(), "gq").status_code == 401
    login(client, "xsc")
    assert "已锁定（1 处）" in client.get("/dashboard/users").get_data(as_text=True)
    assert act(client, f"/dashboard/users/{people['gq'].id}/unlock").status_code == 302
    fresh(session)
    assert session.scalar(select(LoginLock)) is None
    assert login(app.test_client(), "gq").status_code == 302
    assert "user.unlock" in actions(session)


def test_disable_stops_logins_and_tokens(app, client, session, people):
    token = make_token(session, people["gq"])
    headers = {"Authorization": f"Bearer {token}"}
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    login(client, "xsc")
    assert act(client, f"/dashboard/users/{people['gq'].id}/disable").status_code == 302
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 401
    assert "已停用" in login(app.test_client(), "gq").get_data(as_text=True)
    # Student Affairs cannot disable itself.
    assert act(client, f"/dashboard/users/{people['xsc'].id}/disable").status_code == 409
    assert act(client, f"/dashboard/users/{people['gq'].id}/enable").status_code == 302
    assert login(app.test_client(), "gq").status_code == 302
    assert {"user.disable", "user.enable"} <= set(actions(session))


def test_tokens_are_issued_shown_once_revoked_and_expire(app, client, session, people):
    login(client, "xsc")
    response = act(
        client, f"/dashboard/users/{people['gq'].id}/tokens", {"label": "统计", "days": "30"}
    )
    token = secret_of(response)
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    fresh(session)
    row = session.scalar(select(ApiToken))
    days = (row.expires_at - row.created_at).total_seconds() / 86400
    assert 29.9 < days < 30.1 and row.label == "统计" and row.last_used_at is not None
    listing = client.get("/dashboard/users").get_data(as_text=True)
    assert token not in listing and "统计" in listing and "吊销" in listing
    assert act(client, f"/dashboard/tokens/{row.id}/revoke").status_code == 302
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    assert "已吊销" in client.get("/dashboard/users").get_data(as_text=True)

    # The default lifetime is 90 days; an expired token is refused.
    fresh(session)
    other = make_token(session, people["gq"])
    fresh(session)
    row = session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
    assert 89.9 < (row.expires_at - row.created_at).total_seconds() / 86400 < 90.1
    headers = {"Authorization": f"Bearer {other}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    fresh(session)
    session.execute(
        update(ApiToken)
        .where(ApiToken.id == row.id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    session.commit()
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    assert [a for a in actions(session) if a.startswith("user.token")] == [
        "user.token",
        "user.token_revoke",
    ]
    bad = act(client, f"/dashboard/users/{people['gq'].id}/tokens", {"days": "0"})
    assert bad.status_code == 400


def test_own_password_change_ends_the_other_sessions(app, client, session, people):
    other = app.test_client()
    login(other, "gq")
    login(client, "gq")
    page = "/dashboard/account/password"
    wrong = post_form(client, page, page, {"current": "nope", "new": "x", "repeat": "x"})
    assert wrong.status_code == 400 and "当前密码不正确" in wrong.get_data(as_text=True)
    weak = post_form(
        client, page, page, {"current": PASSWORD, "new": "qwertyuiop", "repeat": "qwertyuiop"}
    )
    assert weak.status_code == 400 and "太常见" in weak.get_data(as_text=True)
    new = "harbin-violin-2027"
    done = post_form(client, page, page, {"current": PASSWORD, "new": new, "repeat": new})
    assert done.status_code == 302
    assert client.get("/dashboard/").status_code == 200  # this session goes on
    assert other.get("/dashboard/").status_code == 302  # the other one ended
    assert login(app.test_client(), "gq", new).status_code == 302
    assert "user.passwd" in actions(session)
