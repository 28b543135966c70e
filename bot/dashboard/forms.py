"""Parsing of the dashboard's form fields into values, with a Chinese message per problem
(pure: no Flask, so the rules are tested on their own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)

# Dates a form may carry: the school's records, with room on both sides. Beyond them a date is
# a typo, and one near the calendar's end would overflow the arithmetic done on it (a year
# after 9999-12-31 is "year 10000 is out of range").
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)

# The largest row id (the id columns are INTEGER: 32 bits on PostgreSQL, which refuses a larger
# number as "integer out of range"; SQLite cannot bind one beyond 64 bits). Larger names nothing.
MAX_ID = 2**31 - 1


def parse_id(raw: str | None) -> int | None:
    """A row id (or a count) typed as ASCII digits within MAX_ID, else None. ``str.isdigit``
    alone is not enough: it accepts "²" and "٣", which ``int`` then rejects or reads."""
    raw = (raw or "").strip()
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    value = int(raw)
    return value if value <= MAX_ID else None


class FormError(ValueError):
    """One or more fields could not be used; ``problems`` says which and why."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


class Fields:
    """Collects problems while reading fields, so that the user sees all of them at once."""

    def __init__(self, data: Mapping[str, str]) -> None:
        self.data = data
        self.problems: list[str] = []

    def text(self, name: str, label: str, *, required: bool = True, max_len: int = 500) -> str:
        value = (self.data.get(name) or "").strip()
        if required and not value:
            self.problems.append(f"请填写{label}")
        elif len(value) > max_len:
            self.problems.append(f"{label}不能超过 {max_len} 个字")
        return value

    def date(self, name: str, label: str, *, required: bool = True) -> dt.date | None:
        raw = (self.data.get(name) or "").strip()
        if not raw:
            if required:
                self.problems.append(f"请填写{label}（例如 2026-11-20）")
            return None
        try:
            day = dt.date.fromisoformat(raw)
        except ValueError:
            self.problems.append(f"{label}“{raw}”不是有效日期，应为 YYYY-MM-DD，例如 2026-11-20")
            return None
        if not FIRST_DAY <= day <= LAST_DAY:
            self.problems.append(
                f"{label}“{raw}”超出范围，应在 {FIRST_DAY.year} 至 {LAST_DAY.year} 年之间"
            )
            return None
        return day

    def choice(
        self, name: str, label: str, enum_cls: type[E], allowed: Collection[E] | None = None
    ) -> E | None:
        raw = (self.data.get(name) or "").strip()
        try:
            value = enum_cls(raw)
        except ValueError:
            value = None
        if value is None or (allowed is not None and value not in allowed):
            self.problems.append(f"请选择有效的{label}")
            return None
        return value

    def check(self) -> None:
        if self.problems:
            raise FormError(self.problems)
