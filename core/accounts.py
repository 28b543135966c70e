"""Dashboard accounts: password hashing (werkzeug.security), login with lockout per account and
source address, sessions that can be ended, API tokens that expire and can be revoked.

Kept free of Flask views so that the CLI (``banzhuren user ...``), the user pages and the API
share it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from core.common_passwords import COMMON_PASSWORDS
from models import ApiToken, LoginLock, User, UserRole
from models.base import utcnow

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
TOKEN_DAYS = 90
USERNAME = re.compile(r"^[\w.@-]{2,64}$")

# Compared against when the username does not exist, so that an unknown name takes as long
# as a wrong password and the answer does not tell which one was wrong.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """A salted hash (werkzeug's default scrypt) for ``users.password_hash``."""
    return generate_password_hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def password_problem(password: str, username: str | None = None) -> str | None:
    """Why ``password`` is not acceptable, or None (pure)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符"
    if password.strip() != password:
        return "密码首尾不能是空格"
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(lowered)) <= 2:
        return "这个密码太常见、太容易被猜到，请换一个"
    if username and len(username) >= 3 and username.lower() in lowered:
        return "密码不能包含用户名"
    return None


def username_problem(name: str) -> str | None:
    if not USERNAME.match(name):
        return "用户名应为 2-64 个字母、数字、汉字或 . _ - @"
    return None


def random_password() -> str:
    """A password for a reset, shown once: 16 characters a person can read out."""
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(16))
        if password_problem(candidate) is None:
            return candidate


def is_locked(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    return locked_until is not None and locked_until > now


class FailureCounter(Protocol):
    """Counts wrong passwords per (name, address) across every web process (a ``limits``
    rate-limit storage: Redis when set, process memory otherwise)."""

    def failed(self, username: str, address: str) -> bool:
        """Count one failure; True when this one reached the limit."""

    def reset(self, username: str, address: str) -> None: ...


class MemoryCounter:
    """A FailureCounter for one process (the CLI and unit tests)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def failed(self, username: str, address: str) -> bool:
        key = (username, address)
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key] >= MAX_FAILED_LOGINS

    def reset(self, username: str, address: str) -> None:
        self.counts.pop((username, address), None)


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    message: str  # empty on success
    locked_now: bool = False  # this attempt locked the name for this address


def lock_of(session: Session, username: str, address: str, now: dt.datetime) -> dt.datetime | None:
    """Until when ``username`` is refused from ``address``, or None."""
    return session.scalar(
        select(LoginLock.locked_until)
        .where(
            LoginLock.username == username,
            LoginLock.address == address,
            LoginLock.locked_until > now,
        )
        .order_by(LoginLock.locked_until.desc())
        .limit(1)
    )


def authenticate(
    session: Session,
    username: str,
    password: str,
    address: str,
    counter: FailureCounter,
    now: dt.datetime | None = None,
) -> LoginResult:
    """Check a login. Five wrong passwords for one name from one address lock that name for
    that address only, for 15 minutes: a stranger elsewhere cannot lock the real user out.
    The caller commits (and writes the audit rows)."""
    now = now or utcnow()
    # No real name is longer (USERNAME); a longer one typed is counted and locked as its prefix.
    username = username.strip()[:64]
    locked_until = lock_of(session, username, address, now)
    if locked_until is not None:
        minutes = max(1, -(-int((locked_until - now).total_seconds()) // 60))
        return LoginResult(
            None,
            f"连续 {MAX_FAILED_LOGINS} 次密码错误，该账户在本机已锁定，请 {minutes} 分钟后再试，"
            "或请学生处解锁",
        )
    user = session.scalar(select(User).where(User.username == username))
    good = verify_password(user.password_hash if user else _DUMMY_HASH, password)
    if user is None or not good:
        if counter.failed(username, address):
            counter.reset(username, address)
            session.add(LoginLock(username=username, address=address, locked_until=now + LOCKOUT))
            return LoginResult(
                None, f"连续 {MAX_FAILED_LOGINS} 次密码错误，账户已锁定 15 分钟", locked_now=True
            )
        return LoginResult(None, "用户名或密码错误")
    if user.disabled_at is not None:
        return LoginResult(None, "该账户已停用，请联系学生处")
    counter.reset(username, address)
    user.failed_logins = 0
    user.last_login_at = now
    return LoginResult(user, "")


def active_locks(session: Session, now: dt.datetime | None = None) -> dict[str, int]:
    """Name → number of addresses it is locked for right now."""
    now = now or utcnow()
    counts: dict[str, int] = {}
    for name in session.scalars(select(LoginLock.username).where(LoginLock.locked_until > now)):
        counts[name] = counts.get(name, 0) + 1
    return counts


def unlock(session: Session, user: User) -> int:
    """Lift every lock on ``user`` and end their sessions; the number of locks lifted."""
    lifted = session.execute(delete(LoginLock).where(LoginLock.username == user.username))
    end_sessions(session, user)
    return lifted.rowcount or 0


def end_sessions(session: Session, user: User) -> None:
    """End every session ``user`` has open (the cookies carry the old version)."""
    session.execute(
        update(User).where(User.id == user.id).values(session_version=User.session_version + 1)
    )
    session.refresh(user, ["session_version"])


def set_password(session: Session, user: User, password: str) -> int:
    """Store a new password (checked by the caller), end the user's sessions and revoke their
    API tokens: a password changed because it leaked must not leave a token made with it
    working. Returns how many tokens were revoked."""
    user.password_hash = hash_password(password)
    session.flush()
    end_sessions(session, user)
    revoked = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return revoked.rowcount or 0


def disable_user(session: Session, user: User) -> None:
    """No more logins or API calls: sessions end and the tokens stop working."""
    user.disabled_at = user.disabled_at or utcnow()
    session.flush()
    end_sessions(session, user)


def enable_user(session: Session, user: User) -> None:
    user.disabled_at = None


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


def issue_token(
    session: Session, user: User, days: int = TOKEN_DAYS, label: str = ""
) -> tuple[str, ApiToken]:
    """Create an API token for ``user`` valid ``days`` days; only its SHA-256 is stored, the
    token is returned once (with its row)."""
    token = "bzr_" + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=token_digest(token),
        label=label[:100],
        expires_at=utcnow() + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return token, row


def revoke_token(session: Session, row: ApiToken) -> None:
    row.revoked_at = row.revoked_at or utcnow()


def token_usable(row: ApiToken, now: dt.datetime) -> bool:
    return row.revoked_at is None and row.expires_at > now and row.user.disabled_at is None


def user_for_token(session: Session, token: str) -> User | None:
    """The user a bearer token belongs to, or None (unknown, expired, revoked, user disabled)."""
    if not token:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    now = utcnow()
    if row is None or not token_usable(row, now):
        return None
    # Recorded coarsely, so that a busy client does not turn every read into a write.
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=5):
        row.last_used_at = now
        session.commit()
    return row.user
