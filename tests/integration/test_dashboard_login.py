"""Login: hashed passwords, one answer for unknown user and wrong password, lockout after five
wrong passwords for 15 minutes, no open redirect."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models import AuditLog, User, UserRole
from models.base import utcnow
from tests.support.dashboard import PASSWORD, login, make_user


@pytest.fixture
def user(session):
    return make_user(session, "xsc", UserRole.AFFAIRS)


def test_password_is_stored_hashed(session, user):
    stored = session.scalar(select(User.password_hash).where(User.username == "xsc"))
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))


def test_unknown_user_and_wrong_password_get_the_same_answer(client, user):
    wrong = login(client, "xsc", "wrong-password")
    unknown = login(client, "nobody", "wrong-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.get_data(as_text=True)
    assert "用户名或密码错误" in unknown.get_data(as_text=True)


def test_five_wrong_passwords_lock_the_account_for_15_minutes(client, session, user):
    for _ in range(4):
        assert login(client, "xsc", "wrong-password").status_code == 401
    fifth = login(client, "xsc", "wrong-password")
    assert "已锁定 15 分钟" in fifth.get_data(as_text=True)
    session.rollback()
    session.expire_all()
    locked = session.scalar(select(User).where(User.username == "xsc"))
    assert locked.locked_until is not None
    minutes = (locked.locked_until - utcnow()).total_seconds() / 60
    assert 14 < minutes <= 15
    # The right password is refused while locked, and says for how long.
    refused = login(client, "xsc")
    assert refused.status_code == 401
    assert "分钟后再试" in refused.get_data(as_text=True)
    assert session.scalar(select(AuditLog).where(AuditLog.action == "login.locked")) is not None

    # Once the 15 minutes are over the right password works and the count starts again.
    locked.locked_until = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert login(client, "xsc").status_code == 302
    session.rollback()
    session.expire_all()
    again = session.scalar(select(User).where(User.username == "xsc"))
    assert again.failed_logins == 0 and again.locked_until is None


def test_a_good_login_resets_the_count(client, session, user):
    for _ in range(3):
        login(client, "xsc", "wrong-password")
    assert login(client, "xsc").status_code == 302
    session.rollback()
    session.expire_all()
    assert session.scalar(select(User.failed_logins).where(User.username == "xsc")) == 0


def test_next_only_goes_to_the_dashboard(client, user):
    token_page = client.get("/dashboard/login?next=//evil.example/")
    assert token_page.status_code == 200
    from tests.support.dashboard import csrf_from

    token = csrf_from(token_page.get_data(as_text=True))
    response = client.post(
        "/dashboard/login?next=//evil.example/",
        data={"username": "xsc", "password": PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"].endswith("/dashboard/")


def test_logout(client, user):
    login(client, "xsc")
    from tests.support.dashboard import post_form

    response = post_form(client, "/dashboard/", "/dashboard/logout", {})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 302
