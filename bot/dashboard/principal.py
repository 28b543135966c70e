"""Who is asking, as Flask-Login and the API see a dashboard user."""

from __future__ import annotations

from flask_login import UserMixin

from models import User, UserRole


class Principal(UserMixin):
    """Who is asking (a logged-in user or a token's owner), detached from any session."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.department_id = user.department_id
        self.department_name = user.department.name if user.department else None
        self.session_version = user.session_version

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_affairs(self) -> bool:
        return self.role == UserRole.AFFAIRS

    @property
    def is_hr(self) -> bool:
        return self.role == UserRole.HR

    @property
    def scope(self) -> int | None:
        """The department every query is limited to; None for Student Affairs and for 人事处
        (school-wide, but only on the few routes bot.dashboard.access.ROUTES gives it)."""
        return None if self.is_affairs else self.department_id

    @property
    def role_label(self) -> str:
        label = self.role.label
        return f"{label}·{self.department_name}" if self.department_name else label
