"""``banzhuren user add|list|passwd|disable|enable|unlock|token``: dashboard users and API
tokens (the same actions as the dashboard's user pages, audited as ``cli``)."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from bot.cli.common import CliContext, fail, pass_cli
from core import accounts, audit
from models import ApiToken, Department, User, UserRole
from models.base import utcnow


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            fail("--password-stdin：标准输入中没有密码")
        return line.rstrip("\r\n")
    for _ in range(3):
        first = click.prompt("密码", hide_input=True)
        if click.prompt("再输入一次密码", hide_input=True) == first:
            return first
        click.echo("两次输入的密码不一致，请重新输入", err=True)
    fail("三次输入的密码都不一致，未添加用户")
    raise AssertionError("unreachable")


@click.group("user")
def user_group() -> None:
    """管理后台用户与 API 令牌。"""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in UserRole]),
    help="affairs = 学生处（全部）；branch = 党总支（本党总支）；hr = 人事处（补贴发放表与聘任备案）",
)
@click.option("--department", help="党总支名称（branch 必填）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）")
@pass_cli
def user_add(
    cli: CliContext, name: str, role: str, department: str | None, password_stdin: bool
) -> None:
    """添加后台用户 NAME。未给 --password-stdin 时会提示两次输入密码（不回显）。"""
    problem = accounts.username_problem(name)
    if problem:
        fail(f"{name}: {problem}")
    user_role = UserRole(role)
    if user_role == UserRole.BRANCH and not department:
        fail("--role branch 需要 --department（党总支名称），例如 --department 管弦系党总支")
    if user_role == UserRole.AFFAIRS and department:
        fail("--role affairs（学生处）可见全部党总支，不要给 --department")
    if user_role == UserRole.HR and department:
        fail("--role hr（人事处）面向全校，不要给 --department")
    # Check what can be checked before asking for the password.
    with cli.session() as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            fail(f"用户 {name} 已存在")
        department_id = None
        if department:
            department_id = s.scalar(select(Department.id).where(Department.name == department))
            if department_id is None:
                names = "、".join(s.scalars(select(Department.name).order_by(Department.name)))
                fail(f"没有党总支“{department}”；现有：{names or '（无，请先导入名册）'}")
    password = _read_password(password_stdin)
    problem = accounts.password_problem(password, name)
    if problem:
        fail(problem)
    with cli.session(write=True) as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            fail(f"用户 {name} 已存在")
        accounts.create_user(s, name, password, user_role, department_id)
        audit.record(s, "cli", "user.add", name, role=role, department=department)
    scope = f"，{department}" if department else ""
    click.echo(f"已添加用户 {name}（{user_role.label}{scope}）")


def _user(s, name: str) -> User:
    user = s.scalar(select(User).where(User.username == name))
    if user is None:
        fail(f"没有用户 {name}；先用 banzhuren user add 添加")
    return user


@user_group.command("token")
@click.argument("name")
@click.option("--days", type=click.IntRange(1, 366), default=accounts.TOKEN_DAYS, show_default=True)
@click.option("--label", default="", help="用途（显示在用户管理页）")
@click.option("--revoke", "revoke_id", type=int, help="吊销该用户编号为 ID 的令牌（见 user list）")
@pass_cli
def user_token(cli: CliContext, name: str, days: int, label: str, revoke_id: int | None) -> None:
    """为用户 NAME 签发一个 API 令牌（只显示这一次），或用 --revoke ID 吊销一个。"""
    with cli.session(write=True) as s:
        user = _user(s, name)
        if revoke_id is not None:
            row = s.scalar(
                select(ApiToken).where(ApiToken.id == revoke_id, ApiToken.user_id == user.id)
            )
            if row is None:
                fail(f"{name} 没有编号为 {revoke_id} 的令牌")
            accounts.revoke_token(s, row)
            audit.record(s, "cli", "user.token_revoke", name, token_id=row.id)
            click.echo(f"已吊销 {name} 的令牌 #{row.id}")
            return
        if user.disabled_at is not None:
            fail(f"{name} 已停用，不能签发令牌")
        token, row = accounts.issue_token(s, user, days=days, label=label)
        audit.record(s, "cli", "user.token", name, token_id=row.id, label=label)
    click.echo(token)
    click.echo(
        f"请妥善保存：此令牌（#{row.id}）只显示这一次，{days} 天后失效。"
        "用法：Authorization: Bearer <令牌>",
        err=True,
    )


@user_group.command("disable")
@click.argument("name")
@pass_cli
def user_disable(cli: CliContext, name: str) -> None:
    """停用用户 NAME：不能再登录，API 令牌失效，已登录的会话结束。"""
    with cli.session(write=True) as s:
        user = _user(s, name)
        accounts.disable_user(s, user)
        audit.record(s, "cli", "user.disable", name)
    click.echo(f"已停用 {name}")


@user_group.command("enable")
@click.argument("name")
@pass_cli
def user_enable(cli: CliContext, name: str) -> None:
    """恢复被停用的用户 NAME。"""
    with cli.session(write=True) as s:
        accounts.enable_user(s, _user(s, name))
        audit.record(s, "cli", "user.enable", name)
    click.echo(f"已恢复 {name}")


@user_group.command("unlock")
@click.argument("name")
@pass_cli
def user_unlock(cli: CliContext, name: str) -> None:
    """解除 NAME 因密码错误过多造成的锁定（同时结束其已登录的会话）。"""
    with cli.session(write=True) as s:
        lifted = accounts.unlock(s, _user(s, name))
        audit.record(s, "cli", "user.unlock", name, locks=lifted)
    click.echo(f"已解锁 {name}（{lifted} 处锁定）")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码（一行）")
@pass_cli
def user_passwd(cli: CliContext, name: str, password_stdin: bool) -> None:
    """为用户 NAME 设置新密码（结束其已登录的会话，吊销其 API 令牌）。"""
    with cli.session() as s:
        _user(s, name)
    password = _read_password(password_stdin)
    problem = accounts.password_problem(password, name)
    if problem:
        fail(problem)
    with cli.session(write=True) as s:
        revoked = accounts.set_password(s, _user(s, name), password)
        audit.record(s, "cli", "user.reset", name, tokens_revoked=revoked)
    click.echo(f"已设置 {name} 的新密码；其已登录的会话已结束，{revoked} 个 API 令牌已吊销")


@user_group.command("list")
@pass_cli
def user_list(cli: CliContext) -> None:
    """列出后台用户：角色、党总支、最近登录、状态、有效令牌（编号）。"""
    with cli.session() as s:
        now = utcnow()
        locks = accounts.active_locks(s, now)
        tz = cli.settings.tz
        for user in s.scalars(select(User).order_by(User.username)):
            dep = user.department.name if user.department else "全部"
            seen = (
                user.last_login_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
                if user.last_login_at
                else "从未登录"
            )
            state = (
                "已停用" if user.disabled_at else ("已锁定" if locks.get(user.username) else "正常")
            )
            tokens = [
                f"#{t.id}"
                for t in s.scalars(select(ApiToken).where(ApiToken.user_id == user.id))
                if accounts.token_usable(t, now)
            ]
            click.echo(
                f"{user.username}\t{user.role.label}\t{dep}\t{seen}\t{state}\t"
                f"令牌 {'、'.join(tokens) or '无'}"
            )


def register(main: click.Group) -> None:
    main.add_command(user_group)
