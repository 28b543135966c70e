"""The dashboard in a real browser (Debian's Chromium through Playwright) on a term of 3,000
students: log in, read the overview, filter the table, open a teacher, download the xlsx."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from models import Department, Meeting, Student, TermEvaluation, UserRole
from tests.support.dashboard import PASSWORD, make_user
from tests.support.dashboard_seed import seed_school


@pytest.fixture
def school(session):
    info = seed_school(session, students=3000)
    dep = session.get(Department, info.department_ids["钢琴系党总支"])
    make_user(session, "xuesheng", UserRole.AFFAIRS)
    make_user(session, "gangqin", UserRole.BRANCH, dep)
    return info


def _login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/")
    assert "/dashboard/login" in page.url  # / redirects to the dashboard, which asks to log in
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


def test_affairs_walk_on_3000_students(school, session, live_server, page, artifacts_dir):
    assert session.scalar(select(func.count()).select_from(Student)) == 3000
    base = live_server.url

    # A wrong password first: the page says so and stays on the login form.
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=username]", "xuesheng")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.text_content(".flash.error")

    _login(page, base, "xuesheng")
    heading = page.text_content("h1")
    assert "学期概览" in heading and school.term_code in heading
    # Figures on the tiles match the database.
    total = session.scalar(select(func.count()).select_from(TermEvaluation))
    assert page.text_content(".tiles .tile .num") == str(total)
    assert page.locator("svg.chart").count() == 3
    assert "各党总支平均满意度" in page.inner_html(".charts")
    page.screenshot(path=str(artifacts_dir / "overview.png"), full_page=True)

    # The teachers table, filtered by department and grade through the selects.
    page.click("nav >> text=班主任考核")
    page.wait_for_url("**/dashboard/teachers?*")
    rows_all = page.locator("#teachers tbody tr").count()
    assert rows_all == total
    page.select_option("select[name=department]", label="钢琴系党总支")
    page.wait_for_url("**department=*")
    page.select_option("select[name=grade]", label="优秀")
    page.wait_for_url("**grade=excellent*")
    departments = page.locator("#teachers tbody tr td:nth-child(3)").all_text_contents()
    grades = page.locator("#teachers tbody tr td:nth-child(8)").all_text_contents()
    assert departments and set(departments) == {"钢琴系党总支"}
    assert all(g.startswith("优秀") for g in grades)
    expected = session.scalar(
        select(func.count())
        .select_from(TermEvaluation)
        .where(
            TermEvaluation.department_id == school.department_ids["钢琴系党总支"],
            TermEvaluation.computed_grade == "excellent",
        )
    )
    assert len(departments) == expected

    # Sorting by satisfaction in the browser (script) puts the highest first after two clicks.
    page.click("#teachers thead th:nth-child(7)")
    page.click("#teachers thead th:nth-child(7)")
    # The cell's first text is the percentage; the interval and n follow in a span.
    values = [
        float(v.rstrip("%"))
        for v in page.locator("#teachers tbody tr td:nth-child(7)").evaluate_all(
            "cells => cells.map(c => c.firstChild.textContent)"
        )
    ]
    assert values == sorted(values, reverse=True)
    page.screenshot(path=str(artifacts_dir / "teachers.png"))

    # Open a teacher from the table.
    name = page.text_content("#teachers tbody tr:first-child td:nth-child(2) a")
    page.click("#teachers tbody tr:first-child td:nth-child(2) a")
    page.wait_for_url("**/dashboard/teachers/*")
    assert name in page.text_content("h1")
    assert "满意度测评明细" in page.content()
    assert "工作日志" in page.content()
    page.screenshot(path=str(artifacts_dir / "teacher.png"), full_page=True)

    # Download the xlsx of the whole term from the teachers page.
    page.click("nav >> text=班主任考核")
    page.wait_for_url("**/dashboard/teachers?*")
    with page.expect_download() as info:
        page.click(".downloads >> text=Excel")
    download = info.value
    assert download.suggested_filename.endswith(".xlsx")
    workbook = load_workbook(io.BytesIO(download.path().read_bytes()))
    # A summary sheet, then one sheet per department with a header and one row per teacher.
    assert workbook.sheetnames[0] == "汇总"
    # (then the branch meetings and employment sheets).
    assert workbook.sheetnames[-3:] == ["党总支例会", "就业情况", "历年趋势"]
    department_sheets = [workbook[name] for name in workbook.sheetnames[1:-3]]
    assert len(department_sheets) == len(school.department_ids)
    assert sum(ws.max_row - 1 for ws in department_sheets) == total
    assert department_sheets[0]["A1"].value == "工号"


def test_branch_sees_only_its_department_in_the_browser(school, session, live_server, page):
    base = live_server.url
    _login(page, base, "gangqin")
    page.click("nav >> text=班主任考核")
    page.wait_for_url("**/dashboard/teachers?*")
    departments = set(page.locator("#teachers tbody tr td:nth-child(3)").all_text_contents())
    assert departments == {"钢琴系党总支"}
    # Another department's teacher by direct URL: 404 page, nothing of the teacher shown.
    other = session.scalar(
        select(TermEvaluation.teacher_id).where(
            TermEvaluation.department_id == school.department_ids["管弦系党总支"]
        )
    )
    response = page.goto(f"{base}/dashboard/teachers/{other}")
    assert response.status == 404
    assert "不在您的管辖范围内" in page.content()
    # No admin-only menu entries.
    assert page.locator("nav >> text=操作记录").count() == 0


def test_branch_records_a_meeting_through_the_form(school, session, live_server, page):
    base = live_server.url
    _login(page, base, "gangqin")
    page.click("nav >> text=例会培训")
    page.wait_for_url("**/dashboard/meetings*")
    page.click("summary >> text=记录会议及出席")
    page.select_option("select[name=kind]", label="工作例会")
    page.fill("input[name=held_on]", "2026-11-20")
    page.fill("input[name=title]", "11月第二次工作例会")
    boxes = page.locator("input[name=attendees]")
    # Only the branch's own head teachers are offered.
    assert boxes.count() == 20
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.click("form.stack button[type=submit]")
    page.wait_for_url("**/dashboard/meetings")
    assert "已记录 2026-11-20 11月第二次工作例会（2 人参加）" in page.text_content(".flash")
    session.rollback()
    meeting = session.scalar(select(Meeting).where(Meeting.title == "11月第二次工作例会"))
    assert meeting.department_id == school.department_ids["钢琴系党总支"]
    assert len(meeting.attendees) == 2
