"""Parsing of the dashboard's form fields into values, with a Chinese message per problem
(pure: no Flask, so the rules are tested on their own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


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
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.problems.append(f"{label}“{raw}”不是有效日期，应为 YYYY-MM-DD，例如 2026-11-20")
            return None

    def choice(self, name: str, label: str, enum_cls: type[E]) -> E | None:
        raw = (self.data.get(name) or "").strip()
        try:
            return enum_cls(raw)
        except ValueError:
            self.problems.append(f"请选择有效的{label}")
            return None

    def check(self) -> None:
        if self.problems:
            raise FormError(self.problems)
