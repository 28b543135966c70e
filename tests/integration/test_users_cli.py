"""``banzhuren user add`` / ``user token``: hashed passwords, branch users tied to an existing
department, clear one-line errors, a token printed once and stored hashed."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import core.db
from bot.cli import main
from core.accounts import verify_password
from models import ApiToken, AuditLog, User, UserRole
from tests.factories import make_department


@pytest.fixture
def cli(db_url):
    runner = CliRunner()
    env = {"BANZHUREN_DATABASE_URL": db_url, "BANZHUREN_SECRET_KEY": "test-secret" * 32}

    def run(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)

    return run


@pytest.fixture
def department(session):
    dep = make_department(session, name="钢琴系党总支")
    session.commit()
    return dep


def users() -> list[User]:
    with core.db.SessionFactory() as s:
        return list(s.scalars(select(User).order_by(User.username)))


def test_three_mismatches_give_up(cli):
    result = cli("user", "add", "xsc", "--role", "affairs", input="aaaaaaaa\nbbbbbbbb\n" * 3)
    assert result.exit_code == 1 and "三次输入的密码都不一致" in result.stderr
    assert users() == []


def test_add_affairs_user_from_stdin(cli):
    result = cli(
        "user", "add", "xsc", "--role", "affairs", "--password-stdin", input="s3cret-pass\n"
    )
    assert result.exit_code == 0, result.output
    assert "已添加用户 xsc（学生处）" in result.stdout
    (user,) = users()
    assert user.role == UserRole.AFFAIRS and user.department_id is None
    assert verify_password(user.password_hash, "s3cret-pass")
    assert "s3cret-pass" not in user.password_hash


def test_add_hr_user(cli):
    result = cli("user", "add", "rsc", "--role", "hr", "--password-stdin", input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    assert "已添加用户 rsc（人事处）" in result.stdout
    (user,) = users()
    assert user.role == UserRole.HR and user.department_id is None


def test_add_branch_user_with_prompt_asks_twice(cli, department):
    result = cli(
        "user",
        "add",
        "gq",
        "--role",
        "branch",
        "--department",
        "钢琴系党总支",
        input="long-password\nlong-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "再输入一次密码" in result.output
    assert "long-password" not in result.output  # hidden input
    (user,) = users()
    assert user.department_id == department.id


def test_prompt_mismatch_asks_again(cli):
    result = cli(
        "user",
        "add",
        "xsc",
        "--role",
        "affairs",
        input="first-password\nother-password\nfirst-password\nfirst-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "两次输入的密码不一致，请重新输入" in result.stderr
    assert verify_password(users()[0].password_hash, "first-password")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["--role", "branch"], "long-password\n", "--role branch 需要 --department"),
        (
            ["--role", "branch", "--department", "无此党总支"],
            "long-password\n",
            "没有党总支“无此党总支”",
        ),
        (
            ["--role", "affairs", "--department", "钢琴系党总支"],
            "long-password\n",
            "不要给 --department",
        ),
        (
            ["--role", "hr", "--department", "钢琴系党总支"],
            "long-password\n",
            "--role hr（人事处）面向全校，不要给 --department",
        ),
        (["--role", "affairs"], "short\n", "密码至少需要 10 个字符"),
        (["--role", "affairs"], "", "标准输入中没有密码"),
        (["--role", "admin"], "long-password\n", "'--role' 的值无效"),
    ],
)
def test_bad_input_is_one_clear_line(cli, department, args, stdin, message):
    result = cli("user", "add", "someone", *args, "--password-stdin", input=stdin)
    assert result.exit_code != 0
    assert message in result.stderr
    assert users() == []


def test_bad_name_and_duplicate(cli):
    bad = cli(
        "user", "add", "a b", "--role", "affairs", "--password-stdin", input="long-password\n"
    )
    assert bad.exit_code == 1 and "用户名应为" in bad.stderr
    ok = cli("user", "add", "xsc", "--role", "affairs", "--password-stdin", input="long-password\n")
    assert ok.exit_code == 0
    again = cli("user", "add", "xsc", "--role", "affairs", "--password-stdin", input="other-pass\n")
    assert again.exit_code == 1 and "用户 xsc 已存在" in again.stderr
    assert verify_password(users()[0].password_hash, "long-password")


def test_token_is_printed_once_and_stored_hashed(cli, client):
    cli("user", "add", "xsc", "--role", "affairs", "--password-stdin", input="long-password\n")
    result = cli("user", "token", "xsc")
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert len(token) > 30 and "只显示这一次" in result.stderr
    with core.db.SessionFactory() as s:
        assert s.scalar(select(ApiToken.token_hash)) == hashlib.sha256(token.encode()).hexdigest()
        actions = set(s.scalars(select(AuditLog.action)))
        assert {"user.add", "user.token"} <= actions
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.get_json()["username"] == "xsc"
    second = cli("user", "token", "xsc").stdout.strip()
    assert second != token
    with core.db.SessionFactory() as s:
        assert s.scalar(select(func.count()).select_from(ApiToken)) == 2


def test_token_for_unknown_user(cli):
    result = cli("user", "token", "nobody")
    assert result.exit_code == 1 and "没有用户 nobody" in result.stderr


def test_a_created_user_can_log_in(cli, client):
    cli("user", "add", "xsc", "--role", "affairs", "--password-stdin", input="long-password\n")
    from tests.support.dashboard import login

    assert login(client, "xsc", "long-password").status_code == 302
    listing = cli("user", "list")
    assert "xsc\t学生处" in listing.stdout


def test_no_command_warns_about_the_secret_key(db_url):
    """Only `serve` (and gunicorn) need BANZHUREN_SECRET_KEY; others say nothing about it."""
    runner = CliRunner()
    env = {"BANZHUREN_DATABASE_URL": db_url, "BANZHUREN_SECRET_KEY": ""}  # empty means unset
    result = runner.invoke(main, ["user", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "SECRET_KEY" not in result.output and "Warning" not in result.output
    serve = runner.invoke(main, ["serve"], env=env)
    assert serve.exit_code == 1 and "BANZHUREN_SECRET_KEY" in serve.stderr


def test_disable_unlock_passwd_and_revoke(cli, app, session):
    from models import LoginLock
    from tests.support.dashboard import login

    cli("user", "add", "xsc", "--role", "affairs", "--password-stdin", input="long-password\n")
    token = cli("user", "token", "xsc", "--days", "7", "--label", "统计").stdout.strip()
    api = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/v1/me", headers=headers).status_code == 200
    listing = cli("user", "list").stdout
    assert "令牌 #1" in listing and "正常" in listing

    # disable: no login, no API; enable brings both back.
    assert cli("user", "disable", "xsc").exit_code == 0
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    assert login(app.test_client(), "xsc", "long-password").status_code == 401
    assert "已停用" in cli("user", "list").stdout
    assert cli("user", "enable", "xsc").exit_code == 0
    assert api.get("/api/v1/me", headers=headers).status_code == 200

    # revoke by number.
    revoked = cli("user", "token", "xsc", "--revoke", "1")
    assert revoked.exit_code == 0 and "已吊销" in revoked.stdout
    assert api.get("/api/v1/me", headers=headers).status_code == 401
    assert cli("user", "token", "xsc", "--revoke", "99").exit_code == 1

    # unlock lifts a lock made by wrong passwords.
    for _ in range(5):
        login(app.test_client(), "xsc", "wrong-password")
    assert "已锁定" in cli("user", "list").stdout
    assert "1 处锁定" in cli("user", "unlock", "xsc").stdout
    with core.db.SessionFactory() as s:
        assert s.scalar(select(LoginLock)) is None

    # passwd: the new one works, a weak one is refused.
    weak = cli("user", "passwd", "xsc", "--password-stdin", input="1234567890\n")
    assert weak.exit_code == 1 and "太常见" in weak.stderr
    done = cli("user", "passwd", "xsc", "--password-stdin", input="violin-harbin-77\n")
    assert done.exit_code == 0, done.output
    assert login(app.test_client(), "xsc", "violin-harbin-77").status_code == 302
    with core.db.SessionFactory() as s:
        actions = list(s.scalars(select(AuditLog.action).where(AuditLog.actor == "cli")))
    assert actions == [
        "user.add",
        "user.token",
        "user.disable",
        "user.enable",
        "user.token_revoke",
        "user.unlock",
        "user.reset",
    ]
