"""Rendering report rows as a terminal table, CSV, an Excel workbook for HR, or JSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from core.reports.cells import Code, Percent, append_row, percent, percent_of, safe_row
from models.evaluation import GRADE_LABELS, Grade
from models.worklog import LOG_KIND_LABELS, LogKind

FORMATS = ("table", "csv", "xlsx", "json")
KINDS = ("evaluation", "awards", "allowance")
GRADES = [GRADE_LABELS[g] for g in GRADE_LABELS]


def _rate(value: float | None) -> str:
    return "" if value is None else str(Percent(value))


def _ci(row: dict[str, Any]) -> str:
    """The 95% interval with the number of respondents it rests on: ``76.1–91.9 n=5``. Below
    the minimum number of respondents the interval is not shown, n still is."""
    n = row.get("respondents") or 0
    if row.get("ci_low") is None:
        return f"— n={n}" if n else ""
    return f"{row['ci_low']:.1f}–{row['ci_high']:.1f} n={n}"


def _attendance(row: dict[str, Any]) -> str:
    """第十四条: branch meetings attended of those held while in office, ``2/3``."""
    held = row.get("meetings_held")
    if not held:
        return "" if held is None else "0/0"
    return f"{held - len(row.get('meetings_missed') or [])}/{held}"


def _meetings_held(row: dict[str, Any]) -> int | None:
    return row.get("meetings_held")


def _meetings_present(row: dict[str, Any]) -> int | None:
    held = row.get("meetings_held")
    return None if held is None else held - len(row.get("meetings_missed") or [])


def _employment(row: dict[str, Any]) -> str:
    """第八条（三）: the final-year classes' employment rate, ``62.5%(5/8)``."""
    classes = row.get("employment") or []
    if not classes:
        return ""
    placed = sum(c["placed"] for c in classes)
    students = sum(c["students"] for c in classes)
    return f"{_rate(row.get('employment_rate'))}({placed}/{students})"


def _final_year(key: str) -> Callable[[dict[str, Any]], int | None]:
    """Students (or those placed) of the teacher's final-year classes; None without any."""

    def value(row: dict[str, Any]) -> int | None:
        classes = row.get("employment") or []
        return sum(c[key] for c in classes) if classes else None

    return value


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
    # "text": only where cells are read as text (terminal, CSV, pages), e.g. ``76.1–91.9 n=5``;
    # "xlsx": only in the workbook, the same figures as numbers a spreadsheet sorts and sums.
    only: str | None = None


def text_columns(kind: str) -> list[Column]:
    """The columns of ``kind`` shown as text: CSV and the dashboard's report pages."""
    return [c for c in COLUMNS[kind] if c.only != "xlsx"]


def xlsx_columns(kind: str) -> list[Column]:
    return [c for c in COLUMNS[kind] if c.only != "text"]


COLUMNS: dict[str, list[Column]] = {
    "evaluation": [
        Column("工号", lambda r: Code(r["staff_no"])),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("班级", lambda r: _join(r["classes"])),
        Column("答卷人数", lambda r: r["respondents"]),
        Column("应答人数", lambda r: r["eligible"]),
        Column("参评率", lambda r: percent(r["response_rate"])),
        Column("满意度", lambda r: percent_of(r["satisfaction_pct"])),
        Column("95%置信区间", _ci, only="text"),
        Column("置信区间下限", lambda r: percent_of(r.get("ci_low")), only="xlsx"),
        Column("置信区间上限", lambda r: percent_of(r.get("ci_high")), only="xlsx"),
        Column("考核等级", lambda r: r["grade"]),
        Column("不合格原因", lambda r: _join(r["reasons"])),
        Column("工作日志(条)", lambda r: sum(r["logs"].values())),
        Column("日志明细", lambda r: _logs(r["logs"]), in_table=False),
        Column("参加例会", lambda r: r["meetings_attended"], in_table=False),
        Column("例会出勤", _attendance, only="text"),
        Column("党总支例会(次)", _meetings_held, only="xlsx"),
        Column("出席党总支例会(次)", _meetings_present, only="xlsx"),
        Column("例会出勤率", lambda r: percent(r.get("meeting_attendance_rate")), in_table=False),
        Column("毕业班就业率", _employment, in_table=False, only="text"),
        Column("毕业班就业率", lambda r: percent(r.get("employment_rate")), only="xlsx"),
        Column("毕业班学生(人)", _final_year("students"), only="xlsx"),
        Column("毕业班已落实去向(人)", _final_year("placed"), only="xlsx"),
        Column("参加培训", lambda r: r["trainings_attended"], in_table=False),
        Column("任职月数", lambda r: r["months_in_office"], in_table=False),
        Column("工作补贴(元)", lambda r: r["allowance"], in_table=False),
        Column("调整说明", lambda r: r["override_reason"] or "", in_table=False),
        Column("提示", lambda r: _join(r["flags"])),
    ],
    "awards": [
        Column("工号", lambda r: Code(r["staff_no"])),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("本学期", lambda r: f"{r['term']} {r['grade']}"),
        Column("上学期", lambda r: f"{r['previous_term']} {r['previous_grade']}"),
        Column("满意度", lambda r: percent_of(r["satisfaction_pct"])),
        Column("95%置信区间", _ci, only="text"),
        Column("置信区间下限", lambda r: percent_of(r.get("ci_low")), only="xlsx"),
        Column("置信区间上限", lambda r: percent_of(r.get("ci_high")), only="xlsx"),
        Column("状态", lambda r: r["status"]),
    ],
    "allowance": [
        Column("工号", lambda r: Code(r["staff_no"])),
        Column("姓名", lambda r: r["teacher"]),
        Column("党总支", lambda r: r["department"] or ""),
        Column("班级", lambda r: _join(r["classes"])),
        Column("任职月份", lambda r: _join(r["months"]), in_table=False),
        Column("任职月数", lambda r: r["months_in_office"]),
        Column("工作补贴(元)", lambda r: r["allowance"]),
    ],
}


def render(
    rows: list[dict[str, Any]],
    fmt: str,
    kind: str = "evaluation",
    extra_sheets: dict[str, tuple[list[str], list[list[Any]]]] | None = None,
) -> bytes:
    """Rows as bytes in ``fmt`` (table, csv, xlsx, json) for report ``kind``;
    ``extra_sheets`` (title → headers, lines) are appended to an xlsx (e.g. 历年趋势)."""
    if kind not in COLUMNS:
        raise ValueError(f"unknown report kind {kind!r}; one of {', '.join(KINDS)}")
    if fmt == "json":
        return json.dumps(rows, ensure_ascii=False, indent=2, default=str).encode() + b"\n"
    if fmt == "csv":
        return _csv(rows, text_columns(kind))
    if fmt == "xlsx":
        return _xlsx(rows, kind, extra_sheets or {})
    if fmt == "table":
        text = _table(rows, [c for c in text_columns(kind) if c.in_table])
        if kind == "evaluation":
            text += _policy_tables(rows)
        return text.encode()
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
    cells = [["" if v is None else str(v) for v in (c.value(r) for c in columns)] for r in rows]
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
        longest = max(
            [display_width(h)]
            + [display_width("" if v[i - 1] is None else str(v[i - 1])) for v in values]
        )
        ws.column_dimensions[get_column_letter(i)].width = min(60, longest + 2)
    ws.freeze_panes = "A2"


def _xlsx(
    rows: list[dict[str, Any]],
    kind: str,
    extra_sheets: dict[str, tuple[list[str], list[list[Any]]]],
) -> bytes:
    """A summary sheet, then one sheet per department with that department's rows."""
    columns = xlsx_columns(kind)
    wb = Workbook()
    summary = wb.active
    summary.title = "汇总"
    by_dep: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_dep.setdefault(r["department"] or "未分配", []).append(r)
    if kind == "evaluation":
        total = Counter(r["grade"] for r in rows)
        # 待测评 gets a column only in a term that has such teachers.
        grades = [g for g in GRADES if g != Grade.PENDING.label or total[g]]
        headers = ["党总支", *grades, "合计"]
        lines = []
        for dep, dep_rows in by_dep.items():
            counts = Counter(r["grade"] for r in dep_rows)
            lines.append([dep, *(counts[g] for g in grades), len(dep_rows)])
        lines.append(["全校", *(total[g] for g in grades), len(rows)])
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
    if kind == "evaluation":
        for title, (sheet_headers, values) in _policy_sheets(rows, xlsx=True).items():
            _write_sheet(wb.create_sheet(_sheet_title(title, taken)), sheet_headers, values)
    for title, (sheet_headers, values) in extra_sheets.items():
        _write_sheet(wb.create_sheet(_sheet_title(title, taken)), sheet_headers, values)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- 第十四条 branch meetings and 第八条（三） employment, from the rows' policy fields -----------

EMPLOYMENT_KINDS = ("签约就业", "升学", "灵活就业", "自主创业", "待就业", "其他")
MONTH_STATUS = {"held": "已召开", "missed": "未召开", "pending": "尚未结束"}


def _month_label(month: str) -> str:
    year, m = month.split("-")
    return f"{year}年{int(m)}月"


def branch_month_rows(rows: list[dict[str, Any]], *, xlsx: bool = False) -> list[list[Any]]:
    """党总支, 月份, 状态, 例会, 出席: one line per branch and month of the term (every teacher
    of a branch carries the same months; the first one's are used). ``xlsx``: one line per
    meeting instead, its date a real date (党总支, 月份, 状态, 日期, 例会, 出席), so that the
    sheet sorts and filters by date; a month without a meeting keeps one line."""
    seen: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        dep = r["department"] or "未分配"
        if dep not in seen and r.get("branch_months"):
            seen[dep] = r["branch_months"]
    lines = []
    for dep, months in seen.items():
        for m in months:
            meetings = m.get("meetings") or []
            head = [dep, _month_label(m["month"]), MONTH_STATUS.get(m["status"], m["status"])]
            if xlsx:
                for x in meetings or [None]:
                    if x is None:
                        lines.append([*head, None, None, None])
                        continue
                    lines.append(
                        [*head, _date(x["date"]), x["title"], _join(x.get("attendees", []))]
                    )
                continue
            lines.append(
                [
                    *head,
                    _join([f"{x['date']} {x['title']}" for x in meetings]),
                    _join(sorted({a for x in meetings for a in x.get("attendees", [])})),
                ]
            )
    return lines


def _date(value: Any) -> Any:
    """A stored ISO date as a date (a spreadsheet date cell); anything else as it is."""
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return value
    return value


def employment_rows(rows: list[dict[str, Any]], *, xlsx: bool = False) -> list[list[Any]]:
    """One line per final-year class (its head teachers joined): students, outcomes recorded
    by kind and the employment rate."""
    classes: dict[str, tuple[dict[str, Any], str, list[str]]] = {}
    for r in rows:
        for c in r.get("employment") or []:
            entry = classes.setdefault(c["class_code"], (c, r["department"] or "", []))
            entry[2].append(r["teacher"])
    lines = []
    for code, (c, dep, teachers) in sorted(classes.items()):
        lines.append(
            [
                dep,
                Code(code) if xlsx else code,
                c["class_name"],
                _join(teachers),
                c["students"],
                c["recorded"],
                *(c["by_kind"].get(k, 0) for k in EMPLOYMENT_KINDS),
                percent(c["employment_rate"]) if xlsx else _rate(c["employment_rate"]),
            ]
        )
    return lines


BRANCH_HEADERS = ["党总支", "月份", "状态", "例会", "出席人员"]
BRANCH_XLSX_HEADERS = ["党总支", "月份", "状态", "日期", "例会", "出席人员"]
EMPLOYMENT_HEADERS = [
    "党总支",
    "班级代码",
    "班级名称",
    "班主任",
    "学生人数",
    "已登记去向",
    *EMPLOYMENT_KINDS,
    "就业率",
]


def _policy_sheets(
    rows: list[dict[str, Any]], *, xlsx: bool = False
) -> dict[str, tuple[list[str], list[list[Any]]]]:
    return {
        "党总支例会": (
            BRANCH_XLSX_HEADERS if xlsx else BRANCH_HEADERS,
            branch_month_rows(rows, xlsx=xlsx),
        ),
        "就业情况": (EMPLOYMENT_HEADERS, employment_rows(rows, xlsx=xlsx)),
    }


def open_round_rows(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """测评, 已答, 应答, 参评率: each round still open when the term was evaluated, summed over
    the teachers (issue 14: an open round is shown as 进行中 and counted in nothing else)."""
    totals: dict[str, list[int]] = {}
    for r in rows:
        for o in r.get("open_rounds") or []:
            t = totals.setdefault(o.get("survey") or str(o.get("round_id")), [0, 0])
            t[0] += o.get("answered") or 0
            t[1] += o.get("eligible") or 0
    return [
        [survey, answered, eligible, _rate(answered / eligible if eligible else None)]
        for survey, (answered, eligible) in totals.items()
    ]


def _policy_tables(rows: list[dict[str, Any]]) -> str:
    """The terminal report's sections after the teachers: rounds still open, the months each
    branch held (or missed) its meeting, and the final-year classes' employment."""
    out = []
    in_progress = open_round_rows(rows)
    if in_progress:
        out.append("\n进行中的测评（关闭后才计入考核，以上各项均不含）\n")
        out.append(_plain_table(["测评", "已答", "应答", "参评率"], in_progress))
    branch = branch_month_rows(rows)
    missed: dict[str, list[str]] = {}
    for line in branch:
        if line[2] == MONTH_STATUS["missed"]:
            missed.setdefault(line[0], []).append(line[1])
    out.append("\n党总支工作例会（第十四条：每月至少一次）\n")
    out.append(_plain_table(BRANCH_HEADERS[:4], [line[:4] for line in branch]))
    for dep, months in missed.items():
        out.append(f"{dep} 未召开例会的月份：{_join(months)}\n")
    out.append("\n毕业年级就业情况（第八条（三））\n")
    short = [EMPLOYMENT_HEADERS[i] for i in (0, 1, 3, 4, 5)] + [
        "签约",
        "升学",
        "灵活",
        "创业",
        "待就业",
        "其他",
        "就业率",
    ]
    out.append(
        _plain_table(
            short, [[v for i, v in enumerate(line) if i != 2] for line in employment_rows(rows)]
        )
    )
    return "".join(out)


def _plain_table(headers: list[str], values: list[list[Any]]) -> str:
    columns = [Column(h, itemgetter(i)) for i, h in enumerate(headers)]
    return _table(values, columns)  # type: ignore[arg-type]
