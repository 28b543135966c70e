"""The ``banzhuren`` command line, run in-process with click's CliRunner against the test DB."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import func, select

import core.db
from bot.cli import main
from models import AuditLog, Student, Term
from tests.roster_files import school_tables, set_cell, write_csv, write_xlsx


@pytest.fixture
def cli(db_url, tmp_path, monkeypatch):
    """Run ``banzhuren ARGS`` with the test database, in a directory of the test's own (``init``
    writes the seal key file there); returns the click Result."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    env = {"BANZHUREN_DATABASE_URL": db_url, "BANZHUREN_SECRET_KEY": "test-secret" * 32}

    def run(*args: str):
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    return run


def count(model) -> int:
    with core.db.SessionFactory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_init_twice_is_fine(cli):
    first = cli("init")
    assert first.exit_code == 0, first.output
    second = cli("init")
    assert second.exit_code == 0, second.output
    assert "数据库已就绪" in second.stdout


def test_init_with_an_unreachable_database_fails_in_one_line(db_url):
    result = CliRunner().invoke(
        main,
        ["init"],
        env={
            "BANZHUREN_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "BANZHUREN_SECRET_KEY": "x" * 32,
        },
    )
    assert result.exit_code == 1
    assert result.stderr.startswith("错误：无法初始化数据库")
    assert len(result.stderr.strip().splitlines()) == 1


def test_term_add_and_update(cli):
    result = cli("term", "add", "2026-2027-1", "--start", "2026-09-01", "--end", "2027-01-20")
    assert result.exit_code == 0, result.output
    result = cli("term", "add", "2026-2027-1", "--start", "2026-09-07", "--end", "2027-01-20")
    assert result.exit_code == 0, result.output
    with core.db.SessionFactory() as s:
        term = s.scalar(select(Term))
        assert (term.code, term.start_date) == ("2026-2027-1", dt.date(2026, 9, 7))
        assert s.scalar(select(func.count()).select_from(Term)) == 1
        assert [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))] == [
            "term.add",
            "term.update",
        ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("2026-1", "--start", "2026-09-01", "--end", "2027-01-20"), "学期编号应为 YYYY-YYYY-N"),
        (("2026-2028-1", "--start", "2026-09-01", "--end", "2027-01-20"), "两个年份应相邻"),
        (("2026-2027-3", "--start", "2026-09-01", "--end", "2027-01-20"), "学期编号应为"),
        (("2026-2027-1", "--start", "2026-9-31", "--end", "2027-01-20"), "无法识别的日期"),
        (("2026-2027-1", "--start", "2027-01-20", "--end", "2026-09-01"), "应晚于"),
    ],
)
def test_term_add_rejects_bad_input(cli, args, message):
    result = cli("term", "add", *args)
    assert result.exit_code != 0
    assert message in result.stderr
    assert count(Term) == 0


def test_import_roster_prints_the_summary(cli, tmp_path):
    path = write_xlsx(school_tables(chinese=True), tmp_path / "roster.xlsx")
    result = cli("import-roster", str(path))
    assert result.exit_code == 0, result.output
    assert "学生：新增 150，更新 0，未变 0" in result.stdout
    assert count(Student) == 150
    again = cli("import-roster", str(path))
    assert again.exit_code == 0
    assert again.stdout.strip().endswith("没有变化")
    assert count(AuditLog) == 2


def test_import_roster_errors_name_each_row_and_exit_1(cli, tmp_path):
    tables = school_tables()
    set_cell(tables, "students", 14, "class_code", "X")
    set_cell(tables, "appointments", 3, "start_date", "2026-13-01")
    folder = write_csv(tables, tmp_path / "csv")
    result = cli("import-roster", str(folder))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        "students:14: 班级代码 X 不存在",
        "appointments:3: 聘任开始 2026-13-01 不是有效日期，应为 YYYY-MM-DD，例如 2026-09-01",
        "错误：花名册有 2 处错误，未导入任何数据；请修改后重新导入",
    ]
    assert result.stdout == ""
    assert count(Student) == 0


def test_import_roster_of_a_missing_path(cli, tmp_path):
    result = cli("import-roster", str(tmp_path / "nope.xlsx"))
    assert result.exit_code == 1
    assert "nope.xlsx: 文件或文件夹不存在" in result.stderr


@pytest.fixture
def imported(cli, tmp_path):
    result = cli("import-roster", str(write_xlsx(school_tables(), tmp_path / "roster.xlsx")))
    assert result.exit_code == 0, result.output


def test_bind_codes_to_stdout_csv(cli, imported):
    result = cli("bind-codes")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["学号/工号", "姓名", "角色", "班级", "绑定码"]
    assert len(rows) == 1 + 10 + 150
    assert [r[2] for r in rows[1:4]] == ["辅导员", "辅导员", "班主任"]
    with core.db.SessionFactory() as s:
        codes = dict(s.execute(select(Student.student_no, Student.binding_code)).all())
    students = [r for r in rows if r[2] == "学生"]
    assert {r[0]: r[4] for r in students} == codes


def test_bind_codes_for_one_class_to_xlsx(cli, imported, tmp_path):
    out = tmp_path / "codes.xlsx"
    result = cli("bind-codes", "--class", "GXT01", "-o", str(out))
    assert result.exit_code == 0, result.output
    ws = load_workbook(out).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("学号/工号", "姓名", "角色", "班级", "绑定码")
    roles = [r[2] for r in rows[1:]]
    assert roles == ["辅导员", "班主任"] + ["学生"] * 16
    assert rows[1][0] == "T1001" and rows[2][0] == "T1105"
    assert all("青年弦乐小乐团" in r[3] for r in rows[1:])
    assert all(isinstance(r[4], str) and len(r[4]) == 6 for r in rows[1:])


def test_bind_codes_to_csv_file_opens_in_excel(cli, imported, tmp_path):
    out = tmp_path / "codes.csv"
    result = cli("bind-codes", "--class", "SY2601", "-o", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert [r[2] for r in rows[1:]] == ["辅导员", "班主任", "班主任"] + ["学生"] * 33


def test_bind_codes_unknown_class(cli, imported):
    result = cli("bind-codes", "--class", "NOPE")
    assert result.exit_code == 1
    assert result.stderr.strip() == "错误：班级代码 NOPE 不存在"


def test_bind_codes_bad_extension(cli, imported, tmp_path):
    result = cli("bind-codes", "-o", str(tmp_path / "codes.txt"))
    assert result.exit_code == 1
    assert "应以 .csv 或 .xlsx 结尾" in result.stderr
    assert not (tmp_path / "codes.txt").exists()


def test_bind_codes_into_a_missing_folder(cli, imported, tmp_path):
    result = cli("bind-codes", "-o", str(tmp_path / "no-such-dir" / "codes.xlsx"))
    assert result.exit_code == 1
    assert result.stderr.startswith("错误：无法写入")
    assert len(result.stderr.strip().splitlines()) == 1
