"""Rendering report rows as a terminal table, CSV, an Excel workbook for HR, or JSON."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from bot.reports.cells import append_row, safe_row
from models.evaluation import GRADE_LABELS
from models.worklog import LOG_KIND_LABELS, LogKind

FORMATS = ("table", "csv", "xlsx", "json")
KINDS = ("evaluation", "awards", "allowance")
GRADES = [GRADE_LABELS[g] for g in GRADE_LABELS]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _rate(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"


def _ci(row: dict[str, Any]) -> str:
    if row.get("ci_low") is None:
        return ""
    return f"{row['ci_low']:.1f}–{row['ci_high']:.1f}"


def _join(values: Sequence[str]) -> str:
    return "、".join(values)


def _logs(logs: dict[str, int]) -> str:
    parts = []
    for kind, n in logs.items():
        try:
            label = LOG_KIND_LABELS[LogKind(kind)]
        except ValueError:
            label = kind
        parts.append(f"{label}{n}")
    return _join(parts)


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], Any]
    # Shown in the terminal table too (the table keeps to what fits a screen).
    in_table: bool = True


COLUMNS: dict[str, list[Column]] = {
    "evaluation": [
        Column("工号", lambda r: r["staff_no"]),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("班级", lambda r: _join(r["classes"])),
        Column("答卷人数", lambda r: r["respondents"]),
        Column("应答人数", lambda r: r["eligible"]),
        Column("回收率", lambda r: _rate(r["response_rate"])),
        Column("满意度(%)", lambda r: _pct(r["satisfaction_pct"])),
        Column("95%置信区间", _ci, in_table=False),
        Column("考核等级", lambda r: r["grade"]),
        Column("不合格原因", lambda r: _join(r["reasons"])),
        Column("工作日志(条)", lambda r: sum(r["logs"].values())),
        Column("日志明细", lambda r: _logs(r["logs"]), in_table=False),
        Column("参加例会", lambda r: r["meetings_attended"], in_table=False),
        Column("参加培训", lambda r: r["trainings_attended"], in_table=False),
        Column("任职月数", lambda r: r["months_in_office"], in_table=False),
        Column("工作补贴(元)", lambda r: r["allowance"], in_table=False),
        Column("调整说明", lambda r: r["override_reason"] or "", in_table=False),
        Column("提示", lambda r: _join(r["flags"])),
    ],
    "awards": [
        Column("工号", lambda r: r["staff_no"]),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("本学期", lambda r: f"{r['term']} {r['grade']}"),
        Column("上学期", lambda r: f"{r['previous_term']} {r['previous_grade']}"),
        Column("满意度(%)", lambda r: _pct(r["satisfaction_pct"])),
        Column("状态", lambda r: r["status"]),
    ],
    "allowance": [
        Column("工号", lambda r: r["staff_no"]),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("班级", lambda r: _join(r["classes"])),
        Column("任职月份", lambda r: _join(r["months"]), in_table=False),
        Column("任职月数", lambda r: r["months_in_office"]),
        Column("工作补贴(元)", lambda r: r["allowance"]),
    ],
}


def render(rows: list[dict[str, Any]], fmt: str, kind: str = "evaluation") -> bytes:
    """Rows as bytes in ``fmt`` (table, csv, xlsx, json) for report ``kind``."""
    if kind not in COLUMNS:
        raise ValueError(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str).encode() + b"\n"
    if fmt == "csv":
        return _csv(rows, COLUMNS[kind])
    if fmt == "xlsx":
        return _xlsx(rows, kind)
    if fmt == "table":
        return _table(rows, [c for c in COLUMNS[kind] if c.in_table]).encode()
    raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")


def _csv(rows: list[dict[str, Any]], columns: list[Column]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow([c.header for c in columns])
    for row in rows:
        writer.writerow(safe_row(c.value(row) for c in columns))
    # With a BOM, Excel on Chinese Windows opens the UTF-8 file without garbling it.
    return out.getvalue().encode("utf-8-sig")


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and fullwidth (CJK) characters take two."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def _table(rows: list[dict[str, Any]], columns: list[Column]) -> str:
    cells = [[str(c.value(r)) for c in columns] for r in rows]
    headers = [c.header for c in columns]
    widths = [
        max([display_width(h)] + [display_width(line[i]) for line in cells])
        for i, h in enumerate(headers)
    ]
    numeric = [
        bool(rows) and all(isinstance(c.value(r), int | float) for r in rows) for c in columns
    ]
    lines = ["  ".join(_pad(h, w, False) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for line in cells:
        lines.append(
            "  ".join(
                _pad(v, w, right) for v, w, right in zip(line, widths, numeric, strict=True)
            ).rstrip()
        )
    if not rows:
        lines.append("（无）")
    return "\n".join(lines) + "\n"


_BAD_SHEET_CHARS = str.maketrans({c: "_" for c in "[]:*?/\\"})


def _sheet_title(name: str, taken: set[str]) -> str:
    base = (name or "未分配").translate(_BAD_SHEET_CHARS)[:28]
    title, n = base, 2
    while title in taken:
        title, n = f"{base[:26]}({n})", n + 1
    taken.add(title)
    return title


def _write_sheet(ws, headers: list[str], values: list[list[Any]]) -> None:
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for line in values:
        append_row(ws, line)
    for i, h in enumerate(headers, start=1):
        longest = max([display_width(h)] + [display_width(str(v[i - 1])) for v in values])
        ws.column_dimensions[get_column_letter(i)].width = min(60, longest + 2)
    ws.freeze_panes = "A2"


def _xlsx(rows: list[dict[str, Any]], kind: str) -> bytes:
    """A summary sheet, then one sheet per department with that department's rows."""
    columns = COLUMNS[kind]
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    by_dep: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_dep.setdefault(r["department"] or "未分配", []).append(r)
    if kind == "evaluation":
        headers = ["党总支", *GRADES, "合计"]
        lines = []
        for dep, dep_rows in by_dep.items():
            counts = Counter(r["grade"] for r in dep_rows)
            lines.append([dep, *(counts[g] for g in GRADES), len(dep_rows)])
        total = Counter(r["grade"] for r in rows)
        lines.append(["全校", *(total[g] for g in GRADES), len(rows)])
    elif kind == "allowance":
        headers = ["党总支", "人数", "任职月数合计", "工作补贴合计(元)"]
        lines = [
            [
                dep,
                len(d),
                sum(r["months_in_office"] for r in d),
                sum(r["allowance"] for r in d),
            ]
            for dep, d in by_dep.items()
        ]
        lines.append(
            [
                "全校",
                len(rows),
                sum(r["months_in_office"] for r in rows),
                sum(r["allowance"] for r in rows),
            ]
        )
    else:
        headers = ["党总支", "候选人数"]
        lines = [[dep, len(d)] for dep, d in by_dep.items()]
        lines.append(["全校", len(rows)])
    _write_sheet(summary, headers, lines)
    taken = {"汇总"}
    for dep, dep_rows in by_dep.items():
        ws = wb.create_sheet(_sheet_title(dep, taken))
        _write_sheet(
            ws, [c.header for c in columns], [[c.value(r) for c in columns] for r in dep_rows]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
