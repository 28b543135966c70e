"""The dashboard's policy pages on both backends: 第十四条 months missed per branch and the
term's training on the overview, meetings missed, the interval with n and employment on the
teacher page, the class page, the teachers table, the audit sentences and the favicon."""

from __future__ import annotations

import re

import pytest

from core import audit
from core.evaluation.run import evaluate_term
from models import UserRole
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.dashboard import login, make_user


@pytest.fixture
def school(session, settings):
    s = build_policy_school(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    make_user(session, "xsc", UserRole.AFFAIRS)
    dep_b = s.teachers["sun"].department
    make_user(session, "shengyue", UserRole.BRANCH, dep_b)
    return s


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_overview_shows_months_missed_per_branch_and_the_training(client, school):
    login(client, "xsc")
    html = page(client, f"/dashboard/?term={CODE}")
    section = text_of(html.split('id="meeting-rules"')[1].split("</section>")[0])
    assert "本学期已举办培训会" in section and "秋季学期培训会" in section
    assert "管弦系党总支 " in section
    assert "2025年11月、2026年1月" in section
    assert "2025年9月、2025年11月、2025年12月、2026年1月" in section


def test_overview_says_when_the_school_held_no_training(client, session, school):
    from models import Meeting, MeetingKind

    session.query(Meeting).filter(
        Meeting.kind == MeetingKind.TRAINING, Meeting.title == "秋季学期培训会"
    ).delete()
    session.commit()
    login(client, "xsc")
    assert "本学期未举办培训会" in page(client, f"/dashboard/?term={CODE}")


def test_branch_user_sees_its_own_months_only(client, school):
    login(client, "shengyue")
    section = page(client, f"/dashboard/?term={CODE}").split('id="meeting-rules"')[1]
    assert "声乐系党总支" in section and "管弦系党总支" not in section


def test_teacher_page_meetings_missed_interval_and_employment(client, school):
    login(client, "xsc")
    qian = page(client, f"/dashboard/teachers/{school.teachers['qian'].id}?term={CODE}")
    meetings = text_of(qian.split('id="branch-meetings"')[1].split("</section>")[0])
    assert "召开例会 3 次，出席 1 次（出勤率 33.3%）" in meetings
    assert "2025-10-12 十月例会" in meetings and "2025-12-05 十二月例会" in meetings
    assert "2025年11月" in meetings and "2026年1月" in meetings

    sun = page(client, f"/dashboard/teachers/{school.teachers['sun'].id}?term={CODE}")
    tile = text_of(sun.split('id="satisfaction"')[1].split("</div>")[0])
    assert re.search(r"84\.7% 学生满意度 · 95%区间 \d+\.\d–\d+\.\d · n=6", tile), tile

    zhao = page(client, f"/dashboard/teachers/{school.teachers['zhao'].id}?term={CODE}")
    jobs = text_of(zhao.split('id="employment"')[1].split("</section>")[0])
    assert "管弦2022级 5 3 1 1 0 0 1 40.0%" in jobs
    assert 'id="employment"' not in qian  # not a final-year class


def test_teachers_table_shows_interval_and_n(client, school):
    login(client, "xsc")
    html = text_of(page(client, f"/dashboard/teachers?term={CODE}"))
    assert re.search(r"84\.7%\s*\d+\.\d–\d+\.\d · n=6", html), html
    assert "n=0" in html  # 赵 and 钱 had no respondents: no interval, n still shown


def test_class_page_employment(client, school):
    login(client, "xsc")
    html = text_of(page(client, f"/dashboard/classes/G2022?term={CODE}"))
    assert "毕业年级" in html and "赵老师" in html
    assert "40.0% 就业率（2/5 人，已落实去向）" in html
    assert "考取中央音乐学院研究生 升学" in html and "准备考研 待就业" in html
    assert "未登记 2 40.0%" in html
    young = text_of(page(client, f"/dashboard/classes/G2024?term={CODE}"))
    assert "不是毕业年级" in young


def test_class_page_is_scoped(client, school):
    login(client, "shengyue")
    assert client.get(f"/dashboard/classes/G2022?term={CODE}").status_code == 404
    assert client.get(f"/dashboard/classes/S2024?term={CODE}").status_code == 200


def test_audit_page_reads_as_sentences(client, session, school):
    audit.record(
        session,
        "xsc",
        "grade.override",
        "T00001 2025-2026-1",
        before="pass",
        after="good",
        computed="pass",
        reason="补交材料",
    )
    audit.record(
        session,
        "xsc",
        "appointment.transition",
        "T00002 G2022",
        before="hr_filed",
        after="appointed",
        appointment_id=3,
        ended_on=None,
    )
    session.commit()
    login(client, "xsc")
    html = text_of(page(client, "/dashboard/audit"))
    assert "xsc 将 T00001 2025-2026-1 的考核等级由「合格」调整为「良好」" in html
    assert "xsc 将 T00002 G2022 的聘任由「人事处备案」改为「聘任」。" in html
    assert "hr_filed" not in html and "grade.override" not in html.split("经过")[1]


def test_favicon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"
