"""Report rows and downloads through engineer E's ``core.reports``, so that the dashboard, the
API and ``banzhuren report`` give the same rows and files."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from core import reports
from core.reports.render import text_columns
from models import Term

# Dashboard URL name → core.reports kind, and the Chinese title used in file names.
KINDS = {"evaluation": "evaluation", "award": "awards", "allowance": "allowance"}
TITLES = {"evaluation": "考核结果", "award": "先进兼职班主任候选人", "allowance": "补贴发放表"}
# The columns a report page keeps first and on screen on a phone (issue 24).
KEY_HEADERS = {
    "evaluation": {"姓名", "满意度", "考核等级"},
    "award": {"姓名", "满意度", "状态"},
    "allowance": {"姓名", "任职月数", "工作补贴(元)"},
}
FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json; charset=utf-8",
}


def report_rows(session: Session, term: Term, scope: int | None, kind: str) -> list[dict[str, Any]]:
    """The rows of one report, limited to the caller's department (None = all)."""
    fn = {
        "evaluation": reports.evaluation_rows,
        "award": reports.award_rows,
        "allowance": reports.allowance_rows,
    }[kind]
    return list(fn(session, term.code, department_id=scope))


def table(rows: list[dict[str, Any]], kind: str) -> tuple[list[str], list[list[Any]]]:
    """Headers and cells as the downloaded files show them, for the report pages."""
    columns = text_columns(KINDS[kind])
    cells = [[c.value(r) for c in columns] for r in rows]
    return [c.header for c in columns], [["" if v is None else v for v in line] for line in cells]


def render(
    rows: list[dict[str, Any]],
    fmt: str,
    kind: str,
    extra_sheets: dict[str, tuple[list[str], list[list[Any]]]] | None = None,
) -> bytes:
    return reports.render(rows, fmt, kind=KINDS[kind], extra_sheets=extra_sheets)


def filename(term: Term, kind: str, fmt: str, department: str | None) -> str:
    scope = f"-{department}" if department else ""
    return f"{term.code}-{TITLES[kind]}{scope}.{fmt}"
