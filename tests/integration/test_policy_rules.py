"""第十二条 training, 第十四条 monthly branch meetings and 第八条（三） employment through the
evaluation, the report (table, xlsx, JSON) and the API, on both backends."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook

from core.evaluation.run import evaluate_term
from core.reports import evaluation_rows, render
from models import UserRole
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.dashboard import make_token, make_user


@pytest.fixture
def evaluated(session, settings):
    school = build_policy_school(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    return school


@pytest.fixture
def rows(session, evaluated):
    return {r["teacher"]: r for r in evaluation_rows(session, CODE)}


def test_training_flags_name_the_missing_training(rows):
    # 赵: not trained on the roster, but attended the August training (before the term).
    assert "未参加岗前培训" not in rows["赵老师"]["flags"]
    assert "未参加本学期培训会" in rows["赵老师"]["flags"]
    assert {"未参加岗前培训", "未参加本学期培训会"} <= set(rows["钱老师"]["flags"])
    assert not {"未参加岗前培训", "未参加本学期培训会"} & set(rows["孙老师"]["flags"])
    assert rows["孙老师"]["trainings_attended"] == 1


def test_branch_months_and_attendance(rows):
    zhao, qian, sun = rows["赵老师"], rows["钱老师"], rows["孙老师"]
    assert zhao["branch_months_missed"] == ["2025-11", "2026-01"]
    assert sun["branch_months_missed"] == ["2025-09", "2025-11", "2025-12", "2026-01"]
    september = zhao["branch_months"][0]
    assert september["status"] == "held"
    assert september["meetings"][0]["attendees"] == sorted(["赵老师", "钱老师"])
    assert (zhao["meetings_held"], zhao["meeting_attendance_rate"]) == (3, 1.0)
    assert qian["meeting_attendance_rate"] == round(1 / 3, 4)
    assert [m["title"] for m in qian["meetings_missed"]] == ["十月例会", "十二月例会"]


def test_employment_of_the_final_year_class(rows):
    zhao = rows["赵老师"]
    [cls] = zhao["employment"]
    assert (cls["class_code"], cls["students"], cls["recorded"], cls["placed"]) == (
        "G2022",
        5,
        3,
        2,
    )
    assert cls["by_kind"]["签约就业"] == 1 and cls["by_kind"]["升学"] == 1
    assert cls["by_kind"]["待就业"] == 1
    assert zhao["employment_rate"] == 0.4
    # Not a final-year class: nothing to report.
    assert rows["钱老师"]["employment"] == [] and rows["钱老师"]["employment_rate"] is None


def test_table_shows_interval_with_n_meetings_and_employment(session, evaluated):
    text = render(evaluation_rows(session, CODE), "table").decode()
    header = text.splitlines()[0]
    assert "95%置信区间" in header and "例会出勤" in header
    sun_line = next(line for line in text.splitlines() if "孙老师" in line)
    assert "n=6" in sun_line
    assert (
        "党总支工作例会" in text and "管弦系党总支 未召开例会的月份：2025年11月、2026年1月" in text
    )
    assert "毕业年级就业情况" in text and "40.0%" in text


def test_xlsx_has_meeting_and_employment_sheets(session, evaluated):
    wb = load_workbook(io.BytesIO(render(evaluation_rows(session, CODE), "xlsx")))
    assert {"党总支例会", "就业情况"} <= set(wb.sheetnames)
    months = [[c.value for c in r] for r in wb["党总支例会"].iter_rows()]
    # One line per meeting, its date a date cell; a month without a meeting keeps one line.
    assert months[0] == ["党总支", "月份", "状态", "日期", "例会", "出席人员"]
    assert ["管弦系党总支", "2025年11月", "未召开", None, None, None] in months
    held = next(r for r in months if r[:2] == ["管弦系党总支", "2025年9月"])
    assert held[2] == "已召开" and isinstance(held[3], dt.datetime)
    assert set(held[5].split("、")) == {"赵老师", "钱老师"}
    jobs = [[c.value for c in r] for r in wb["就业情况"].iter_rows()]
    assert jobs[0][-1] == "就业率"
    assert jobs[1][:6] == ["管弦系党总支", "G2022", "管弦2022级", "赵老师", 5, 3]
    assert jobs[1][-1] == 0.4 and wb["就业情况"].cell(2, len(jobs[1])).number_format == "0.0%"
    sheet = wb["管弦系党总支"]
    headers = [c.value for c in sheet[1]]
    assert {"置信区间下限", "置信区间上限", "例会出勤率", "毕业班就业率"} <= set(headers)
    zhao = next(r for r in sheet.iter_rows(min_row=2) if r[1].value == "赵老师")
    assert zhao[headers.index("毕业班就业率")].value == 0.4
    assert zhao[headers.index("毕业班学生(人)")].value == 5


def test_api_carries_the_policy_fields(session, client, evaluated):
    token = make_token(session, make_user(session, "xsc", UserRole.AFFAIRS))
    auth = {"Authorization": f"Bearer {token}"}
    report = client.get(f"/api/v1/terms/{CODE}/evaluations", headers=auth).get_json()
    zhao = next(r for r in report if r["teacher"] == "赵老师")
    assert zhao["employment_rate"] == 0.4 and zhao["branch_months_missed"] == ["2025-11", "2026-01"]
    teachers = client.get(f"/api/v1/terms/{CODE}/teachers", headers=auth).get_json()
    sun = next(r for r in teachers if r["teacher"] == "孙老师")
    assert sun["ci_low"] < sun["satisfaction_pct"] < sun["ci_high"]
    assert sun["meeting_attendance_rate"] == 1.0
    overview = client.get(f"/api/v1/terms/{CODE}/overview", headers=auth).get_json()
    rules = overview["meeting_rules"]
    assert rules["training_held"] and rules["trainings"][0]["title"] == "秋季学期培训会"
    missed = {b["department"]: b["missed"] for b in rules["branches"]}
    assert missed["管弦系党总支"] == ["2025-11", "2026-01"]
