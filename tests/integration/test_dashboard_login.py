"""Login: hashed passwords, one answer for unknown user and wrong password, lockout after five
wrong passwords for 15 minutes per account and source address (a stranger cannot lock the
user out), every attempt audited, no open redirect; sessions that end (logout, disabling, idle
and lifetime limits)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from models import AuditLog, LoginLock, User, UserRole
from models.base import utcnow
from tests.support.dashboard import PASSWORD, login, make_user, post_form


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


def test_five_wrong_passwords_lock_the_account_for_that_address(client, session, user):
    for _ in range(4):
        assert login(client, "xsc", "wrong-password").status_code == 401
    fifth = login(client, "xsc", "wrong-password")
    assert "已锁定 15 分钟" in fifth.get_data(as_text=True)
    session.rollback()
    session.expire_all()
    lock = session.scalar(select(LoginLock).where(LoginLock.username == "xsc"))
    assert lock.address == "127.0.0.1"
    minutes = (lock.locked_until - utcnow()).total_seconds() / 60
    assert 14 < minutes <= 15
    # The right password is refused while locked, and says for how long.
    refused = login(client, "xsc")
    assert refused.status_code == 401
    assert "分钟后再试" in refused.get_data(as_text=True)
    actions = [a for (a,) in session.execute(select(AuditLog.action).order_by(AuditLog.id))]
    assert actions[:5] == ["login.failed"] * 4 + ["login.locked"]

    # Once the 15 minutes are over the right password works and the count starts again.
    session.rollback()  # a fresh transaction: the app has written since this one began
    session.execute(update(LoginLock).values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    session.commit()
    assert login(client, "xsc").status_code == 302
    session.rollback()
    session.expire_all()
    assert session.scalar(select(User.last_login_at).where(User.username == "xsc")) is not None


def test_a_strangers_wrong_passwords_do_not_lock_the_user_out(app, session, user):
    stranger = app.test_client()
    stranger.environ_base["REMOTE_ADDR"] = "203.0.113.66"
    for _ in range(8):
        response = login(stranger, "xsc", "wrong-password")
        assert response.status_code == 401
    assert "已锁定" in response.get_data(as_text=True)
    owner = app.test_client()
    owner.environ_base["REMOTE_ADDR"] = "10.20.0.5"
    assert login(owner, "xsc").status_code == 302
    session.rollback()
    addresses = set(session.scalars(select(LoginLock.address)))
    assert addresses == {"203.0.113.66"}
    failed = session.scalars(select(AuditLog).where(AuditLog.action == "login.failed")).all()
    assert failed and {a.detail["address"] for a in failed} == {"203.0.113.66"}
    good = session.scalar(select(AuditLog).where(AuditLog.action == "login"))
    assert good.detail["address"] == "10.20.0.5"


def test_one_address_guessing_many_names_is_throttled(app, session, user):
    prober = app.test_client()
    prober.environ_base["REMOTE_ADDR"] = "198.51.100.9"
    statuses = [login(prober, f"guess{i}", "wrong-password").status_code for i in range(31)]
    assert statuses[:30] == [401] * 30 and statuses[30] == 429
    # The real user elsewhere is not affected.
    assert login(app.test_client(), "xsc").status_code == 302


def test_failures_are_counted_across_processes_on_redis(session, user, db_url, redis_prefix):
    """Two apps (two gunicorn workers) on one Redis share the count."""
    from bot import create_app
    from tests.conftest import REDIS_URL, make_settings

    apps = [
        create_app(make_settings(db_url, redis_url=REDIS_URL, redis_prefix=redis_prefix))
        for _ in range(2)
    ]
    clients = [a.test_client() for a in apps]
    for i in range(4):
        assert login(clients[i % 2], "xsc", "wrong-password").status_code == 401
    assert "已锁定 15 分钟" in login(clients[0], "xsc", "wrong-password").get_data(as_text=True)
    assert "分钟后再试" in login(clients[1], "xsc").get_data(as_text=True)


def test_a_good_login_resets_the_count(client, session, user):
    for _ in range(3):
        login(client, "xsc", "wrong-password")
    assert login(client, "xsc").status_code == 302
    post_form(client, "/dashboard/", "/dashboard/logout", {})
    for _ in range(4):
        login(client, "xsc", "wrong-password")
    assert login(client, "xsc").status_code == 302


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
    response = post_form(client, "/dashboard/", "/dashboard/logout", {})
    assert response.status_code == 302
    assert client.get("/dashboard/").status_code == 302


def _cookie(client) -> str:
    return client.get_cookie("session").value


def test_a_cookie_replayed_after_logout_is_sent_to_login(app, client, user):
    login(client, "xsc")
    copied = _cookie(client)
    assert client.get("/dashboard/").status_code == 200
    post_form(client, "/dashboard/", "/dashboard/logout", {})
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get("/dashboard/")
    assert response.status_code == 302
    assert "/dashboard/login" in response.headers["Location"]


def test_disabling_ends_the_users_sessions(app, client, session, user):
    from core.accounts import disable_user, enable_user

    login(client, "xsc")
    assert client.get("/dashboard/").status_code == 200
    disable_user(session, user)
    session.commit()
    assert client.get("/dashboard/").status_code == 302
    refused = login(client, "xsc")
    assert refused.status_code == 401 and "已停用" in refused.get_data(as_text=True)
    enable_user(session, user)
    session.commit()
    assert login(client, "xsc").status_code == 302


def test_idle_and_lifetime_limits(app, client, user):
    from bot.dashboard import SESSION_SEEN, SESSION_STARTED

    login(client, "xsc")
    with client.session_transaction() as s:
        s[SESSION_SEEN] -= 61 * 60  # idle longer than the default hour
    assert client.get("/dashboard/").status_code == 302
    login(client, "xsc")
    with client.session_transaction() as s:
        s[SESSION_STARTED] -= 13 * 3600  # older than the default 12 hours
        s[SESSION_SEEN] -= 0
    assert client.get("/dashboard/").status_code == 302
    login(client, "xsc")
    assert client.get("/dashboard/").status_code == 200


def test_a_very_long_unknown_name_is_counted_without_error(client, session, user):
    name = "长" * 300
    statuses = [login(client, name, "wrong-password").status_code for _ in range(6)]
    assert statuses == [401] * 6
    session.rollback()
    assert session.scalar(select(LoginLock.username)) == name[:64]
