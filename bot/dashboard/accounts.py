"""User management for Student Affairs (list, add, disable, reset a password, unlock, issue and
revoke API tokens) and every user's own password change. Each action writes one audit row in
the same transaction; passwords and tokens are shown once, on the response to the POST."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.dashboard import client_address, start_session
from bot.dashboard.access import affairs_only
from bot.dashboard.forms import Fields, FormError, parse_id
from bot.dashboard.principal import Principal
from bot.dashboard.views import bp
from bot.request_session import db
from core import audit
from core.accounts import (
    TOKEN_DAYS,
    active_locks,
    create_user,
    disable_user,
    enable_user,
    issue_token,
    password_problem,
    random_password,
    revoke_token,
    set_password,
    token_usable,
    unlock,
    username_problem,
    verify_password,
)
from models import ApiToken, Department, User, UserRole
from models.base import utcnow

MAX_TOKEN_DAYS = 366


def _user_or_404(user_id: int, *, for_update: bool = False) -> User:
    query = select(User).where(User.id == user_id)
    user = db().scalar(query.with_for_update() if for_update else query)
    if user is None:
        abort(404)
    return user


def _users_page(errors: list[str] | None = None, form: dict | None = None, status: int = 200):
    session = db()
    users = list(
        session.scalars(
            select(User).options(selectinload(User.department)).order_by(User.role, User.username)
        )
    )
    tokens: dict[int, list[ApiToken]] = {}
    for row in session.scalars(select(ApiToken).order_by(ApiToken.created_at.desc())):
        tokens.setdefault(row.user_id, []).append(row)
    return (
        render_template(
            "dashboard/users.html",
            users=users,
            tokens=tokens,
            locks=active_locks(session),
            departments=list(session.scalars(select(Department).order_by(Department.name))),
            roles=[(r.value, r.label) for r in UserRole],
            now=utcnow(),
            usable=token_usable,
            token_days=TOKEN_DAYS,
            errors=errors or [],
            form=form or {},
        ),
        status,
    )


def _back_to_users(action: str, target: str, message: str, **detail: Any):
    """After a change by the signed-in user: audit it, commit, say so and show the user list."""
    audit.record(db(), current_user.username, action, target, **detail)
    db().commit()
    flash(message, "ok")
    return redirect(url_for("dashboard.users"))


def _secret_page(title: str, secret: str, note: str):
    """The one time a new password or token is shown (never stored, never logged)."""
    return render_template("dashboard/user_secret.html", title=title, secret=secret, note=note)


@bp.route("/users")
@affairs_only
def users():
    return _users_page()


@bp.route("/users/new", methods=["POST"])
@affairs_only
def user_new():
    session = db()
    fields = Fields(request.form)
    username = fields.text("username", "用户名", max_len=64)
    role = fields.choice("role", "角色", UserRole)
    password = (request.form.get("password") or "").strip()
    problem = username_problem(username) if username else None
    if problem:
        fields.problems.append(problem)
    if username and session.scalar(select(User.id).where(User.username == username)):
        fields.problems.append(f"用户 {username} 已存在")
    department_id = None
    if role == UserRole.BRANCH:
        raw = request.form.get("department", "")
        department_id = parse_id(raw)
        if department_id is None or session.get(Department, department_id) is None:
            fields.problems.append("党总支用户需要选择所属党总支")
    generated = not password
    password = password or random_password()
    problem = password_problem(password, username)
    if problem:
        fields.problems.append(problem)
    try:
        fields.check()
    except FormError as exc:
        form = {k: v for k, v in request.form.items() if k != "password"}
        return _users_page(exc.problems, form, 400)
    user = create_user(session, username, password, role, department_id)
    audit.record(
        session,
        current_user.username,
        "user.add",
        username,
        role=role.value,
        department=user.department.name if user.department else None,
    )
    session.commit()
    if generated:
        return _secret_page(
            f"已添加用户 {username}", password, "这是该用户的初始密码，只显示这一次。"
        )
    flash(f"已添加用户 {username}（{role.label}）", "ok")
    return redirect(url_for("dashboard.users"))


@bp.route("/users/<int:user_id>/reset", methods=["POST"])
@affairs_only
def user_reset(user_id: int):
    session = db()
    user = _user_or_404(user_id, for_update=True)
    password = random_password()
    # Also ends the user's sessions and revokes their API tokens.
    revoked = set_password(session, user, password)
    audit.record(
        session, current_user.username, "user.reset", user.username, tokens_revoked=revoked
    )
    session.commit()
    return _secret_page(
        f"已重置 {user.username} 的密码",
        password,
        "新密码只显示这一次；该用户已登录的会话已全部结束，API 令牌已全部吊销。"
        "请当面或电话告知本人，并请其登录后修改。",
    )


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@affairs_only
def user_unlock(user_id: int):
    user = _user_or_404(user_id, for_update=True)
    lifted = unlock(db(), user)
    return _back_to_users(
        "user.unlock",
        user.username,
        f"已解锁 {user.username}（{lifted} 处锁定），其已登录的会话已结束",
        locks=lifted,
    )


@bp.route("/users/<int:user_id>/disable", methods=["POST"])
@affairs_only
def user_disable(user_id: int):
    user = _user_or_404(user_id, for_update=True)
    if user.id == current_user.id:
        return _users_page(["不能停用自己的账户"], status=409)
    disable_user(db(), user)
    return _back_to_users(
        "user.disable",
        user.username,
        f"已停用 {user.username}：不能再登录，API 令牌失效，已登录的会话已结束",
    )


@bp.route("/users/<int:user_id>/enable", methods=["POST"])
@affairs_only
def user_enable(user_id: int):
    user = _user_or_404(user_id, for_update=True)
    enable_user(db(), user)
    return _back_to_users("user.enable", user.username, f"已恢复 {user.username}")


@bp.route("/users/<int:user_id>/tokens", methods=["POST"])
@affairs_only
def token_new(user_id: int):
    session = db()
    user = _user_or_404(user_id)
    fields = Fields(request.form)
    label = fields.text("label", "用途", required=False, max_len=100)
    raw = (request.form.get("days") or str(TOKEN_DAYS)).strip()
    days = parse_id(raw) or 0
    if not 1 <= days <= MAX_TOKEN_DAYS:
        fields.problems.append(f"有效天数应为 1 到 {MAX_TOKEN_DAYS} 天")
    if user.disabled_at is not None:
        fields.problems.append(f"{user.username} 已停用，不能签发令牌")
    try:
        fields.check()
    except FormError as exc:
        return _users_page(exc.problems, status=400)
    token, row = issue_token(session, user, days=days, label=label)
    audit.record(
        session,
        current_user.username,
        "user.token",
        user.username,
        token_id=row.id,
        label=label,
        expires_at=row.expires_at,
    )
    session.commit()
    return _secret_page(
        f"已为 {user.username} 签发 API 令牌",
        token,
        f"令牌只显示这一次，{days} 天后失效。用法：Authorization: Bearer <令牌>",
    )


@bp.route("/tokens/<int:token_id>/revoke", methods=["POST"])
@affairs_only
def token_revoke(token_id: int):
    session = db()
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id).with_for_update())
    if row is None:
        abort(404)
    revoke_token(session, row)
    return _back_to_users(
        "user.token_revoke",
        row.user.username,
        f"已吊销 {row.user.username} 的令牌 #{row.id}",
        token_id=row.id,
    )


@bp.route("/account/password", methods=["GET", "POST"])
def own_password():
    """Any user changes their own password; their other sessions end, this one goes on."""
    if request.method == "GET":
        return render_template("dashboard/password.html", errors=[])
    session = db()
    user = _user_or_404(current_user.id, for_update=True)
    current = request.form.get("current", "")
    new = request.form.get("new", "")
    problems = []
    if not verify_password(user.password_hash, current):
        problems.append("当前密码不正确")
    elif new != request.form.get("repeat", ""):
        problems.append("两次输入的新密码不一致")
    elif new == current:
        problems.append("新密码不能与当前密码相同")
    else:
        problem = password_problem(new, user.username)
        if problem:
            problems.append(problem)
    if problems:
        audit.record(session, user.username, "user.passwd_failed", user.username)
        session.commit()
        return render_template("dashboard/password.html", errors=problems), 400
    revoked = set_password(session, user, new)
    audit.record(
        session,
        user.username,
        "user.passwd",
        user.username,
        address=client_address(),
        tokens_revoked=revoked,
    )
    session.commit()
    start_session(Principal(user))
    flash(
        "密码已修改；您在其他地方的登录已全部退出"
        + (f"，{revoked} 个 API 令牌已吊销（需要时请重新签发）" if revoked else ""),
        "ok",
    )
    return redirect(url_for("dashboard.overview"))
