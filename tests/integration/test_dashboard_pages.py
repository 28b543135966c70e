"""What the reading pages show: the privacy threshold on the teacher page, overview figures,
the table's filters and sorting, and clear answers to bad parameters."""

from __future__ import annotations

import re

import pytest

from bot import create_app
from models import UserRole
from tests.conftest import make_settings
from tests.support.dashboard import build_world, login, make_user


@pytest.fixture
def world(session):
    w = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    return w


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_teacher_page_hides_breakdown_below_min_respondents(client, world):
    login(client, "xsc")
    a = page(client, f"/dashboard/teachers/{world.teacher_a.id}?term=2026-2027-1")
    assert "班主任关心我们的学习和生活" in a and "A意见0" in a and "A意见5" in a
    b = page(client, f"/dashboard/teachers/{world.teacher_b.id}?term=2026-2027-1")
    assert "少于 5 份" in b and "65.0%" in b and "合格" in b
    assert "B意见" not in b and "班主任关心我们的学习和生活" not in b


def test_the_threshold_follows_the_setting(db_url, world):
    app = create_app(make_settings(db_url, min_respondents=3))
    client = app.test_client()
    login(client, "xsc")
    b = page(client, f"/dashboard/teachers/{world.teacher_b.id}?term=2026-2027-1")
    assert "B意见0" in b and "为保护学生匿名" not in b


def test_teacher_page_shows_log_timeline_and_appointments(client, world):
    login(client, "xsc")
    a = page(client, f"/dashboard/teachers/{world.teacher_a.id}?term=2026-2027-1")
    assert "2026年10月" in a and "与学生谈心" in a and "谈心谈话 1" in a
    assert "钢琴2025级1班（GQ2025）" in a and (
        '<span class="date">2026-09-01</span> 至 <span class="date">2027-09-01</span>' in a
    )


def test_overview_figures(client, world):
    login(client, "xsc")
    html = page(client, "/dashboard/?term=2026-2027-1")
    tiles = re.findall(r'<span class="num">([^<]+)</span>', html)
    # teachers, response rate, the school's average satisfaction, then 优秀 良好 合格 不合格
    assert tiles == ["2", "100.0%", "82.5%", "1", "0", "1", "0"]
    # Its interval over the two teachers (t with one degree of freedom: the whole scale).
    assert "全校平均满意度 · 95%区间 0.0–100.0 · 2 位班主任" in html
    assert html.count("<svg") == 3 and "钢琴系党总支" in html


def test_overview_without_evaluations_says_what_to_do(client, session, world):
    from models import TermEvaluation

    session.execute(TermEvaluation.__table__.delete())
    session.commit()
    login(client, "xsc")
    html = page(client, "/dashboard/?term=2026-2027-1")
    assert "还没有考核结果" in html and "banzhuren evaluate --term 2026-2027-1" in html


def test_table_filters_and_sorts(client, world):
    login(client, "xsc")
    both = page(client, "/dashboard/teachers?term=2026-2027-1&sort=satisfaction&dir=desc")
    assert both.index("甲老师") < both.index("乙老师")
    ascending = page(client, "/dashboard/teachers?term=2026-2027-1&sort=satisfaction&dir=asc")
    assert ascending.index("乙老师") < ascending.index("甲老师")
    only_a = page(client, f"/dashboard/teachers?term=2026-2027-1&department={world.dep_a.id}")
    assert "甲老师" in only_a and "乙老师" not in only_a
    passes = page(client, "/dashboard/teachers?term=2026-2027-1&grade=pass")
    assert "乙老师" in passes and "甲老师" not in passes
    search = page(client, "/dashboard/teachers?term=2026-2027-1&q=TB0")
    assert "乙老师" in search and "甲老师" not in search


def test_bad_parameters(client, world):
    login(client, "xsc")
    bad_grade = client.get("/dashboard/teachers?grade=A")
    assert bad_grade.status_code == 400 and "请求参数有误" in bad_grade.get_data(as_text=True)
    assert client.get("/dashboard/teachers?department=x").status_code == 400
    missing = client.get("/dashboard/?term=2099-2100-1")
    assert missing.status_code == 404 and "没有找到" in missing.get_data(as_text=True)
    assert client.get("/dashboard/teachers/999999").status_code == 404
    assert client.get("/dashboard/download/evaluation.pdf?term=2026-2027-1").status_code == 404


def test_downloads_have_chinese_file_names(client, world):
    login(client, "xsc")
    response = client.get("/dashboard/download/evaluation.csv?term=2026-2027-1")
    disposition = response.headers["Content-Disposition"]
    assert "filename*=UTF-8''2026-2027-1-" in disposition
    body = response.get_data()
    assert body.startswith(b"\xef\xbb\xbf")  # BOM: Excel on Windows opens it as UTF-8
    assert "工号" in body.decode("utf-8-sig").splitlines()[0]
