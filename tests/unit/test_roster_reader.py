"""Reading roster workbooks and CSV folders into rows numbered as the spreadsheet shows them."""

from __future__ import annotations

import datetime as dt

import pytest
from openpyxl import Workbook

from core.roster.importer import parse_date, parse_yes_no
from core.roster.reader import RosterReadError, cell_text, decode_csv, read_roster, sheet_kind


def write_workbook(path, sheets: dict[str, list[list]]):
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_english_and_chinese_headers_map_to_the_same_fields(tmp_path):
    en = write_workbook(
        tmp_path / "en.xlsx",
        {"students": [["student_no", "Name", "class_code"], ["2023001", "张三", "GX2301"]]},
    )
    zh = write_workbook(
        tmp_path / "zh.xlsx",
        {"学生": [["学号", "姓名", "班级代码"], ["2023001", "张三", "GX2301"]]},
    )
    for path in (en, zh):
        sheet = read_roster(path).sheets["students"]
        assert sheet.missing == []
        assert [(r.number, r.values) for r in sheet.rows] == [
            (2, {"student_no": "2023001", "name": "张三", "class_code": "GX2301"})
        ]
    assert read_roster(zh).sheets["students"].name == "学生"


def test_numeric_cells_dates_and_trimming(tmp_path):
    path = write_workbook(
        tmp_path / "r.xlsx",
        {
            "students": [
                ["学号", "姓名", "班级代码"],
                [2023001.0, "  李四\u3000", 2301],
                [2023002, "王五", " GX2301 "],
            ],
            "appointments": [
                ["工号", "班级代码", "聘任开始", "岗前培训"],
                [1001, "GX2301", dt.datetime(2026, 9, 1), True],
            ],
        },
    )
    roster = read_roster(path)
    rows = [r.values for r in roster.sheets["students"].rows]
    assert rows[0] == {"student_no": "2023001", "name": "李四", "class_code": "2301"}
    assert rows[1]["class_code"] == "GX2301"
    appointment = roster.sheets["appointments"].rows[0].values
    assert appointment == {
        "staff_no": "1001",
        "class_code": "GX2301",
        "start_date": "2026-09-01",
        "trained": "是",
    }


def test_blank_rows_are_skipped_but_numbering_follows_the_sheet(tmp_path):
    path = write_workbook(
        tmp_path / "r.xlsx",
        {
            "学生": [
                ["学号", "姓名", "班级代码"],
                ["1", "甲", "A"],
                [None, None, None],
                ["", "  ", ""],
                ["2", "乙", "A"],
            ]
        },
    )
    assert [r.number for r in read_roster(path).sheets["students"].rows] == [2, 5]


def test_a_title_row_above_the_header_is_skipped(tmp_path):
    path = write_workbook(
        tmp_path / "r.xlsx",
        {"学生": [["2026级学生名单"], [], ["学号", "姓名", "班级代码"], ["1", "甲", "A"]]},
    )
    sheet = read_roster(path).sheets["students"]
    assert (sheet.header_row, sheet.missing) == (3, [])
    assert [(r.number, r.values["name"]) for r in sheet.rows] == [(4, "甲")]


def test_missing_required_column_and_unknown_sheets(tmp_path):
    path = write_workbook(
        tmp_path / "r.xlsx",
        {
            "学生": [["学号", "姓名", "备注"], ["1", "甲", "x"]],
            "说明": [["这是说明"]],
        },
    )
    roster = read_roster(path)
    assert roster.sheets["students"].missing == ["班级代码"]
    assert any(w.startswith("说明:") and "已忽略" in w for w in roster.warnings)
    assert any("忽略未知的列 备注" in w for w in roster.warnings)


def test_csv_folder_utf8_with_bom_and_gb18030(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_bytes(
        "\ufeffstudent_no,name,class_code\n2023001,张三,GX2301\n".encode()
    )
    (folder / "班级.csv").write_bytes(
        "班级代码,班级名称,党总支,类型,入学年份\r\nGX2301,管弦系2023级,管弦系,行政班级,2023\r\n".encode(
            "gb18030"
        )
    )
    (folder / "notes.txt").write_text("not a sheet")
    roster = read_roster(folder)
    assert set(roster.sheets) == {"students", "classes"}
    assert roster.sheets["students"].rows[0].values["student_no"] == "2023001"
    assert roster.sheets["classes"].name == "班级"
    assert roster.sheets["classes"].rows[0].values["department"] == "管弦系"


def test_csv_numbers_exported_as_floats_become_identifiers(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_text(
        "student_no,name,class_code\n2023001.0,张三,GX2301\n", encoding="utf-8"
    )
    assert read_roster(folder).sheets["students"].rows[0].values["student_no"] == "2023001"


def test_csv_row_numbers_count_records_not_lines(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_text(
        'student_no,name,class_code\n1,"张\n三",A\n\n2,李四,A\n', encoding="utf-8"
    )
    rows = read_roster(folder).sheets["students"].rows
    assert [r.number for r in rows] == [2, 4]


def test_empty_csv_is_an_empty_sheet(tmp_path):
    folder = tmp_path / "csv"
    folder.mkdir()
    (folder / "students.csv").write_bytes(b"")
    assert read_roster(folder).sheets["students"].empty


def test_unreadable_sources(tmp_path):
    with pytest.raises(RosterReadError, match="不存在"):
        read_roster(tmp_path / "missing.xlsx")
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RosterReadError, match=r"不是可读取的 \.xlsx"):
        read_roster(bad)
    old = tmp_path / "old.xls"
    old.write_bytes(b"x")
    with pytest.raises(RosterReadError, match=r"另存为 \.xlsx"):
        read_roster(old)


def test_decode_csv_guesses():
    assert decode_csv("\ufeff学号".encode()) == "学号"
    assert decode_csv("学号".encode()) == "学号"
    assert decode_csv("学号".encode("gb18030")) == "学号"
    assert decode_csv("学号".encode("utf-16")) == "学号"


def test_cell_text():
    assert cell_text(None) == ""
    assert cell_text(2023001.0) == "2023001"
    assert cell_text(3.5) == "3.5"
    assert cell_text(dt.datetime(2026, 9, 1)) == "2026-09-01"
    assert cell_text(dt.date(2026, 9, 1)) == "2026-09-01"
    assert cell_text("  x ") == "x"


def test_sheet_kind():
    assert sheet_kind(" Students ") == "students"
    assert sheet_kind("聘任") == "appointments"
    assert sheet_kind("Sheet1") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-09-01", dt.date(2026, 9, 1)),
        ("2026/9/1", dt.date(2026, 9, 1)),
        ("2026.09.01", dt.date(2026, 9, 1)),
        ("2026年9月1日", dt.date(2026, 9, 1)),
        ("20260901", dt.date(2026, 9, 1)),
        ("2026-09-01 00:00:00", dt.date(2026, 9, 1)),
        ("46266", dt.date(2026, 9, 1)),
        ("2026-13-01", None),
        ("2026-02-30", None),
        ("九月一日", None),
        ("", None),
    ],
)
def test_parse_date(text, expected):
    assert parse_date(text) == expected


def test_parse_yes_no():
    assert parse_yes_no("是") is True
    assert parse_yes_no("否") is False
    assert parse_yes_no("YES") is True
    assert parse_yes_no("也许") is None
