"""Pure rules of the dashboard: lockout counting, who may take which appointment step, the
overview's arithmetic, sorting, form parsing and the SVG charts."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.dashboard.charts import hbar_chart
from bot.dashboard.forms import Fields, FormError
from bot.dashboard.queries import EvaluationRow, flag_text, reason_text, sort_rows, summarize
from bot.dashboard.workflow import next_steps, transition_problem
from core.accounts import (
    LOCKOUT,
    MemoryCounter,
    is_locked,
    password_problem,
    random_password,
    token_digest,
    username_problem,
)
from models import AppointmentStatus as A
from models import Grade, UserRole

NOW = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC)


def test_fifth_failure_per_name_and_address_reaches_the_limit():
    counter = MemoryCounter()
    for _ in range(4):
        assert counter.failed("xsc", "10.0.0.9") is False
        # Another address's failures count on their own.
        assert counter.failed("xsc", "10.0.0.7") is False
    assert counter.failed("xsc", "10.0.0.9") is True
    counter.reset("xsc", "10.0.0.9")
    assert counter.failed("xsc", "10.0.0.9") is False
    assert dt.timedelta(minutes=15) == LOCKOUT
    locked = NOW + LOCKOUT
    assert is_locked(locked, NOW + dt.timedelta(minutes=14, seconds=59))
    assert not is_locked(locked, NOW + LOCKOUT)
    assert not is_locked(None, NOW)


def test_password_and_username_rules():
    assert password_problem("short-pw9") == "密码至少需要 10 个字符"
    assert password_problem(" padded-password ") == "密码首尾不能是空格"
    assert password_problem("long-enough") is None
    for common in ("1234567890", "Password123", "qwertyuiop", "woaini5201314", "aaaaaaaaaa"):
        assert password_problem(common) is not None, common
    assert password_problem("xsc-secret-99", username="xsc") == "密码不能包含用户名"
    assert all(password_problem(random_password()) is None for _ in range(20))
    assert username_problem("学生处-admin") is None
    assert username_problem("a b") is not None and username_problem("x") is not None


def test_token_digest_is_sha256_hex():
    assert token_digest("abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    ("role", "current", "target", "allowed"),
    [
        (UserRole.BRANCH, A.APPLIED, A.BRANCH_REVIEWED, True),
        (UserRole.BRANCH, A.APPLIED, A.REJECTED, True),
        (UserRole.AFFAIRS, A.APPLIED, A.BRANCH_REVIEWED, False),
        (UserRole.BRANCH, A.BRANCH_REVIEWED, A.AFFAIRS_APPROVED, False),
        (UserRole.AFFAIRS, A.BRANCH_REVIEWED, A.AFFAIRS_APPROVED, True),
        (UserRole.AFFAIRS, A.BRANCH_REVIEWED, A.REJECTED, True),
        (UserRole.AFFAIRS, A.AFFAIRS_APPROVED, A.HR_FILED, True),
        (UserRole.AFFAIRS, A.HR_FILED, A.APPOINTED, True),
        (UserRole.BRANCH, A.HR_FILED, A.APPOINTED, False),
        (UserRole.BRANCH, A.APPOINTED, A.DISMISSED, True),
        (UserRole.AFFAIRS, A.APPOINTED, A.RESIGNED, True),
        (UserRole.AFFAIRS, A.APPLIED, A.APPOINTED, False),
        (UserRole.AFFAIRS, A.RESIGNED, A.APPOINTED, False),
        (UserRole.HR, A.AFFAIRS_APPROVED, A.HR_FILED, True),
        (UserRole.HR, A.APPLIED, A.BRANCH_REVIEWED, False),
        (UserRole.HR, A.BRANCH_REVIEWED, A.AFFAIRS_APPROVED, False),
        (UserRole.HR, A.HR_FILED, A.APPOINTED, False),
        (UserRole.HR, A.APPOINTED, A.DISMISSED, False),
        (UserRole.BRANCH, A.AFFAIRS_APPROVED, A.HR_FILED, False),
    ],
)
def test_workflow_permissions(role, current, target, allowed):
    assert (transition_problem(role, current, target) is None) is allowed


def test_hr_files_its_own_record_once_it_has_an_account():
    # Without a 人事处 user Student Affairs records the 备案 on HR's behalf; with one, it is HR's.
    assert transition_problem(UserRole.AFFAIRS, A.AFFAIRS_APPROVED, A.HR_FILED) is None
    assert (
        transition_problem(UserRole.AFFAIRS, A.AFFAIRS_APPROVED, A.HR_FILED, hr_present=True)
        == "人事处备案由人事处办理"
    )
    assert next_steps(UserRole.HR, A.AFFAIRS_APPROVED, hr_present=True) == [A.HR_FILED]
    assert next_steps(UserRole.AFFAIRS, A.AFFAIRS_APPROVED, hr_present=True) == []
    assert next_steps(UserRole.HR, A.APPOINTED) == []


def test_next_steps_are_the_buttons_shown():
    assert next_steps(UserRole.BRANCH, A.APPLIED) == [A.BRANCH_REVIEWED, A.REJECTED]
    assert next_steps(UserRole.AFFAIRS, A.APPLIED) == []
    assert next_steps(UserRole.BRANCH, A.BRANCH_REVIEWED) == []
    assert next_steps(UserRole.AFFAIRS, A.APPOINTED) == [A.DISMISSED, A.RESIGNED]


def row(
    name: str, dep: str, respondents: int, eligible: int, sat: float | None, grade: Grade, flags=()
) -> EvaluationRow:
    return EvaluationRow(
        teacher_id=hash(name) % 1000,
        staff_no=name,
        teacher=name,
        department_id=1,
        department=dep,
        classes="",
        respondents=respondents,
        eligible=eligible,
        stored_response_rate=None,
        satisfaction=sat,
        grade=grade,
        computed_grade=grade,
        override_reason=None,
        reasons=[],
        flags=list(flags),
        logs={"talk": respondents},
        meetings_attended=0,
        trainings_attended=0,
        months_in_office=0,
        allowance=0,
    )


def test_summarize_weights_rates_by_students_and_satisfaction_by_teacher():
    rows = [
        row("a", "甲", 9, 10, 90.0, Grade.EXCELLENT),
        row("b", "甲", 1, 10, 50.0, Grade.FAIL, flags=["答卷少于5份"]),
        row("c", "乙", 0, 5, None, Grade.FAIL),
    ]
    s = summarize(rows)
    assert (s.teachers, s.respondents, s.eligible, s.flagged) == (3, 10, 25, 1)
    assert s.response_rate == pytest.approx(40.0)
    assert s.grades == {Grade.EXCELLENT: 1, Grade.GOOD: 0, Grade.PASS: 0, Grade.FAIL: 2}
    yi, jia = s.by_department  # sorted by name: 乙 (U+4E59) before 甲 (U+7532)
    assert (jia.name, jia.satisfaction, jia.response_rate) == ("甲", 70.0, 50.0)
    assert yi.satisfaction is None and yi.response_rate == 0.0
    assert summarize([]).response_rate is None


def test_sort_rows_puts_missing_values_last_when_descending():
    rows = [row("a", "甲", 1, 2, None, Grade.FAIL), row("b", "甲", 2, 2, 80.0, Grade.GOOD)]
    assert [r.staff_no for r in sort_rows(rows, "satisfaction", True)] == ["b", "a"]
    assert [r.staff_no for r in sort_rows(rows, "grade", False)] == ["b", "a"]
    assert [r.staff_no for r in sort_rows(rows, "nonsense", False)] == ["a", "b"]


def test_reason_and_flag_texts():
    assert reason_text("任期不满一年") == "任期不满一年"
    assert reason_text({"code": "x", "label": "学生满意度低于 60%"}) == "学生满意度低于 60%"
    assert flag_text("答卷少于5份") == "答卷少于5份"
    assert flag_text({"label": "未参加岗前培训"}) == "未参加岗前培训"


def test_fields_collect_every_problem():
    fields = Fields({"title": "  ", "day": "2026-02-30", "kind": "nope", "ok": "2026-02-28"})
    fields.text("title", "会议名称")
    assert fields.date("day", "日期") is None
    assert fields.date("ok", "日期") == dt.date(2026, 2, 28)
    fields.choice("kind", "类别", A)
    assert fields.date("missing", "截止日期", required=False) is None
    with pytest.raises(FormError) as err:
        fields.check()
    assert err.value.problems == [
        "请填写会议名称",
        "日期“2026-02-30”不是有效日期，应为 YYYY-MM-DD，例如 2026-11-20",
        "请选择有效的类别",
    ]


def test_chart_escapes_labels_and_scales_bars():
    svg = str(
        hbar_chart(
            [("<b>系</b>", 50.0), ("空", None)], max_value=100, unit="%", width=400, label_width=100
        )
    )
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "50.0%" in svg and "—" in svg
    plot = 400 - 100 - 60
    assert f'width="{plot / 2:.1f}"' in svg  # half of the plot for 50 of 100
    assert svg.startswith("<svg") and svg.endswith("</svg>")
