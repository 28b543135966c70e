"""Term evaluation in-process (embedded mode) on both backends: hand-worked rows,
idempotence, overrides kept, stale rows dropped, awards, and the SQL percentages against a
plain-Python computation on random data."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from core.celery_app import configure_celery
from core.evaluation.run import evaluate_term
from core.reports import evaluation_rows
from models import Appointment, AppointmentStatus, Award, Grade, LogKind, Term, TermEvaluation
from models.term import UnknownTerm
from surveys.scoring import Scored, teacher_percentages
from tests.factories import make_appointment, make_class, make_student, make_teacher, make_term
from tests.integration.evaluation_school import (
    add_logs,
    add_response,
    build_random_term,
    build_scenario,
    open_round,
    satisfaction_definition,
)
from worker.tasks.evaluation import evaluate_term_task

CODE = "2026-2027-1"


def _by_name(session):
    return {row["teacher"]: row for row in evaluation_rows(session, CODE)}


def _stored(session):
    rows = session.scalars(select(TermEvaluation).order_by(TermEvaluation.teacher_id)).all()
    cols = [c.key for c in TermEvaluation.__table__.columns if c.key not in ("id", "computed_at")]
    return [{c: getattr(r, c) for c in cols} for r in rows]


def test_scenario_rows(session, settings):
    build_scenario(session)
    summary = evaluate_term(CODE, settings.min_respondents)
    assert summary["teachers"] == 4
    assert summary["grades"] == {"优秀": 1, "良好": 0, "合格": 0, "不合格": 3}
    rows = _by_name(session)
    assert set(rows) == {"张老师", "李老师", "王老师", "赵老师"}  # not rejected, not past

    good = rows["张老师"]
    assert good["department"] == "管弦系党总支"
    assert good["classes"] == ["GX2025-1"]
    assert (good["respondents"], good["eligible"]) == (5, 6)
    assert good["response_rate"] == pytest.approx(5 / 6, abs=1e-4)
    assert good["satisfaction_pct"] == 84.0
    assert good["grade"] == "优秀" and good["reasons"] == []
    assert good["logs"] == {"dorm_visit": 1, "talk": 2}
    assert good["ci_low"] < 84.0 < good["ci_high"]
    assert (good["meetings_attended"], good["trainings_attended"]) == (1, 1)
    assert good["corroboration"]["dorm_visit"] == {
        "logged": 1,
        "answered": 5,
        "confirmed": 0,
        "share": 0.0,
    }
    assert good["corroboration"]["talk"]["confirmed"] == 5
    assert good["flags"] == ["走访寝室日志未获学生印证（记录1次，5名答题学生无人确认）"]
    assert (good["months_in_office"], good["allowance"]) == (5, 1500)

    weak = rows["李老师"]
    assert weak["satisfaction_pct"] == 50.0
    assert weak["grade"] == "不合格"
    assert weak["reasons"] == ["满意度低于60%", "没有很好履行工作职责"]
    # Neither trained on the roster nor at the school's September training (第十二条, 第十四条).
    assert weak["flags"] == ["答卷少于5份", "数据不足", "未参加岗前培训", "未参加本学期培训会"]

    short = rows["王老师"]
    assert short["satisfaction_pct"] is None and short["respondents"] == 0
    assert short["response_rate"] == 0.0
    assert short["reasons"] == ["任期不满一年", "严重责任事件"]
    assert (short["months_in_office"], short["allowance"]) == (3, 900)

    two = rows["赵老师"]
    assert sorted(two["classes"]) == ["SY2025-2", "SY2025-3"]
    assert two["eligible"] == 4  # the student in both classes counts once
    assert two["satisfaction_pct"] == 80.0
    # 4 respondents, under the minimum of 5: percentage and grade only, nothing finer.
    assert two["ci_low"] is None and two["ci_high"] is None
    assert two["corroboration"] == {} and two["straight_lined"] is None
    assert two["reasons"] == ["其他不称职行为"]


def test_running_twice_gives_the_same_rows_and_keeps_overrides(session, settings):
    s = build_scenario(session)
    evaluate_term(CODE, settings.min_respondents)
    first = _stored(session)
    ev = session.scalar(
        select(TermEvaluation).where(TermEvaluation.teacher_id == s.teachers["weak"].id)
    )
    ev.override_grade = Grade.PASS
    ev.override_reason = "满意度测评样本过少，经学生处复核为合格"
    session.commit()
    evaluate_term(CODE, settings.min_respondents)
    session.expire_all()
    second = _stored(session)
    assert session.scalar(select(func.count()).select_from(TermEvaluation)) == 4
    for a, b in zip(first, second, strict=True):
        if a["teacher_id"] == s.teachers["weak"].id:
            assert b["override_grade"] == Grade.PASS
            a = {
                **a,
                "override_grade": b["override_grade"],
                "override_reason": b["override_reason"],
            }
        assert a == b
    row = _by_name(session)["李老师"]
    assert row["grade"] == "合格" and row["computed_grade"] == "不合格"
    assert row["reasons"] == [] and row["override_reason"].startswith("满意度")


def test_new_data_updates_and_teachers_gone_are_removed(session, settings):
    s = build_scenario(session)
    evaluate_term(CODE, settings.min_respondents)
    add_logs(session, s.teachers["weak"], LogKind.TALK, 1)
    appt = session.scalar(select(Appointment).where(Appointment.teacher_id == s.teachers["two"].id))
    session.query(Appointment).filter(Appointment.teacher_id == s.teachers["two"].id).update(
        {"status": AppointmentStatus.REJECTED}
    )
    assert appt is not None
    session.commit()
    evaluate_term(CODE, settings.min_respondents)
    rows = _by_name(session)
    assert "赵老师" not in rows
    assert rows["李老师"]["reasons"] == ["满意度低于60%"]


def test_unknown_term(db_url, settings):
    with pytest.raises(UnknownTerm, match="2030-2031-1"):
        evaluate_term("2030-2031-1", settings.min_respondents)


def test_eager_task_runs_in_process(session, settings):
    build_scenario(session)
    configure_celery(settings)
    result = evaluate_term_task.delay(CODE).get()
    assert result["summary"]["teachers"] == 4
    term = session.scalar(select(Term).where(Term.code == CODE))
    session.refresh(term)
    assert term.evaluated_at is not None


@pytest.mark.parametrize("method", ["mean_score", "top_box"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_percentages_equal_plain_python(session, settings, method, seed):
    rng = random.Random(seed * 100 + len(method))
    data = build_random_term(session, rng, method=method)
    evaluate_term(CODE, settings.min_respondents)
    expected = teacher_percentages(method, (Scored(t, s, tb) for t, s, tb in data.responses))
    stored = {ev.teacher_id: ev for ev in session.scalars(select(TermEvaluation)).all()}
    assert set(stored) == set(data.eligible)
    for tid, ev in stored.items():
        pct, n = expected.get(tid, (None, 0))
        assert ev.respondents == n
        assert ev.eligible == data.eligible[tid]
        if pct is None:
            assert ev.satisfaction is None
        else:
            assert ev.satisfaction == pytest.approx(pct, abs=1e-9)
        assert ev.response_rate == pytest.approx(n / data.eligible[tid])


def _excellent_term(session, code, start, teacher, cls, n=6):
    term = make_term(session, code=code, start_date=start, end_date=start + dt.timedelta(days=140))
    rnd = open_round(session, term, satisfaction_definition())
    for _ in range(n):
        add_response(session, rnd, teacher, 90, day=start + dt.timedelta(days=100))
    add_logs(session, teacher, LogKind.TALK, 1, day=start + dt.timedelta(days=10))
    return term


def test_award_candidates_two_excellent_terms_and_dismissal_ban(session, settings):
    teachers = {}
    for name in ("连续优秀", "曾被解聘", "仅一学期"):
        t = teachers[name] = make_teacher(session, name=name)
        c = make_class(session)
        for _ in range(6):
            make_student(session, classes=[c])
        make_appointment(session, teacher=t, school_class=c, start_date=dt.date(2026, 3, 1))
    # 曾被解聘 was dismissed from another class two years ago (第二十条)
    make_appointment(
        session,
        teacher=teachers["曾被解聘"],
        start_date=dt.date(2024, 9, 1),
        status=AppointmentStatus.DISMISSED,
        ended_on=dt.date(2024, 12, 1),
    )
    spring = make_term(
        session, code="2025-2026-2", start_date=dt.date(2026, 3, 1), end_date=dt.date(2026, 7, 10)
    )
    rnd = open_round(session, spring, satisfaction_definition())
    for name in ("连续优秀", "曾被解聘"):
        for _ in range(6):
            add_response(session, rnd, teachers[name], 90, day=dt.date(2026, 6, 20))
        add_logs(session, teachers[name], LogKind.TALK, 1, day=dt.date(2026, 4, 1))
    for _ in range(6):
        add_response(session, rnd, teachers["仅一学期"], 75, day=dt.date(2026, 6, 20))
    add_logs(session, teachers["仅一学期"], LogKind.TALK, 1, day=dt.date(2026, 4, 1))
    autumn = make_term(session)
    rnd2 = open_round(session, autumn, satisfaction_definition())
    for t in teachers.values():
        for _ in range(6):
            add_response(session, rnd2, t, 95)
        add_logs(session, t, LogKind.TALK, 1)
    session.commit()
    evaluate_term("2025-2026-2", settings.min_respondents)
    assert session.scalar(select(func.count()).select_from(Award)) == 0
    session.rollback()  # end the read transaction: SQLite's snapshot would hide the next run
    evaluate_term(CODE, settings.min_respondents)
    evaluate_term(CODE, settings.min_respondents)
    awards = session.scalars(select(Award)).all()
    assert [(a.teacher_id, a.academic_year, a.status) for a in awards] == [
        (teachers["连续优秀"].id, "2026-2027", "candidate")
    ]
    from core.reports import award_rows

    rows = award_rows(session, CODE)
    assert [r["teacher"] for r in rows] == ["连续优秀"]
    assert rows[0]["previous_term"] == "2025-2026-2"
