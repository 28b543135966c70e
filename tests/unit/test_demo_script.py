"""The demo's school and script: pure, seeded, and shaped to show what the demo promises."""

from __future__ import annotations

import datetime as dt
import random
import re

from bot.demo.school import PROFILES, TERM_END, TERM_START, make_school
from bot.demo.script import answer_text, date_words, scale_choice, worklog_messages

TODAY = dt.date(2026, 11, 26)


def test_school_has_the_promised_shape() -> None:
    school = make_school()
    assert len(school.teachers) == 8
    assert len(school.counsellors) == 2
    assert 140 <= len(school.students) <= 160
    assert len(school.by_profile("silent")) == 1
    assert len(school.by_profile("unhappy")) == 1
    openids = [p.openid for p in [*school.students, *school.teachers, *school.counsellors]]
    assert len(set(openids)) == len(openids)
    assert all(re.fullmatch(r"o[\w-]{27}", o) for o in openids)
    assert all(school.students_of(t) for t in school.teachers)
    assert any(t.first_year for t in school.teachers)
    assert any(t.final_year for t in school.teachers)


def test_school_is_the_same_for_the_same_seed() -> None:
    a, b = make_school(), make_school()
    assert [p.openid for p in a.students] == [p.openid for p in b.students]
    assert [p.openid for p in make_school(7).students] != [p.openid for p in a.students]


def test_date_words_as_teachers_write_them() -> None:
    rng = random.Random(1)
    assert date_words(TODAY, TODAY, rng) == ""
    assert date_words(TODAY - dt.timedelta(days=1), TODAY, rng) == "昨天 "
    assert date_words(TODAY - dt.timedelta(days=2), TODAY, rng) == "前天 "
    forms = {date_words(dt.date(2026, 10, 5), TODAY, random.Random(i)) for i in range(30)}
    assert forms == {"10月5日 ", "2026-10-05 "}
    # Another calendar year: only the unambiguous ISO form.
    assert date_words(dt.date(2026, 12, 30), dt.date(2027, 1, 10), rng) == "2026-12-30 "


def test_worklog_messages_follow_the_profiles() -> None:
    school = make_school()
    messages = worklog_messages(school, TERM_START, TERM_END, TODAY)
    for teacher in school.teachers:
        mine = [m for m in messages if m.teacher is teacher]
        assert len(mine) == PROFILES[teacher.profile].logs
        names = {s.name for s in school.students_of(teacher)}
        for m in mine:
            assert TERM_START <= m.day <= TODAY
            named = [w for w in m.text.split() if w in {s.name for s in school.students}]
            assert set(named) <= names, (teacher.name, m.text)
    assert not [m for m in messages if m.teacher.profile == "silent"]
    texts = [m.text for m in messages]
    assert any(t.startswith("昨天 ") for t in texts)
    assert any(re.match(r"\d{1,2}月\d{1,2}日 ", t) for t in texts)
    assert any(" 反馈 " in f" {t}" for t in texts)
    assert any("就业 " in t for t in texts)
    assert messages == worklog_messages(school, TERM_START, TERM_END, TODAY)


def test_worklog_dates_stay_in_the_term_after_it_ends() -> None:
    school = make_school()
    later = dt.date(2027, 3, 15)
    messages = worklog_messages(school, TERM_START, TERM_END, later)
    assert all(TERM_START <= m.day <= TERM_END for m in messages)
    assert not any(m.text.startswith(("昨天", "前天")) for m in messages)


def test_answers_track_the_profile() -> None:
    rng = random.Random(3)
    scores = {100: 1, 80: 2, 60: 3, 0: 4}
    by_choice = {v: k for k, v in scores.items()}

    def mean(profile: str) -> float:
        picks = [scale_choice(profile, rng.uniform(-1, 1), rng) for _ in range(2000)]
        return sum(by_choice[p] for p in picks) / len(picks)

    assert mean("unhappy") < 55
    assert 60 < mean("pass") < 70
    assert 70 < mean("good") < 80
    assert mean("excellent") > 80


def test_answer_text_forms() -> None:
    labels = ["非常满意", "满意", "基本满意", "不满意"]
    forms = {answer_text(labels, 2, random.Random(i)) for i in range(200)}
    assert forms == {"2", "B", "满意"}
