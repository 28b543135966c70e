"""What foreign scanners found beyond 5xx (issue 22, item 8): a session cookie replayed from
another browser, pages and API answers a shared cache could keep, files other users of the
machine could read, and API tokens that outlived a password change. On SQLite and
PostgreSQL."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from bot.cli import main
from models import ApiToken, AuditLog, UserRole
from tests.support.dashboard import (
    PASSWORD,
    build_world,
    login,
    make_token,
    make_user,
    post_form,
)

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
CURL = "curl/8.5.0"


@pytest.fixture
def world(session):
    w = build_world(session)
    xsc = make_user(session, "xsc", UserRole.AFFAIRS)
    return w, xsc


# --- the session is bound to the browser -------------------------------------------------


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def test_a_cookie_replayed_with_another_user_agent_is_refused(app, world):
    browser = app.test_client()
    browser.environ_base["HTTP_USER_AGENT"] = FIREFOX
    assert login(browser, "xsc").status_code == 302
    assert browser.get("/dashboard/").status_code == 200
    stolen = session_cookie(browser)

    # The same cookie from the same browser works (a second tab, a restored session) ...
    twin = app.test_client()
    twin.environ_base["HTTP_USER_AGENT"] = FIREFOX
    twin.set_cookie("session", stolen)
    assert twin.get("/dashboard/").status_code == 200

    # ... from another one it is sent to the login page, and the session it carried ends
    # there: the answer clears the cookie.
    thief = app.test_client()
    thief.environ_base["HTTP_USER_AGENT"] = CURL
    thief.set_cookie("session", stolen)
    response = thief.get("/dashboard/")
    assert response.status_code == 302 and "/dashboard/login" in response.location
    assert thief.get("/dashboard/teachers").status_code == 302
    # Without a User-Agent at all: refused too.
    bare = app.test_client()
    bare.environ_base["HTTP_USER_AGENT"] = ""
    bare.set_cookie("session", stolen)
    assert bare.get("/dashboard/").status_code == 302


def test_a_cookie_from_before_the_binding_is_refused(app, world):
    """A session started without the browser's digest (an older version's cookie, or one
    forged without it) does not pass."""
    from bot.dashboard import SESSION_AGENT

    client = app.test_client()
    login(client, "xsc")
    with client.session_transaction() as sess:
        sess.pop(SESSION_AGENT)
    assert client.get("/dashboard/").status_code == 302


# --- no caching, no sniffing ------------------------------------------------------------------


def assert_private(response) -> None:
    assert response.headers.get("Cache-Control") == "no-store", response.headers
    assert response.headers.get("X-Content-Type-Options") == "nosniff", response.headers


def test_every_dashboard_and_api_answer_is_no_store_nosniff(app, client, session, world):
    w, xsc = world
    token = make_token(session, xsc)
    bearer = {"Authorization": f"Bearer {token}"}
    code = w.term.code
    # Before login: the login page, a redirect, a 404 of a path matching no route.
    for path in ("/dashboard/login", "/dashboard/", "/dashboard/no-such-page", "/"):
        assert_private(client.get(path))
    login(client, "xsc")
    for path in (
        f"/dashboard/?term={code}",
        f"/dashboard/teachers?term={code}",
        f"/dashboard/teachers/{w.teacher_a.id}?term={code}",
        f"/dashboard/download/evaluation.csv?term={code}",
        "/dashboard/teachers?department=²",
        "/dashboard/teachers/99999999999999999999",
    ):
        response = client.get(path)
        assert response.status_code in (200, 400, 404), path
        assert_private(response)
    for path in (
        "/api/v1/terms",
        f"/api/v1/terms/{code}/evaluations",
        f"/api/v1/terms/{code}/teachers/{w.teacher_a.staff_no}",
        "/api/v1/no-such-thing",
    ):
        assert_private(client.get(path, headers=bearer))
    assert_private(client.get("/api/v1/terms"))  # 401 without a token


# --- a password change ends the API tokens ----------------------------------------------------


def api_status(client, token: str) -> int:
    return client.get("/api/v1/terms", headers={"Authorization": f"Bearer {token}"}).status_code


def test_own_password_change_revokes_the_users_tokens(app, client, session, world):
    _w, xsc = world
    token = make_token(session, xsc)
    assert api_status(client, token) == 200
    login(client, "xsc")
    page = "/dashboard/account/password"
    new = "harbin-violin-2027"
    done = post_form(client, page, page, {"current": PASSWORD, "new": new, "repeat": new})
    assert done.status_code == 302
    assert "1 个 API 令牌已吊销" in client.get(done.location).get_data(as_text=True)
    assert api_status(app.test_client(), token) == 401
    session.rollback()
    session.expire_all()
    assert all(t.revoked_at is not None for t in session.scalars(select(ApiToken)))
    (row,) = session.scalars(select(AuditLog).where(AuditLog.action == "user.passwd"))
    assert row.detail["tokens_revoked"] == 1


def test_reset_by_student_affairs_revokes_the_users_tokens(app, client, session, world):
    other = make_user(session, "gq", UserRole.AFFAIRS)
    token = make_token(session, other)
    assert api_status(client, token) == 200
    login(client, "xsc")
    response = post_form(client, "/dashboard/users", f"/dashboard/users/{other.id}/reset", {})
    assert response.status_code == 200 and "API 令牌已全部吊销" in response.get_data(as_text=True)
    assert api_status(app.test_client(), token) == 401


def test_cli_passwd_revokes_the_users_tokens(db_url, client, session, world):
    _w, xsc = world
    token = make_token(session, xsc)
    result = CliRunner().invoke(
        main,
        ["user", "passwd", "xsc", "--password-stdin"],
        input="harbin-violin-2027\n",
        env={"BANZHUREN_DATABASE_URL": db_url},
    )
    assert result.exit_code == 0, result.output
    assert "1 个 API 令牌已吊销" in result.output
    assert api_status(client, token) == 401


# --- files are not world-readable -------------------------------------------------------------


@pytest.fixture
def loose_umask():
    """Start from the common 022 (the test process may have been narrowed by an earlier
    command) and put back whatever was in force."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def assert_not_world_readable(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode & 0o007 == 0, f"{path}: {oct(mode)}"
    assert mode & 0o020 == 0, f"{path}: {oct(mode)}"


def test_files_the_commands_write_are_not_world_readable(
    db_url, session, world, tmp_path, loose_umask
):
    w, _xsc = world
    env = {"BANZHUREN_DATABASE_URL": db_url}
    runner = CliRunner()

    def run(*args: str, **kw) -> None:
        result = runner.invoke(main, list(args), env={**env, **kw})
        assert result.exit_code == 0, result.output

    # A SQLite database created by init (with its seal key beside it).
    fresh_db = tmp_path / "fresh" / "banzhuren.db"
    fresh_db.parent.mkdir()
    cwd = os.getcwd()
    os.chdir(fresh_db.parent)
    try:
        run("init", BANZHUREN_DATABASE_URL=f"sqlite:///{fresh_db}")
    finally:
        os.chdir(cwd)
    assert_not_world_readable(fresh_db)
    assert_not_world_readable(fresh_db.parent / "banzhuren-seal.key")

    session.get(type(w.term), w.term.id).evaluated_at = w.round.closed_at
    session.commit()
    code = w.term.code
    run("report", "--term", code, "-o", str(tmp_path / "考核.xlsx"))
    run("report", "--term", code, "-o", str(tmp_path / "考核.csv"))
    run("bind-codes", "-o", str(tmp_path / "绑定码.xlsx"))
    run("documents", "--term", code, "-o", str(tmp_path / "文书"))
    written = [
        tmp_path / "考核.xlsx",
        tmp_path / "考核.csv",
        tmp_path / "绑定码.xlsx",
        tmp_path / "文书",
        *(tmp_path / "文书").rglob("*.docx"),
    ]
    assert len(written) > 4
    for path in written:
        assert_not_world_readable(path)

    # A log file opened after the command started (the demo's, a worker's --logfile).
    log_path = tmp_path / "banzhuren.log"
    handler = logging.FileHandler(log_path)
    handler.close()
    assert_not_world_readable(log_path)


def test_the_web_app_narrows_the_umask(settings, loose_umask):
    from bot import create_app

    create_app(settings)
    current = os.umask(0o022)
    os.umask(current)
    assert current & 0o027 == 0o027
