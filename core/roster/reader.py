"""Reading a roster: a ``.xlsx`` workbook, or a folder of ``.csv`` files named after its sheets.

The reader only turns cells into trimmed strings under canonical field names, keeping each row's
number as the spreadsheet shows it (header = row 1), so that every later complaint can point at
``sheet:row``. It knows nothing about the database; :mod:`core.roster.importer` validates.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Column:
    field: str
    chinese: str
    required: bool = True
    # Shown in the sample roster (examples/roster); False for columns few schools need.
    in_sample: bool = True


@dataclass(frozen=True)
class SheetSpec:
    kind: str
    chinese: str
    columns: tuple[Column, ...]

    def header_map(self) -> dict[str, str]:
        """Header text (lower-cased English or Chinese) → field name."""
        names: dict[str, str] = {}
        for col in self.columns:
            names[col.field.lower()] = col.field
            names[col.chinese] = col.field
        return names

    def label(self, field_name: str) -> str:
        """How a field is named to the user: its Chinese header."""
        return next(c.chinese for c in self.columns if c.field == field_name)


# Columns of more than one sheet.
STAFF_NO = Column("staff_no", "工号")
PERSON_NAME = Column("name", "姓名")
CLASS_CODE = Column("class_code", "班级代码")

# The contract of DESIGN.md "Roster": sheet names and headers, English or Chinese.
SHEETS: dict[str, SheetSpec] = {
    spec.kind: spec
    for spec in (
        SheetSpec("departments", "党总支", (Column("name", "名称"),)),
        SheetSpec(
            "classes",
            "班级",
            (
                Column("code", "班级代码"),
                Column("name", "班级名称"),
                Column("department", "党总支"),
                Column("kind", "类型"),
                Column("entry_year", "入学年份"),
                Column("years", "学制", required=False),
                Column("counsellor", "辅导员工号", required=False),
            ),
        ),
        SheetSpec(
            "students",
            "学生",
            (
                Column("student_no", "学号"),
                PERSON_NAME,
                CLASS_CODE,
            ),
        ),
        SheetSpec(
            "teachers",
            "教师",
            (
                STAFF_NO,
                PERSON_NAME,
                Column("department", "党总支", required=False),
                Column("role", "角色", required=False),
                # Issue 25.5: the WeCom UserId when it is not the 工号.
                Column("wecom_userid", "企业微信账号", required=False, in_sample=False),
            ),
        ),
        SheetSpec(
            "appointments",
            "聘任",
            (
                STAFF_NO,
                CLASS_CODE,
                Column("start_date", "聘任开始"),
                Column("end_date", "聘任结束", required=False),
                Column("trained", "岗前培训", required=False),
            ),
        ),
    )
}

# Fields holding numbers used as identifiers: Excel may hand them over as 2023001.0.
IDENTIFIER_FIELDS = frozenset(
    {
        "student_no",
        "staff_no",
        "code",
        "class_code",
        "counsellor",
        "entry_year",
        "years",
        "wecom_userid",
    }
)
_FLOAT_INTEGER = re.compile(r"^(\d+)\.0+$")


class RosterReadError(Exception):
    """The source cannot be read at all (missing, not a workbook, undecodable)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass
class Row:
    number: int  # as the spreadsheet shows it
    values: dict[str, str]

    def get(self, field_name: str) -> str:
        return self.values.get(field_name, "")


@dataclass
class Sheet:
    """One sheet of a known kind, its headers mapped to field names."""

    kind: str
    name: str  # as the source names it (sheet title or file stem): used in messages
    header_row: int = 1
    fields: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)  # required columns absent (Chinese names)
    duplicate_headers: list[str] = field(default_factory=list)
    empty: bool = False  # no header at all
    rows: list[Row] = field(default_factory=list)

    @property
    def spec(self) -> SheetSpec:
        return SHEETS[self.kind]


@dataclass
class RawRoster:
    source: Path
    sheets: dict[str, Sheet] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def sheet_kind(name: str) -> str | None:
    """The kind of sheet a sheet title or file stem names, English or Chinese, or None."""
    text = name.strip().lower()
    for spec in SHEETS.values():
        if text in (spec.kind, spec.chinese):
            return spec.kind
    return None


def cell_text(value: object) -> str:
    """A cell as trimmed text: integral numbers without ``.0``, dates as ``YYYY-MM-DD``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def decode_csv(data: bytes) -> str:
    """Decode a CSV file as Excel writes them: UTF-8 with or without BOM, UTF-16 with BOM
    ("Unicode text"), or GB18030 on Chinese Windows. Raises UnicodeDecodeError otherwise."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        # GB18030 decodes nearly any byte string; a rare mis-guess shows up as unknown names.
        return data.decode("gb18030")


def read_roster(source: Path) -> RawRoster:
    """Read a workbook or a CSV folder into sheets of known kinds; unknown sheets are skipped
    with a warning. Raises :class:`RosterReadError` when the source cannot be read at all."""
    source = Path(source)
    if not source.exists():
        raise RosterReadError([f"{source}: 文件或文件夹不存在"])
    roster = RawRoster(source=source)
    if source.is_dir():
        tables = list(_csv_tables(source, roster))
    elif source.suffix.lower() in (".xlsx", ".xlsm"):
        tables = list(_xlsx_tables(source))
    elif source.suffix.lower() == ".csv":
        tables = list(_csv_tables_of([source], roster))
    elif source.suffix.lower() == ".xls":
        raise RosterReadError([f"{source.name}: 不支持旧的 .xls 格式，请在 Excel 中另存为 .xlsx"])
    else:
        raise RosterReadError(
            [f"{source.name}: 无法识别的文件类型，应为 .xlsx 工作簿或存放 .csv 文件的文件夹"]
        )
    for name, rows in tables:
        kind = sheet_kind(name)
        if kind is None:
            known = "、".join(f"{s.kind}（{s.chinese}）" for s in SHEETS.values())
            roster.warnings.append(f"{name}: 不是花名册的表，已忽略（可识别的表：{known}）")
            continue
        if kind in roster.sheets:
            first = roster.sheets[kind].name
            roster.errors.append(f"{name}:1: 与表 {first} 是同一张表，只能保留一张")
            continue
        roster.sheets[kind] = _to_sheet(kind, name, rows, roster)
    if not roster.sheets and not roster.errors:
        known = "、".join(f"{s.kind}（{s.chinese}）" for s in SHEETS.values())
        roster.errors.append(f"{source.name}: 没有可导入的表，应至少有以下之一：{known}")
    return roster


def _to_sheet(kind: str, name: str, rows: list[tuple[int, list[str]]], roster: RawRoster) -> Sheet:
    spec = SHEETS[kind]
    sheet = Sheet(kind=kind, name=name)
    content = [(n, cells) for n, cells in rows if any(cells)]
    if not content:
        sheet.empty = True
        return sheet
    names = spec.header_map()
    # The header is the first row naming a known column; a title row above it (e.g.
    # “2026级学生名单”) is skipped. Rows keep the spreadsheet's numbers either way.
    start = next(
        (
            i
            for i, (_, cells) in enumerate(content[:10])
            if any((c.lower() in names or c in names) for c in cells if c)
        ),
        0,
    )
    header_no, header = content[start]
    sheet.header_row = header_no
    content = content[start:]
    positions: dict[int, str] = {}
    for i, text in enumerate(header):
        if not text:
            continue
        field_name = names.get(text.lower()) or names.get(text)
        if field_name is None:
            roster.warnings.append(f"{name}:{header_no}: 忽略未知的列 {text}")
        elif field_name in positions.values():
            sheet.duplicate_headers.append(spec.label(field_name))
        else:
            positions[i] = field_name
    sheet.fields = set(positions.values())
    sheet.missing = [c.chinese for c in spec.columns if c.required and c.field not in sheet.fields]
    for number, cells in content[1:]:
        values: dict[str, str] = {}
        for i, field_name in positions.items():
            text = cells[i] if i < len(cells) else ""
            if field_name in IDENTIFIER_FIELDS:
                text = _FLOAT_INTEGER.sub(r"\1", text)
            values[field_name] = text
        if any(values.values()):
            sheet.rows.append(Row(number, values))
    return sheet


def _xlsx_tables(path: Path):
    import zipfile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterReadError([f"{path.name}: 不是可读取的 .xlsx 工作簿（{exc}）"]) from None
    try:
        for ws in workbook.worksheets:
            # Some writers record wrong dimensions; read every row that is really there.
            ws.reset_dimensions()
            rows = [
                (number, [cell_text(v) for v in values])
                for number, values in enumerate(ws.iter_rows(values_only=True), start=1)
            ]
            yield ws.title, rows
    finally:
        workbook.close()


def _csv_tables(folder: Path, roster: RawRoster):
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    yield from _csv_tables_of(files, roster)


def _csv_tables_of(files: list[Path], roster: RawRoster):
    for path in files:
        try:
            text = decode_csv(path.read_bytes())
        except UnicodeDecodeError:
            roster.errors.append(
                f"{path.stem}:1: 无法识别文件编码，请保存为 UTF-8 或 GB18030 的 CSV"
            )
            continue
        yield path.stem, _csv_rows(text)


def _csv_rows(text: str) -> list[tuple[int, list[str]]]:
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = []
    for cells in reader:
        # reader.line_num counts physical lines, which is what a spreadsheet shows only when no
        # cell holds a line break; the spreadsheet's row number is the record count.
        rows.append((len(rows) + 1, [c.strip() for c in cells]))
    return rows
