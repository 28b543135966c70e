"""``banzhuren user add|token|list``: dashboard users and API tokens."""

from __future__ import annotations

import sys

import click
from sqlalchemy import select

from bot.cli.common import CliContext, fail, pass_cli
from bot.dashboard import audit
from bot.dashboard.auth import create_user, issue_token, password_problem, username_problem
from models import Department, User, UserRole


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
    help="affairs = 学生处（全部）；branch = 党总支（本党总支）",
)
@click.option("--department", help="党总支名称（branch 必填）")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（一行）")
@pass_cli
def user_add(
    cli: CliContext, name: str, role: str, department: str | None, password_stdin: bool
) -> None:
    """添加后台用户 NAME。未给 --password-stdin 时会提示两次输入密码（不回显）。"""
    problem = username_problem(name)
    if problem:
        fail(f"{name}: {problem}")
    user_role = UserRole(role)
    if user_role == UserRole.BRANCH and not department:
        fail("--role branch 需要 --department（党总支名称），例如 --department 管弦系党总支")
    if user_role == UserRole.AFFAIRS and department:
        fail("--role affairs（学生处）可见全部党总支，不要给 --department")
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
    problem = password_problem(password)
    if problem:
        fail(problem)
    with cli.session() as s:
        if s.scalar(select(User.id).where(User.username == name)) is not None:
            fail(f"用户 {name} 已存在")
        create_user(s, name, password, user_role, department_id)
        audit.record(s, "cli", "user.add", name, role=role, department=department)
    scope = f"，{department}" if department else ""
    click.echo(f"已添加用户 {name}（{user_role.label}{scope}）")


@user_group.command("token")
@click.argument("name")
@pass_cli
def user_token(cli: CliContext, name: str) -> None:
    """为用户 NAME 签发一个 API 令牌（只显示这一次）。"""
    with cli.session() as s:
        user = s.scalar(select(User).where(User.username == name))
        if user is None:
            fail(f"没有用户 {name}；先用 banzhuren user add 添加")
        token = issue_token(s, user)
        audit.record(s, "cli", "user.token", name)
    click.echo(token)
    click.echo("请妥善保存：此令牌只显示这一次。用法：Authorization: Bearer <令牌>", err=True)


@user_group.command("list")
@pass_cli
def user_list(cli: CliContext) -> None:
    """列出后台用户。"""
    with cli.session() as s:
        for user in s.scalars(select(User).order_by(User.username)):
            dep = f"\t{user.department.name}" if user.department else ""
            click.echo(f"{user.username}\t{user.role.label}{dep}")


def register(main: click.Group) -> None:
    main.add_command(user_group)
