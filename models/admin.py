"""Dashboard users, API tokens and the audit log of admin changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, CreatedAt, LabelledEnum, str_enum, utcnow
from models.org import Department


class UserRole(LabelledEnum):
    AFFAIRS = "affairs", "学生处"  # everything
    BRANCH = "branch", "党总支"  # its own department only
    # 人事处: the allowance sheet and the 人事处备案 step; no survey figures, comments or logs.
    HR = "hr", "人事处"


class User(CreatedAt, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[UserRole] = mapped_column(str_enum(UserRole))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[dt.datetime | None]
    # Stored in each login's session cookie and compared on every request: raising it (logout,
    # password change, disabling, unlock) ends every session the user has open.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    disabled_at: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]

    department: Mapped[Department | None] = relationship()

    __table_args__ = (
        CheckConstraint(
            "(role = 'branch') = (department_id IS NOT NULL)", name="branch_has_department"
        ),
    )


class ApiToken(CreatedAt, Base):
    """A bearer token for the API; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[dt.datetime | None]
    # What the token is for (shown on the users page); the token itself is never shown again.
    label: Mapped[str] = mapped_column(String(100), default="", server_default="")
    expires_at: Mapped[dt.datetime]
    revoked_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship()


class LoginLock(Base):
    """Too many wrong passwords for one account from one address: that account is refused from
    that address (only) until ``locked_until``; an unlock deletes the rows. Keyed by the name
    typed, so unknown names lock the same way and the answer tells nothing."""

    __tablename__ = "login_locks"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    address: Mapped[str] = mapped_column(String(64))
    locked_until: Mapped[dt.datetime]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # a username, or "cli:<user>"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
