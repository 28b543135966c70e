"""Dashboard accounts: password hashing (werkzeug.security), login with lockout, API tokens.

Kept free of Flask views so that the CLI (``banzhuren user add``) and the API share it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from flask_login import UserMixin
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models import ApiToken, User, UserRole
from models.base import utcnow

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8
USERNAME = re.compile(r"^[\w.@-]{2,64}$")

# Compared against when the username does not exist, so that an unknown name takes as long
# as a wrong password and the answer does not tell which one was wrong.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """A salted hash (werkzeug's default scrypt) for ``users.password_hash``."""
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符"
    if password.strip() != password:
        return "密码首尾不能是空格"
    return None


def username_problem(name: str) -> str | None:
    if not USERNAME.match(name):
        return "用户名应为 2-64 个字母、数字、汉字或 . _ - @"
    return None


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    return locked_until is not None and locked_until > now


def after_failure(failed_logins: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """The (failed_logins, locked_until) to store after one more wrong password: the fifth in a
    row locks the account for 15 minutes and starts the count again."""
    failed = failed_logins + 1
    if failed >= MAX_FAILED_LOGINS:
        return 0, now + LOCKOUT
    return failed, None


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str  # empty on success


def authenticate(
    session: Session, username: str, password: str, now: dt.datetime | None = None
) -> LoginResult:
    """Check a login and update the failure count / lockout. The caller commits."""
    now = now or utcnow()
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return LoginResult(None, "用户名或密码错误")
    if is_locked(user.locked_until, now):
        minutes = max(1, -(-int((user.locked_until - now).total_seconds()) // 60))
        return LoginResult(
            None, f"连续 {MAX_FAILED_LOGINS} 次密码错误，账户已锁定，请 {minutes} 分钟后再试"
        )
    if not verify_password(user.password_hash, password):
        failed, locked_until = after_failure(user.failed_logins, now)
        # One statement, so that parallel attempts from several web processes all count.
        session.execute(
            update(User)
            .where(User.id == user.id)
            .values(
                failed_logins=failed if locked_until else User.failed_logins + 1,
                locked_until=locked_until,
            )
        )
        if locked_until:
            return LoginResult(None, f"连续 {MAX_FAILED_LOGINS} 次密码错误，账户已锁定 15 分钟")
        return LoginResult(None, "用户名或密码错误")
    user.failed_logins = 0
    user.locked_until = None
    return LoginResult(user, "")


def create_user(
    session: Session,
    username: str,
    password: str,
    role: UserRole,
    department_id: int | None = None,
) -> User:
    """Add a dashboard user; the caller has checked the name, password and department."""
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        department_id=department_id if role == UserRole.BRANCH else None,
    )
    session.add(user)
    session.flush()
    return user


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User) -> str:
    """Create an API token for ``user``; only its SHA-256 is stored, the token is returned once."""
    token = "bzr_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=token_digest(token)))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user a bearer token belongs to, or None."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None:
        return None
    now = utcnow()
    # Recorded coarsely, so that a busy client does not turn every read into a write.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=5):
        row.last_used_at = now
        session.commit()
    return row.user


class Principal(UserMixin):
    """Who is asking (a logged-in user or a token's owner), detached from any session."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.department_id = user.department_id
        self.department_name = user.department.name if user.department else None

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_affairs(self) -> bool:
        return self.role == UserRole.AFFAIRS

    @property
    def scope(self) -> int | None:
        """The department every query is limited to; None for Student Affairs."""
        return None if self.is_affairs else self.department_id

    @property
    def role_label(self) -> str:
        label = self.role.label
        return f"{label}·{self.department_name}" if self.department_name else label
