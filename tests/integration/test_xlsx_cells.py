"""Issue 24: every workbook the product writes keeps numbers as numbers and dates as dates.

Opened with openpyxl as a spreadsheet would: no cell holds text that looks like a number, a
percentage or a date (Excel flags such cells and sorts them as text), except identifiers kept as
text on purpose in a text-formatted (``@``) cell; shares (参评率, 满意度, 出勤率, 就业率) are numbers
with a percent format; date cells carry a date format. The workbooks: the three reports from the
renderer and from the dashboard's downloads, the bind-code list and the sample roster."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from openpyxl import load_workbook

from core.evaluation.run import evaluate_term
from core.reports import allowance_rows, evaluation_rows, render
from core.roster.bind_codes import bind_code_rows, write_bind_codes
from core.roster.sample import sample_school, write_xlsx
from models import UserRole
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.dashboard import login, make_user

NUMBER_LIKE = re.compile(r"^\s*[-+]?\d+(?:[.,]\d+)?\s*%?\s*$")
DATE_LIKE = re.compile(r"^\s*\d{4}\s*(?:[-/.]|年)\s*\d{1,2}\s*(?:[-/.]|月)\s*\d{1,2}\s*日?\s*$")
SHARE_HEADER = re.compile(r"率|满意度|置信区间")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roster" / "roster.xlsx"


def check_workbook(data: bytes | Path) -> int:
    """Assert the rules above on every cell; returns how many numeric cells were seen."""
    wb = load_workbook(data if isinstance(data, Path) else io.BytesIO(data))
    numbers = 0
    for ws in wb.worksheets:
        headers = [c.value for c in ws[1]]
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                value, where = cell.value, f"{ws.title}!{cell.coordinate}"
                header = headers[cell.column - 1] if cell.column <= len(headers) else None
                if isinstance(value, str):
                    looks = NUMBER_LIKE.match(value) or DATE_LIKE.match(value)
                    assert not looks or cell.number_format == "@", (
                        f"{where} ({header}) holds {value!r} as text"
                    )
                elif isinstance(value, dt.datetime | dt.date):
                    assert "yy" in cell.number_format, f"{where}: {cell.number_format}"
                elif isinstance(value, int | float) and not isinstance(value, bool):
                    numbers += 1
                    if header and SHARE_HEADER.search(str(header)):
                        assert cell.number_format == "0.0%", f"{where} ({header})"
                        assert 0 <= value <= 1, f"{where} ({header}) = {value}"
    return numbers


@pytest.fixture
def school(session, settings):
    built = build_policy_school(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    return built


def test_report_workbooks(session, school):
    rows = evaluation_rows(session, CODE)
    data = render(rows, "xlsx")
    assert check_workbook(data) > 20
    wb = load_workbook(io.BytesIO(data))
    sheet = wb[rows[0]["department"]]
    headers = [c.value for c in sheet[1]]
    line = [c for c in sheet[2]]
    # The figures 人事处 sorts by are numbers; one name for the response rate.
    assert "参评率" in headers and "回收率" not in headers
    for name in ("参评率", "满意度", "例会出勤率"):
        cell = line[headers.index(name)]
        assert cell.value is None or isinstance(cell.value, int | float), (name, cell.value)
    for r in rows:
        ws = wb[r["department"]]
        found = next(x for x in ws.iter_rows(min_row=2) if x[1].value == r["teacher"])
        got = found[headers.index("满意度")].value
        if r["satisfaction_pct"] is None:
            assert got is None
        else:
            assert got == pytest.approx(r["satisfaction_pct"] / 100)
    assert check_workbook(render(allowance_rows(session, CODE), "xlsx", kind="allowance")) > 0


def test_award_workbook_with_a_candidate():
    row = {
        "staff_no": "0042",
        "teacher": "甲老师",
        "department": "钢琴系党总支",
        "term": "2026-2027-2",
        "previous_term": "2026-2027-1",
        "grade": "优秀",
        "previous_grade": "优秀",
        "satisfaction_pct": 90.6,
        "status": "候选",
    }
    data = render([row], "xlsx", kind="awards")
    check_workbook(data)
    ws = load_workbook(io.BytesIO(data))["钢琴系党总支"]
    headers = [c.value for c in ws[1]]
    assert ws.cell(2, headers.index("满意度") + 1).value == pytest.approx(0.906)
    # An identifier of digits stays text (leading zeros kept), in a text cell.
    staff = ws.cell(2, headers.index("工号") + 1)
    assert staff.value == "0042" and staff.number_format == "@"
    # Text renderings still read 90.6%.
    assert "90.6%" in render([row], "table", kind="awards").decode()
    assert "90.6%" in render([row], "csv", kind="awards").decode("utf-8-sig")


def test_dashboard_downloads(session, school, client):
    make_user(session, "xsc", UserRole.AFFAIRS)
    login(client, "xsc")
    for kind in ("evaluation", "award", "allowance"):
        response = client.get(f"/dashboard/download/{kind}.xlsx?term={CODE}")
        assert response.status_code == 200, kind
        check_workbook(response.data)


def test_bind_codes_and_sample_roster(session, school, tmp_path):
    path = tmp_path / "绑定码.xlsx"
    write_bind_codes(bind_code_rows(session), path)
    check_workbook(path)
    roster = write_xlsx(sample_school(), tmp_path / "roster.xlsx")
    assert check_workbook(roster) > 0
    check_workbook(EXAMPLE)


def test_the_checker_catches_text_numbers_and_dates():
    from openpyxl import Workbook

    for bad in ("88.1", "90.6%", "2026-12-07", "2026年12月7日"):
        wb = Workbook()
        wb.active.append(["满意度"])
        wb.active.append([bad])
        out = io.BytesIO()
        wb.save(out)
        with pytest.raises(AssertionError, match="as text"):
            check_workbook(out.getvalue())
