"""Exports are data, not formulas: text that Excel would run (``=``, ``+``, ``-``, ``@``, tab,
CR) opens as text in every csv/xlsx writer (reports, dashboard downloads, bind codes); numbers
stay numbers."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import update

from core.reports.cells import safe_cell
from core.roster.bind_codes import bind_code_rows, render_csv, write_bind_codes
from models import Department, Teacher, TermEvaluation, UserRole
from tests.support.dashboard import build_world, login, make_user

LINK = '=HYPERLINK("http://evil.example/","点此")'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (LINK, "'" + LINK),
        ("+86 123", "'+86 123"),
        ("-1+2", "'-1+2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("甲老师", "甲老师"),
        (-5, -5),
        (3.5, 3.5),
        (None, None),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


@pytest.fixture
def world(session):
    w = build_world(session)
    session.execute(update(Teacher).where(Teacher.id == w.teacher_b.id).values(name=LINK))
    session.execute(
        update(Department).where(Department.id == w.dep_b.id).values(name="+管弦系党总支")
    )
    session.execute(
        update(TermEvaluation)
        .where(TermEvaluation.teacher_id == w.teacher_b.id)
        .values(override_grade="good", override_reason="@SUM(1+1)")
    )
    session.commit()
    make_user(session, "xsc", UserRole.AFFAIRS)
    return w


def test_dashboard_xlsx_opens_formula_like_cells_as_text(client, world):
    login(client, "xsc")
    body = client.get(f"/dashboard/download/evaluation.xlsx?term={world.term.code}").data
    wb = load_workbook(io.BytesIO(body))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    texts = {c.value for c in cells if c.data_type == "s"}
    assert LINK in texts and "+管弦系党总支" in texts and "@SUM(1+1)" in texts
    # Numbers are still numbers (答卷人数 of each row, the summary counts).
    numbers = [c.value for c in cells if c.data_type == "n" and c.value is not None]
    assert 3 in numbers and 6 in numbers


def test_dashboard_csv_quotes_formula_like_cells(client, world):
    login(client, "xsc")
    body = client.get(f"/dashboard/download/evaluation.csv?term={world.term.code}").data
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    flat = [v for r in rows for v in r]
    assert "'" + LINK in flat and "'+管弦系党总支" in flat and "'@SUM(1+1)" in flat
    assert not [v for v in flat if v.startswith(("=", "+", "@"))]
    assert "3" in flat  # a number is written as a number


def test_bind_codes_xlsx_and_csv(session, world, tmp_path):
    rows = bind_code_rows(session)
    path = tmp_path / "codes.xlsx"
    write_bind_codes(rows, path)
    ws = load_workbook(path).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert LINK in {c.value for c in cells}
    parsed = [v for r in csv.reader(io.StringIO(render_csv(rows))) for v in r]
    assert "'" + LINK in parsed
