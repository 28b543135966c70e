"""Pure scoring: respondent score, top box, straight-lining, too fast, teacher percentages."""

from __future__ import annotations

import pytest

from surveys.definition import parse_survey
from surveys.scoring import (
    CHARS_PER_SECOND,
    SECONDS_PER_ANSWER,
    Scored,
    reading_seconds,
    respondent_score,
    straight_lined,
    teacher_percentages,
    too_fast,
    top_box,
)

SCALE = [
    {"label": "非常满意", "score": 100},
    {"label": "满意", "score": 80},
    {"label": "基本满意", "score": 60},
    {"label": "不满意", "score": 0},
]


def definition(method="mean_score"):
    data = {
        "id": "s",
        "title": "t",
        "method": method,
        "questions": [
            {"id": "a", "text": "关心学生", "options": SCALE},
            {"id": "b", "text": "谈心谈话", "options": SCALE, "required": False},
            {"id": "c", "text": "班会", "options": SCALE},
            {"id": "v", "text": "走访过吗", "scored": False, "options": ["是", "否"]},
            {"id": "overall", "text": "总体", "options": SCALE},
            {"id": "comment", "text": "建议", "type": "text"},
        ],
    }
    if method == "top_box":
        data["top_box"] = {"question": "overall", "labels": ["非常满意", "满意"]}
    return parse_survey(data)


def test_score_is_mean_of_answered_scored_questions_only():
    d = definition()
    # 100, (b skipped), 60, unscored yes, 0 → mean of 100, 60, 0
    answers = {"a": 1, "b": None, "c": 3, "v": 1, "overall": 4, "comment": "好"}
    assert respondent_score(d, answers) == pytest.approx(160 / 3)
    assert respondent_score(d, {"a": 2, "b": 2, "c": 2, "overall": 2}) == 80
    # Unscored and text answers alone give no score.
    assert respondent_score(d, {"v": 1, "comment": "x"}) is None


def test_out_of_range_answer_is_an_error_not_a_silent_zero():
    with pytest.raises(ValueError):
        respondent_score(definition(), {"a": 5})


def test_top_box():
    d = definition("top_box")
    assert top_box(d, {"overall": 1}) is True
    assert top_box(d, {"overall": 2}) is True
    assert top_box(d, {"overall": 3}) is False
    assert top_box(d, {}) is False  # skipped: not in the top box
    assert top_box(definition(), {"overall": 1}) is None  # mean_score survey


def test_straight_lining_needs_three_identical_scored_answers():
    d = definition()
    assert straight_lined(d, {"a": 2, "b": 2, "c": 2, "overall": 2, "v": 1}) is True
    assert straight_lined(d, {"a": 2, "c": 2, "overall": 2}) is True
    assert straight_lined(d, {"a": 2, "c": 2}) is False  # two scored answers only
    assert straight_lined(d, {"a": 2, "b": 1, "c": 2, "overall": 2}) is False
    # Unscored answers do not count either way.
    assert straight_lined(d, {"a": 1, "b": None, "c": 1, "v": 2, "overall": 1}) is True


def test_too_fast_against_reading_estimate():
    d = definition()
    qs = d.questions
    chars = sum(len(q.text) + sum(len(o.label) for o in q.options) for q in qs)
    expected = chars / CHARS_PER_SECOND + SECONDS_PER_ANSWER * len(qs)
    assert reading_seconds(qs) == pytest.approx(expected)
    assert too_fast(qs, expected - 0.5) is True
    assert too_fast(qs, expected) is False
    assert too_fast(qs, 600) is False
    # Fewer questions shown, less time needed.
    assert reading_seconds(qs[:2]) < reading_seconds(qs)


def test_teacher_percentages_mean_score():
    rows = [
        Scored(1, 100.0, None),
        Scored(1, 60.0, None),
        Scored(1, None, None),  # answered no scored question: not in the mean
        Scored(2, 80.0, None),
        Scored(3, None, None),
    ]
    out = teacher_percentages("mean_score", rows)
    assert out[1] == (80.0, 3)
    assert out[2] == (80.0, 1)
    assert out[3] == (None, 1)
    assert 4 not in out


def test_teacher_percentages_top_box_is_share_of_all_respondents():
    rows = [
        Scored(1, None, True),
        Scored(1, None, False),
        Scored(1, None, True),
        Scored(2, None, False),
    ]
    out = teacher_percentages("top_box", rows)
    assert out[1][0] == pytest.approx(200 / 3) and out[1][1] == 3
    assert out[2] == (0.0, 1)


def test_percentages_are_not_rounded():
    out = teacher_percentages(
        "mean_score", [Scored(1, 100.0, None), Scored(1, 80.0, None), Scored(1, 80.0, None)]
    )
    assert out[1][0] == pytest.approx(86.6666666, rel=1e-6)


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        teacher_percentages("median", [])
