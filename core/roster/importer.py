"""Importing a roster all-or-nothing: validate every row first, report every bad row as
``sheet:row: reason``, then write in a handful of batched statements.

Rows are matched by their natural keys (党总支 name, 班级代码, 工号, 学号, and an appointment's
工号 + 班级代码 + 聘任开始), so importing the same roster twice changes nothing and an updated
roster updates people in place: their ids, binding codes and WeChat bindings stay. Nothing absent
from the roster is deleted (a student missing from this year's file may still have answers);
an appointment that was ended (解聘 / 辞职) is never revived by an import.

The caller owns the transaction: the importer flushes, the command commits.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from core.roster.reader import SHEETS, RawRoster, RosterReadError, Row, Sheet, read_roster
from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    ClassKind,
    Department,
    SchoolClass,
    Student,
    Teacher,
    TeacherRole,
    class_members,
)
from models.appointment import one_year_after

# Column sizes of the models: checked here so that SQLite and PostgreSQL reject the same rows.
MAX_LEN = {
    "department": 100,
    "class_code": 50,
    "class_name": 200,
    "student_no": 32,
    "staff_no": 32,
    "person_name": 100,
}
CLASS_SEPARATORS = re.compile(r"[;；,，、]")
SCIENTIFIC = re.compile(r"^\d+(\.\d+)?[eE][+-]?\d+$")
YEARS_RANGE = range(1, 9)


class RosterError(Exception):
    """The roster has problems; ``errors`` lists each as ``sheet:row: reason``."""

    def __init__(self, errors: list[str], warnings: list[str] | None = None) -> None:
        super().__init__(f"花名册有 {len(errors)} 处错误，未导入任何数据")
        self.errors = errors
        self.warnings = warnings or []


@dataclass
class SheetCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportSummary:
    """What an import did, per sheet kind (only the sheets the roster had)."""

    source: str
    counts: dict[str, SheetCounts] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def changes(self) -> int:
        return sum(c.created + c.updated for c in self.counts.values())

    def lines(self) -> list[str]:
        """One line per sheet, in Chinese, for the command line."""
        out = []
        for kind, c in self.counts.items():
            out.append(
                f"{SHEETS[kind].chinese}：新增 {c.created}，更新 {c.updated}，未变 {c.unchanged}"
            )
        out.append("没有变化" if self.changes == 0 else f"共 {self.changes} 处变化")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "changes": self.changes,
            "sheets": {k: vars(c).copy() for k, c in self.counts.items()},
        }


def new_binding_code() -> str:
    """Six random digits, handed out with the person's number to bind their WeChat."""
    return f"{secrets.randbelow(10**6):06d}"


def parse_date(text: str) -> dt.date | None:
    """A date as people type it: 2026-09-01, 2026/9/1, 2026.9.1, 2026年9月1日, 20260901, or
    an Excel serial day number that lost its date format. None when it is not a date."""
    text = text.strip()
    text = re.sub(r"[ T]00:00(:00)?$", "", text)
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    if not m:
        m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})", text)
    try:
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if re.fullmatch(r"\d{5}", text) and 30000 <= int(text) <= 80000:
            return dt.date(1899, 12, 30) + dt.timedelta(days=int(text))
    except ValueError:
        return None
    return None


_YES = {"是", "y", "yes", "true", "1", "已培训", "已参加"}
_NO = {"否", "n", "no", "false", "0", "未培训", "未参加"}


def parse_yes_no(text: str) -> bool | None:
    t = text.strip().lower()
    if t in _YES:
        return True
    if t in _NO:
        return False
    return None


def entry_year_range(today: dt.date | None = None) -> range:
    """Plausible entry years: nobody still studies 15 years on, nobody enters after next year."""
    year = (today or dt.date.today()).year
    return range(year - 15, year + 2)


# ---------------------------------------------------------------------------------------------
# What the database already holds, loaded once (no per-row queries).


# A teacher as the importer compares and remembers it (loaded, and returned by the insert).
_TEACHER_COLUMNS = (
    Teacher.id,
    Teacher.staff_no,
    Teacher.name,
    Teacher.department_id,
    Teacher.role,
    Teacher.wecom_userid,
)
# A WeCom UserId (issue 25.5): 1-64 letters, digits and _ . @ - (WeCom's own rule).
WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass
class _Existing:
    departments: dict[str, int]
    teachers: dict[str, dict[str, Any]]
    classes: dict[str, dict[str, Any]]
    students: dict[str, dict[str, Any]]
    members: dict[int, set[int]]
    appointments: dict[tuple[int, int, dt.date], dict[str, Any]]

    @classmethod
    def load(cls, session: Session, roster: RawRoster) -> _Existing:
        departments = dict(session.execute(select(Department.name, Department.id)).all())
        teachers = {r.staff_no: r._asdict() for r in session.execute(select(*_TEACHER_COLUMNS))}
        classes = {
            r.code: r._asdict()
            for r in session.execute(
                select(
                    SchoolClass.id,
                    SchoolClass.code,
                    SchoolClass.name,
                    SchoolClass.department_id,
                    SchoolClass.kind,
                    SchoolClass.entry_year,
                    SchoolClass.years,
                    SchoolClass.counsellor_id,
                )
            )
        }
        students: dict[str, dict[str, Any]] = {}
        members: dict[int, set[int]] = {}
        if "students" in roster.sheets:
            students = {
                r.student_no: r._asdict()
                for r in session.execute(select(Student.id, Student.student_no, Student.name))
            }
            for student_id, class_id in session.execute(
                select(class_members.c.student_id, class_members.c.class_id)
            ):
                members.setdefault(student_id, set()).add(class_id)
        appointments = {}
        if "appointments" in roster.sheets:
            appointments = {
                (r.teacher_id, r.class_id, r.start_date): r._asdict()
                for r in session.execute(
                    select(
                        Appointment.id,
                        Appointment.teacher_id,
                        Appointment.class_id,
                        Appointment.start_date,
                        Appointment.end_date,
                        Appointment.trained,
                    )
                )
            }
        return cls(departments, teachers, classes, students, members, appointments)


# ---------------------------------------------------------------------------------------------
# Validation: every row checked, every problem collected; the result is plain records.

_UNSET: Any = object()  # a column the roster does not have: leave the stored value alone


@dataclass
class _Plan:
    departments: list[str] = field(default_factory=list)
    teachers: dict[str, dict[str, Any]] = field(default_factory=dict)
    classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    students: dict[str, dict[str, Any]] = field(default_factory=dict)
    appointments: dict[tuple[str, str, dt.date], dict[str, Any]] = field(default_factory=dict)


class _Validator:
    def __init__(self, roster: RawRoster, existing: _Existing, today: dt.date) -> None:
        self.roster = roster
        self.existing = existing
        self.today = today
        self.errors: list[str] = []
        self.plan = _Plan()
        sheets = roster.sheets
        # Everything the roster names counts as known even when its own row is bad, so that
        # one bad class row is reported once, not again on each of its students.
        self.known_departments = set(existing.departments) | {
            r.get("name") for r in _rows(sheets, "departments") if r.get("name")
        }
        self.known_classes = set(existing.classes) | {
            r.get("code") for r in _rows(sheets, "classes") if r.get("code")
        }
        self.teacher_roles: dict[str, TeacherRole | None] = {
            no: t["role"] for no, t in existing.teachers.items()
        }

    def error(self, sheet: Sheet, row: Row | int, reason: str) -> None:
        number = row if isinstance(row, int) else row.number
        self.errors.append(f"{sheet.name}:{number}: {reason}")

    def structure(self) -> bool:
        """Sheet-level problems (empty sheet, missing or repeated columns), each once."""
        ok = True
        for sheet in self.roster.sheets.values():
            if sheet.empty:
                self.error(sheet, 1, "表格是空的，第 1 行应为表头")
                ok = False
                continue
            if sheet.missing:
                self.error(sheet, sheet.header_row, f"缺少列 {'、'.join(sheet.missing)}")
                ok = False
            for label in sheet.duplicate_headers:
                self.error(sheet, sheet.header_row, f"列 {label} 出现了两次")
                ok = False
        return ok

    def run(self) -> None:
        sheets = self.roster.sheets
        for kind in ("departments", "teachers", "classes", "students", "appointments"):
            if kind in sheets:
                getattr(self, kind)(sheets[kind])

    def _required(self, sheet: Sheet, row: Row, name: str, max_len: int | None = None) -> str:
        value = row.get(name)
        label = sheet.spec.label(name)
        if not value:
            self.error(sheet, row, f"{label}为空")
        elif max_len is not None and len(value) > max_len:
            self.error(sheet, row, f"{label} {value} 太长（最多 {max_len} 个字）")
            return ""
        return value

    def _number(self, sheet: Sheet, row: Row, name: str, what: str) -> str:
        value = self._required(sheet, row, name, MAX_LEN[what])
        if value and SCIENTIFIC.match(value):
            self.error(
                sheet,
                row,
                f"{sheet.spec.label(name)} {value} 是科学计数法，数字已丢失；"
                "请把该列设为“文本”格式后重新填写",
            )
            return ""
        return value

    def _repeated(self, sheet: Sheet, row: Row, seen: dict[Any, int], key: Any, what: str) -> bool:
        """Whether ``key`` was on an earlier row of the sheet (an error ``<what>重复``, naming
        that row); else this row is remembered as its first."""
        if key in seen:
            self.error(sheet, row, f"{what}重复（第 {seen[key]} 行已有）")
            return True
        seen[key] = row.number
        return False

    def _person(self, sheet: Sheet, row: Row, number: str) -> tuple[str, str]:
        """A teacher's or a student's row: their number (``staff_no``, ``student_no``) and
        name, checked ("" when wrong)."""
        return (
            self._number(sheet, row, number, number),
            self._required(sheet, row, "name", MAX_LEN["person_name"]),
        )

    def departments(self, sheet: Sheet) -> None:
        seen: dict[str, int] = {}
        for row in sheet.rows:
            name = self._required(sheet, row, "name", MAX_LEN["department"])
            if not name:
                continue
            if self._repeated(sheet, row, seen, name, f"党总支 {name} "):
                continue
            self.plan.departments.append(name)

    def _department(self, sheet: Sheet, row: Row) -> str | None:
        name = row.get("department")
        if name and name not in self.known_departments:
            self.error(sheet, row, f"党总支 {name} 不存在")
        return name or None

    def teachers(self, sheet: Sheet) -> None:
        seen: dict[str, int] = {}
        wecom_rows: dict[str, Row] = {}  # staff_no -> its row, when it sets a WeCom account
        for row in sheet.rows:
            errors_before = len(self.errors)
            staff_no, name = self._person(sheet, row, "staff_no")
            wecom: Any = _UNSET
            if "wecom_userid" in sheet.fields:
                wecom = row.get("wecom_userid") or None
                if wecom is not None and not WECOM_USERID.match(wecom):
                    self.error(
                        sheet,
                        row,
                        f"企业微信账号 {wecom} 无效：应为 1 到 64 个字母、数字或 _ . @ -",
                    )
            department = self._department(sheet, row) if "department" in sheet.fields else _UNSET
            role: Any = _UNSET
            if "role" in sheet.fields:
                text = row.get("role")
                try:
                    role = TeacherRole.from_label(text) if text else TeacherRole.HEAD_TEACHER
                except ValueError:
                    self.error(sheet, row, f"角色 {text} 无效，应为 班主任 或 辅导员")
                    role = None
            if staff_no:
                if self._repeated(sheet, row, seen, staff_no, f"工号 {staff_no} "):
                    continue
                if role is _UNSET:
                    existing = self.existing.teachers.get(staff_no)
                    self.teacher_roles[staff_no] = (
                        existing["role"] if existing else TeacherRole.HEAD_TEACHER
                    )
                else:
                    self.teacher_roles[staff_no] = role
            if len(self.errors) == errors_before:
                self.plan.teachers[staff_no] = {
                    "name": name,
                    "department": department,
                    "role": role,
                    "wecom_userid": wecom,
                }
                if wecom is not _UNSET:
                    wecom_rows[staff_no] = row
        self._wecom_accounts_unique(sheet, wecom_rows)

    def _wecom_accounts_unique(self, sheet: Sheet, rows: dict[str, Row]) -> None:
        """After the import, each WeCom account names one teacher: no two teachers share one
        (WeCom compares UserIds ignoring case), and none is another teacher's 工号 (the callback
        finds people by 工号 too)."""
        final = {no: t.get("wecom_userid") for no, t in self.existing.teachers.items()}
        final.update({no: self.plan.teachers[no]["wecom_userid"] for no in rows})
        holders: dict[str, list[str]] = {}
        for no, account in final.items():
            if account:
                holders.setdefault(account.lower(), []).append(no)
        staff = {no.lower(): no for no in set(self.existing.teachers) | set(self.plan.teachers)}
        for no, row in rows.items():
            account = final[no]
            if not account:
                continue
            others = [h for h in holders[account.lower()] if h != no]
            if others:
                self.error(
                    sheet, row, f"企业微信账号 {account} 重复：工号 {others[0]} 的教师也用它"
                )
            elif staff.get(account.lower(), no) != no:
                owner = staff[account.lower()]
                self.error(sheet, row, f"企业微信账号 {account} 是另一位教师（工号 {owner}）的工号")

    def classes(self, sheet: Sheet) -> None:
        seen: dict[str, int] = {}
        years_allowed = entry_year_range(self.today)
        for row in sheet.rows:
            errors_before = len(self.errors)
            code = self._required(sheet, row, "code", MAX_LEN["class_code"])
            name = self._required(sheet, row, "name", MAX_LEN["class_name"])
            department = self._required(sheet, row, "department")
            if department and department not in self.known_departments:
                self.error(sheet, row, f"党总支 {department} 不存在")
            kind_text = row.get("kind")
            kind = None
            if not kind_text:
                self.error(sheet, row, "类型为空，应为 行政班级 / 小乐团 / 专业")
            else:
                try:
                    kind = ClassKind.from_label(kind_text)
                except ValueError:
                    self.error(sheet, row, f"类型 {kind_text} 无效，应为 行政班级 / 小乐团 / 专业")
            entry_text = row.get("entry_year")
            m = re.fullmatch(r"(\d{4})\s*[级年]?", entry_text)
            entry_year = int(m.group(1)) if m else None
            if not entry_text:
                self.error(sheet, row, "入学年份为空")
            elif entry_year is None:
                self.error(sheet, row, f"入学年份 {entry_text} 无效，应为四位年份，例如 2026")
            elif entry_year not in years_allowed:
                self.error(
                    sheet,
                    row,
                    f"入学年份 {entry_year} 超出范围（{years_allowed.start}–{years_allowed.stop - 1}）",
                )
            years: Any = _UNSET
            if "years" in sheet.fields:
                text = row.get("years")
                years = int(text) if text.isdigit() else None
                if not text:
                    years = 4
                elif years not in YEARS_RANGE:
                    self.error(sheet, row, f"学制 {text} 无效，应为 1 到 8 的整数")
            counsellor: Any = _UNSET
            if "counsellor" in sheet.fields:
                counsellor = row.get("counsellor") or None
                if counsellor is not None:
                    if counsellor not in self.teacher_roles:
                        self.error(sheet, row, f"辅导员工号 {counsellor} 不存在")
                    elif self.teacher_roles[counsellor] not in (TeacherRole.COUNSELLOR, None):
                        self.error(sheet, row, f"工号 {counsellor} 的角色不是辅导员")
            if code and self._repeated(sheet, row, seen, code, f"班级代码 {code} "):
                continue
            if len(self.errors) == errors_before:
                self.plan.classes[code] = {
                    "name": name,
                    "department": department,
                    "kind": kind,
                    "entry_year": entry_year,
                    "years": years,
                    "counsellor": counsellor,
                }

    def students(self, sheet: Sheet) -> None:
        seen: dict[str, int] = {}
        for row in sheet.rows:
            errors_before = len(self.errors)
            student_no, name = self._person(sheet, row, "student_no")
            codes_text = self._required(sheet, row, "class_code")
            codes: list[str] = []
            for code in CLASS_SEPARATORS.split(codes_text):
                code = code.strip()
                if not code or code in codes:
                    continue
                if code not in self.known_classes:
                    self.error(sheet, row, f"班级代码 {code} 不存在")
                codes.append(code)
            if codes_text and not codes:
                self.error(sheet, row, f"班级代码 {codes_text} 里没有班级")
            if student_no and self._repeated(sheet, row, seen, student_no, f"学号 {student_no} "):
                continue
            if len(self.errors) == errors_before:
                self.plan.students[student_no] = {"name": name, "classes": codes}

    def _date(self, sheet: Sheet, row: Row, name: str) -> dt.date | None:
        text = row.get(name)
        value = parse_date(text)
        if value is None:
            self.error(
                sheet,
                row,
                f"{sheet.spec.label(name)} {text} 不是有效日期，应为 YYYY-MM-DD，例如 2026-09-01",
            )
        return value

    def appointments(self, sheet: Sheet) -> None:
        seen: dict[tuple[str, str, dt.date], int] = {}
        for row in sheet.rows:
            errors_before = len(self.errors)
            staff_no = self._required(sheet, row, "staff_no")
            if staff_no:
                if staff_no not in self.teacher_roles:
                    self.error(sheet, row, f"工号 {staff_no} 不存在")
                elif self.teacher_roles[staff_no] == TeacherRole.COUNSELLOR:
                    self.error(sheet, row, f"工号 {staff_no} 是辅导员，不能聘为兼职班主任")
            code = self._required(sheet, row, "class_code")
            if code and code not in self.known_classes:
                self.error(sheet, row, f"班级代码 {code} 不存在")
            start = self._date(sheet, row, "start_date") if row.get("start_date") else None
            if not row.get("start_date"):
                self.error(sheet, row, "聘任开始为空")
            end: Any = _UNSET
            if "end_date" in sheet.fields:
                if row.get("end_date"):
                    end = self._date(sheet, row, "end_date")
                    if end and start and end <= start:
                        self.error(sheet, row, f"聘任结束 {end} 应晚于聘任开始 {start}")
                elif start:
                    end = one_year_after(start)
            trained: Any = _UNSET
            if "trained" in sheet.fields:
                text = row.get("trained")
                trained = parse_yes_no(text) if text else False
                if trained is None:
                    self.error(sheet, row, f"岗前培训 {text} 无效，应为 是 或 否")
            if len(self.errors) > errors_before or start is None:
                continue
            key = (staff_no, code, start)
            if self._repeated(
                sheet, row, seen, key, f"工号 {staff_no} 在班级 {code} 自 {start} 的聘任"
            ):
                continue
            self.plan.appointments[key] = {"end_date": end, "trained": trained}


def _rows(sheets: dict[str, Sheet], kind: str) -> list[Row]:
    return sheets[kind].rows if kind in sheets else []


# ---------------------------------------------------------------------------------------------
# Writing: a few batched statements per sheet.


@dataclass
class _Batch:
    """One sheet's rows to insert and updates to make, and its counts."""

    counts: SheetCounts = field(default_factory=SheetCounts)
    inserts: list[dict[str, Any]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)

    def compare(self, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
        """Queue an update of ``old``'s row to the values of ``new`` that differ, and count the
        row as updated or unchanged; returns the changed values."""
        changed = {k: v for k, v in new.items() if old[k] != v}
        if changed:
            self.updates.append({"id": old["id"], **changed})
            self.counts.updated += 1
        else:
            self.counts.unchanged += 1
        return changed


class _Writer:
    def __init__(self, session: Session, existing: _Existing, plan: _Plan) -> None:
        self.s = session
        self.existing = existing
        self.plan = plan

    def departments(self) -> SheetCounts:
        counts = SheetCounts()
        new = [n for n in self.plan.departments if n not in self.existing.departments]
        counts.unchanged = len(self.plan.departments) - len(new)
        if new:
            rows = self.s.execute(
                insert(Department).returning(Department.name, Department.id),
                [{"name": n} for n in new],
            )
            self.existing.departments.update(rows.all())
            counts.created = len(new)
        return counts

    def _department_id(self, name: Any, current: int | None) -> int | None:
        if name is _UNSET:
            return current
        return self.existing.departments[name] if name else None

    def _write(self, model: type, batch: _Batch, *returning: Any) -> list[Any]:
        """Insert the batch's new rows (returning ``returning`` of each) and update its changed
        ones, one statement each; returns the inserted rows' ``returning`` values."""
        created = []
        if batch.inserts:
            statement = insert(model).returning(*returning) if returning else insert(model)
            result = self.s.execute(statement, batch.inserts)
            created = result.all() if returning else []
            batch.counts.created = len(batch.inserts)
        if batch.updates:
            self.s.execute(update(model), batch.updates)
        return created

    def teachers(self) -> SheetCounts:
        batch = _Batch()
        for staff_no, rec in self.plan.teachers.items():
            old = self.existing.teachers.get(staff_no)
            if old is None:
                batch.inserts.append(
                    {
                        "staff_no": staff_no,
                        "name": rec["name"],
                        "department_id": self._department_id(rec["department"], None),
                        "role": (
                            TeacherRole.HEAD_TEACHER if rec["role"] is _UNSET else rec["role"]
                        ),
                        "binding_code": new_binding_code(),
                        "wecom_userid": (
                            None if rec["wecom_userid"] is _UNSET else rec["wecom_userid"]
                        ),
                    }
                )
                continue
            new = {
                "name": rec["name"],
                "department_id": self._department_id(rec["department"], old["department_id"]),
                "role": old["role"] if rec["role"] is _UNSET else rec["role"],
            }
            if rec["wecom_userid"] is not _UNSET:
                new["wecom_userid"] = rec["wecom_userid"]
            old.update(batch.compare(old, new))
        moved = [
            {"id": u["id"], "wecom_userid": None} for u in batch.updates if "wecom_userid" in u
        ]
        if moved:
            # Accounts moving between teachers (a swap): cleared first, so that the unique
            # constraint never sees one account on two rows between the updates.
            self.s.execute(update(Teacher), moved)
        created = self._write(Teacher, batch, *_TEACHER_COLUMNS)
        for r in created:
            self.existing.teachers[r.staff_no] = r._asdict()
        return batch.counts

    def classes(self) -> SheetCounts:
        batch = _Batch()
        teachers = self.existing.teachers
        for code, rec in self.plan.classes.items():
            old = self.existing.classes.get(code)
            new = {
                "name": rec["name"],
                "department_id": self.existing.departments[rec["department"]],
                "kind": rec["kind"],
                "entry_year": rec["entry_year"],
            }
            if rec["years"] is not _UNSET:
                new["years"] = rec["years"]
            if rec["counsellor"] is not _UNSET:
                new["counsellor_id"] = (
                    teachers[rec["counsellor"]]["id"] if rec["counsellor"] else None
                )
            if old is None:
                new.setdefault("years", 4)
                new.setdefault("counsellor_id", None)
                batch.inserts.append({"code": code, **new})
                continue
            batch.compare(old, new)
        created = self._write(SchoolClass, batch, SchoolClass.code, SchoolClass.id)
        for code, class_id in created:
            self.existing.classes[code] = {"id": class_id}
        return batch.counts

    def students(self) -> SheetCounts:
        batch = _Batch()
        class_ids = {code: c["id"] for code, c in self.existing.classes.items()}
        add_members, drop_members = [], []
        new_classes: dict[str, set[int]] = {}
        for student_no, rec in self.plan.students.items():
            wanted = {class_ids[c] for c in rec["classes"]}
            old = self.existing.students.get(student_no)
            if old is None:
                batch.inserts.append(
                    {
                        "student_no": student_no,
                        "name": rec["name"],
                        "binding_code": new_binding_code(),
                    }
                )
                new_classes[student_no] = wanted
                continue
            have = self.existing.members.get(old["id"], set())
            changed = False
            if old["name"] != rec["name"]:
                batch.updates.append({"id": old["id"], "name": rec["name"]})
                changed = True
            if wanted != have:
                add_members += [{"student_id": old["id"], "class_id": c} for c in wanted - have]
                drop_members += [{"sid": old["id"], "cid": c} for c in have - wanted]
                changed = True
            if changed:
                batch.counts.updated += 1
            else:
                batch.counts.unchanged += 1
        created = self._write(Student, batch, Student.student_no, Student.id)
        for student_no, student_id in created:
            add_members += [
                {"student_id": student_id, "class_id": c} for c in new_classes[student_no]
            ]
        if drop_members:
            self.s.execute(
                delete(class_members).where(
                    class_members.c.student_id == bindparam("sid"),
                    class_members.c.class_id == bindparam("cid"),
                ),
                drop_members,
            )
        if add_members:
            self.s.execute(insert(class_members), add_members)
        return batch.counts

    def appointments(self) -> SheetCounts:
        batch = _Batch()
        teachers, classes = self.existing.teachers, self.existing.classes
        for (staff_no, code, start), rec in self.plan.appointments.items():
            teacher_id, class_id = teachers[staff_no]["id"], classes[code]["id"]
            old = self.existing.appointments.get((teacher_id, class_id, start))
            if old is None:
                batch.inserts.append(
                    {
                        "teacher_id": teacher_id,
                        "class_id": class_id,
                        "start_date": start,
                        "end_date": (
                            one_year_after(start) if rec["end_date"] is _UNSET else rec["end_date"]
                        ),
                        "trained": False if rec["trained"] is _UNSET else rec["trained"],
                        "status": AppointmentStatus.APPOINTED,
                    }
                )
                continue
            new = {k: v for k, v in rec.items() if v is not _UNSET}
            batch.compare(old, new)
        self._write(Appointment, batch)
        return batch.counts


# ---------------------------------------------------------------------------------------------

WRITE_ORDER = ("departments", "teachers", "classes", "students", "appointments")


def import_roster(
    session: Session,
    source: Path,
    *,
    actor: str = "cli",
    today: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> ImportSummary:
    """Import a roster workbook or CSV folder into ``session`` (flushed, not committed).

    Every row is validated before anything is written; on any problem :class:`RosterError`
    lists them all and the session is untouched. ``progress`` is called once per step (see
    :data:`STEPS`) so that a command can show a bar. An :class:`AuditLog` row records the import.
    """
    step = progress or (lambda _label: None)
    source = Path(source)
    try:
        roster = read_roster(source)
    except RosterReadError as exc:
        raise RosterError(exc.errors) from None
    step("读取")
    if roster.errors:
        raise RosterError(roster.errors, roster.warnings)
    session.flush()
    existing = _Existing.load(session, roster)
    validator = _Validator(roster, existing, today or dt.date.today())
    if validator.structure():
        validator.run()
    step("检查")
    if validator.errors:
        raise RosterError(validator.errors, roster.warnings)

    writer = _Writer(session, existing, validator.plan)
    summary = ImportSummary(source=source.name, warnings=list(roster.warnings))
    for kind in WRITE_ORDER:
        if kind in roster.sheets:
            summary.counts[kind] = getattr(writer, kind)()
        step(SHEETS[kind].chinese)
    for sheet in roster.sheets.values():
        if not sheet.rows:
            summary.warnings.append(f"{sheet.name}: 只有表头，没有数据行")
    session.add(
        AuditLog(actor=actor, action="roster.import", target=source.name, detail=summary.as_dict())
    )
    session.flush()
    # The bulk statements bypass the identity map: make loaded objects re-read their rows.
    session.expire_all()
    return summary


STEPS = 2 + len(WRITE_ORDER)
