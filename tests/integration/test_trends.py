"""Trends across terms (core.trends) through the dashboard, the API and the xlsx report, and the
awards page's outlook: who is one 优秀 term away, why nobody qualifies, granting an award and
its 荣誉证书. Scope: a branch sees its own department's evaluations in published terms only;
another department's teacher heading one of its classes adds nothing; below the minimum
respondents no interval."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import (
    AppointmentStatus,
    AuditLog,
    Award,
    Grade,
    TermEvaluation,
    User,
    UserRole,
)
from tests.factories import make_appointment, make_teacher, make_term
from tests.support.dashboard import build_world, login, make_token, make_user, post_form

NOW, BEFORE = "2026-2027-1", "2025-2026-2"


def evaluation(session, term, teacher, dep, satisfaction, grade, respondents=20, **kw):
    session.add(
        TermEvaluation(
            term_id=term.id,
            teacher_id=teacher.id,
            department_id=dep.id,
            classes="",
            respondents=respondents,
            eligible=kw.get("eligible", 25),
            satisfaction=satisfaction,
            ci_low=satisfaction - 3,
            ci_high=satisfaction + 3,
            computed_grade=grade,
            logs=kw.get("logs", {"talk": 5}),
        )
    )


@pytest.fixture
def world(session):
    w = build_world(session)
    w.term.evaluated_at = dt.datetime(2027, 1, 21, tzinfo=dt.UTC)  # evaluated, not published
    earlier = make_term(
        session,
        code=BEFORE,
        start_date=dt.date(2026, 3, 1),
        end_date=dt.date(2026, 7, 10),
        evaluated_at=dt.datetime(2026, 7, 11, tzinfo=dt.UTC),
        published_at=dt.datetime(2026, 7, 12, tzinfo=dt.UTC),
    )
    w.earlier = earlier
    # TA001 优秀 twice (a candidate); TD001 良好 then 优秀 (one term away); TB001 both terms.
    w.teacher_d = make_teacher(session, department_id=w.dep_a.id, staff_no="TD001", name="丁老师")
    evaluation(session, earlier, w.teacher_a, w.dep_a, 90.0, Grade.EXCELLENT)
    evaluation(session, earlier, w.teacher_d, w.dep_a, 74.0, Grade.GOOD)
    evaluation(session, earlier, w.teacher_b, w.dep_b, 72.0, Grade.GOOD)
    evaluation(session, w.term, w.teacher_d, w.dep_a, 85.0, Grade.EXCELLENT)
    # 管弦系's teacher, approved to head 钢琴系's class: 钢琴系 sees their work, not their grades.
    w.teacher_c = make_teacher(session, department_id=w.dep_b.id, staff_no="TC001", name="丙老师")
    make_appointment(
        session, teacher=w.teacher_c, school_class=w.class_a, status=AppointmentStatus.APPOINTED
    )
    evaluation(session, w.term, w.teacher_c, w.dep_b, 88.0, Grade.EXCELLENT)
    session.commit()
    make_user(session, "xsc", UserRole.AFFAIRS)
    return w


@pytest.fixture
def tokens(session, world):
    affairs = session.scalar(select(User).where(User.username == "xsc"))
    gq = make_user(session, "gq", UserRole.BRANCH, world.dep_a)
    return {"affairs": make_token(session, affairs), "gq": make_token(session, gq)}


def api(client, token, query=""):
    return client.get(f"/api/v1/trends{query}", headers={"Authorization": f"Bearer {token}"})


def test_affairs_sees_every_evaluated_term_and_the_school(client, world, tokens):
    body = api(client, tokens["affairs"]).get_json()
    assert body["terms"] == [
        {"term": BEFORE, "published": True},
        {"term": NOW, "published": False},
    ]
    school = body["school"]["terms"]
    assert [t["term"] for t in school] == [BEFORE, NOW]
    assert school[0]["teachers"] == 3 and school[1]["teachers"] == 4
    assert school[1]["ci_low"] is not None and school[1]["grades"]["优秀"] == 3
    teachers = {t["staff_no"]: t for t in body["teachers"]}
    a = teachers["TA001"]["terms"]
    assert [(x["term"], x["satisfaction_pct"], x["grade"]) for x in a] == [
        (BEFORE, 90.0, "优秀"),
        (NOW, 100.0, "优秀"),
    ]
    assert a[1]["change"] == 10.0 and a[1]["logs"] == {"talk": 2}
    # TB001 had 3 respondents this term: satisfaction and grade, no interval.
    b = teachers["TB001"]["terms"][1]
    assert b["satisfaction_pct"] == 65.0 and b["ci_low"] is None and b["grade"] == "合格"
    names = [d["name"] for d in body["departments"]]
    assert names == ["管弦系党总支", "钢琴系党总支"]
    # Narrowed to one branch, the school line stays the whole school's.
    narrowed = api(client, tokens["affairs"], f"?department={world.dep_b.id}").get_json()
    assert {t["staff_no"] for t in narrowed["teachers"]} == {"TB001", "TC001"}
    assert narrowed["school"]["terms"][1]["teachers"] == 4


def test_a_branch_sees_its_own_published_terms_only(client, world, tokens):
    body = api(client, tokens["gq"]).get_json()
    assert body["terms"] == [{"term": BEFORE, "published": True}]
    assert body["school"] is None
    assert [d["name"] for d in body["departments"]] == ["钢琴系党总支"]
    # Its own teachers; not 管弦系's, not the borrowed TC001 (whose grades are not the branch's).
    assert sorted(t["staff_no"] for t in body["teachers"]) == ["TA001", "TD001"]
    assert api(client, tokens["gq"], f"?department={world.dep_b.id}").status_code == 404
    assert api(client, tokens["gq"], "?teacher=TB001").status_code == 404
    borrowed = api(client, tokens["gq"], "?teacher=TC001").get_json()
    assert borrowed["teachers"] == [] and borrowed["departments"] == []
    own = api(client, tokens["gq"], "?teacher=TA001").get_json()
    assert [t["staff_no"] for t in own["teachers"]] == ["TA001"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("?department=abc", 400),
        ("?department=99999", 200),
        ("?teacher=NOBODY", 404),
        ("?dept=1", 400),
    ],
)
def test_bad_parameters(client, world, tokens, query, status):
    response = api(client, tokens["affairs"], query)
    assert response.status_code == status
    if status != 200:
        assert "error" in response.get_json()
    assert api(client, None, query).status_code == 401


def test_trends_page_and_teacher_page(client, world, tokens):
    login(client, "xsc")
    html = client.get("/dashboard/trends").get_data(as_text=True)
    assert 'id="school-trend"' in html and 'id="trend-matrix"' in html
    assert 'class="cell grade-excellent"' in html and 'class="cell grade-pass"' in html
    assert "未发布" in html and "丁老师" in html
    page = client.get(f"/dashboard/teachers/{world.teacher_a.id}?term={NOW}").get_data(as_text=True)
    assert 'id="teacher-trend"' in page and "+10.0" in page and BEFORE in page
    assert client.get("/dashboard/trends?department=x").status_code == 400
    post_form(client, "/dashboard/", "/dashboard/logout", {})
    login(client, "gq")
    html = client.get("/dashboard/trends").get_data(as_text=True)
    assert "乙老师" not in html and "丙老师" not in html and NOW not in html
    assert 'id="school-trend"' not in html and "甲老师" in html
    assert client.get(f"/dashboard/trends?department={world.dep_b.id}").status_code == 404


def test_overview_shows_branch_intervals(client, world, tokens):
    login(client, "xsc")
    html = client.get(f"/dashboard/?term={NOW}").get_data(as_text=True)
    assert "全校平均满意度 · 95%区间" in html and "<th>95%区间</th>" in html
    body = client.get(
        f"/api/v1/terms/{NOW}/overview", headers={"Authorization": f"Bearer {tokens['affairs']}"}
    ).get_json()
    assert body["satisfaction_pct"] is not None and body["ci_low"] <= body["satisfaction_pct"]
    assert all("ci_low" in d for d in body["departments"])


def test_xlsx_report_has_the_trend_sheet_with_numbers(client, world, tokens):
    login(client, "xsc")
    data = client.get(f"/dashboard/download/evaluation.xlsx?term={NOW}").data
    ws = load_workbook(io.BytesIO(data))["历年趋势"]
    headers = [c.value for c in ws[1]]
    assert headers[3:9] == [
        f"{BEFORE} 满意度",
        f"{BEFORE} 等级",
        f"{BEFORE} 日志",
        f"{NOW} 满意度",
        f"{NOW} 等级",
        f"{NOW} 日志",
    ]
    rows = {r[0]: r for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["TA001"][3:9] == (0.9, "优秀", 5, 1.0, "优秀", 2)
    assert ws["D2"].number_format == "0.0%"  # a number a spreadsheet shows as 90.0%
    # The report of the earlier term shows no later term.
    data = client.get(f"/dashboard/download/evaluation.xlsx?term={BEFORE}").data
    headers = [c.value for c in load_workbook(io.BytesIO(data))["历年趋势"][1]]
    assert not any(NOW in str(h) for h in headers)


def test_awards_page_outlook_grant_and_certificate(client, session, world, tokens):
    login(client, "xsc")
    page = f"/dashboard/awards?term={NOW}"
    html = client.get(page).get_data(as_text=True)
    assert "甲老师" in html and 'id="no-certificates"' in html
    # The interval as stored: build_world stored none for TA001, so the dash and its n.
    assert "<th>95%置信区间</th>" in html and "— n=6" in html
    assert 'id="award-certificates"' not in html  # no link that would end in 404
    # One 优秀 term away: 丁老师 (良好 before, 优秀 now) and the borrowed 丙老师 (no earlier term).
    outlook = html.split('id="one-term-away"')[1]
    assert "丁老师" in outlook and "上一学期：良好" in outlook and "甲老师" not in outlook
    assert "丙老师" in outlook and "上一学期：无考核" in outlook
    post_form(client, page, f"/dashboard/awards/grant?term={NOW}", {"teacher": world.teacher_a.id})
    session.rollback()
    award = session.scalar(select(Award).where(Award.teacher_id == world.teacher_a.id))
    assert (award.status, award.academic_year) == ("awarded", "2026-2027")
    assert session.scalar(select(AuditLog.target).where(AuditLog.action == "award.grant")) == (
        "TA001 2026-2027"
    )
    html = client.get(page).get_data(as_text=True)
    assert "已授予 1 人" in html
    docx = client.get(f"/dashboard/documents/award.docx?term={NOW}")
    assert docx.status_code == 200 and docx.data[:2] == b"PK"
    # Not a candidate (良好 before): refused with the reason, nothing written.
    r = post_form(
        client, page, f"/dashboard/awards/grant?term={NOW}", {"teacher": world.teacher_d.id}
    )
    assert r.status_code == 302
    assert "不是 2026-2027 学年的先进兼职班主任候选人" in client.get(page).get_data(as_text=True)
    assert (
        post_form(client, page, f"/dashboard/awards/grant?term={NOW}", {"teacher": "x"}).status_code
        == 400
    )


def test_why_nobody_qualifies(client, world, tokens):
    login(client, "xsc")
    html = client.get(f"/dashboard/awards?term={BEFORE}").get_data(as_text=True)
    assert "本学期没有先进兼职班主任候选人：上一学期（2025-2026-1）没有考核结果" in html
    assert "本学期没有记录" not in html


def test_a_branch_cannot_grant(client, session, world, tokens):
    login(client, "gq")
    page = f"/dashboard/awards?term={NOW}"
    html = client.get(page).get_data(as_text=True)
    assert "授予</button>" not in html
    # Its own teacher one term away; not the borrowed 丙老师 (优秀 under 管弦系: not its to see).
    outlook = html.split('id="one-term-away"')[1]
    assert "丁老师" in outlook and "丙老师" not in outlook
    r = post_form(
        client, page, f"/dashboard/awards/grant?term={NOW}", {"teacher": world.teacher_a.id}
    )
    assert r.status_code == 403
    assert session.scalar(select(Award)) is None
