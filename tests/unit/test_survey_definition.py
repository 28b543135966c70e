"""The survey YAML loader: a good definition reads back equal; every kind of bad one is refused
with every problem named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from surveys.definition import (
    SurveyDefinitionError,
    load_survey_file,
    parse_survey,
    parse_survey_text,
)

DEFAULT = Path(__file__).resolve().parents[2] / "surveys" / "satisfaction.yaml"

SCALE = [
    {"label": "非常满意", "score": 100},
    {"label": "满意", "score": 80},
    {"label": "基本满意", "score": 60},
    {"label": "不满意", "score": 0},
]


def base() -> dict:
    return {
        "id": "satisfaction",
        "title": "测评",
        "method": "mean_score",
        "questions": [
            {"id": "care", "text": "关心学生", "type": "choice", "options": copy.deepcopy(SCALE)},
            {"id": "overall", "text": "总体", "type": "choice", "options": copy.deepcopy(SCALE)},
            {"id": "comment", "text": "建议", "type": "text", "required": False},
        ],
    }


def problems_of(data) -> list[str]:
    with pytest.raises(SurveyDefinitionError) as info:
        parse_survey(data)
    return info.value.problems


def test_default_questionnaire_loads_with_the_policy_duties():
    d = load_survey_file(DEFAULT)
    assert d.id == "satisfaction" and d.method == "mean_score"
    ids = [q.id for q in d.questions]
    assert 10 <= len(ids) <= 15
    for needed in ("care", "talk", "overall", "comment", "freshmen", "employment"):
        assert needed in ids
    visited = d.question("dorm_visited")
    assert not visited.is_scored and visited.corroborates.kind == "dorm_visit"
    assert visited.corroborates.yes == ("是",)
    assert d.question("talked").corroborates.kind == "talk"
    assert d.question("freshmen").applies_to == "first_year"
    assert d.question("employment").applies_to == "final_year"
    assert not d.question("comment").required and not d.question("comment").is_scored
    # A plain (not first/final-year) class is asked neither year-specific question.
    plain = d.questions_for(first_year=False, final_year=False)
    assert "freshmen" not in [q.id for q in plain] and len(plain) == len(ids) - 2
    assert len(d.questions_for(first_year=True, final_year=False)) == len(ids) - 1


def test_round_trip_through_to_dict_gives_an_equal_definition():
    d = load_survey_file(DEFAULT)
    again = parse_survey(d.to_dict())
    assert again == d
    assert again.to_dict() == d.to_dict() == dict(d.source)


def test_required_defaults_true_for_choice_and_false_for_text_unless_said():
    d = parse_survey(base())
    assert d.question("care").required is True
    data = base()
    data["questions"][0]["required"] = False
    data["questions"][2]["required"] = True
    d = parse_survey(data)
    assert d.question("care").required is False
    assert d.question("comment").required is True
    del data["questions"][2]["required"]
    assert parse_survey(data).question("comment").required is False
    data["questions"][2]["required"] = "yes"
    assert any("required 应为 true 或 false" in p for p in problems_of(data))


def test_top_box_survey():
    data = base()
    data["method"] = "top_box"
    data["top_box"] = {"question": "overall", "labels": ["非常满意", "满意"]}
    d = parse_survey(data)
    assert d.top_box.question == "overall" and d.top_box.labels == ("非常满意", "满意")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["questions"][0].update(type="rating"), "第 1 题（care）：题型 'rating' 未知"),
        (
            lambda d: d["questions"][1]["options"][2].pop("score"),
            "第 2 题（overall）：计分题的选项 '基本满意' 缺少 score",
        ),
        (lambda d: d["questions"][1].update(id="care"), "第 2 题（care）：题目 id 重复"),
        (
            lambda d: d["questions"][0]["options"].append({"label": "满意", "score": 1}),
            "第 1 题（care）：选项 '满意' 重复",
        ),
        (
            lambda d: d["questions"][0].update(options=[]),
            "第 1 题（care）：选择题的 options 不能为空",
        ),
        (lambda d: d["questions"][0].pop("options"), "第 1 题（care）：选择题的 options 不能为空"),
        (lambda d: d.update(method="median"), "method 'median' 未知"),
        (lambda d: d.update(method="top_box"), "method 为 top_box 时需要 top_box"),
        (
            lambda d: d.update(top_box={"question": "nope", "labels": ["满意"]}),
            "top_box.question 'nope' 不是问卷中的题目 id",
        ),
        (
            lambda d: d.update(top_box={"question": "overall", "labels": ["很好"]}),
            "top_box.labels 中的 很好 不是题目 overall 的选项",
        ),
        (
            lambda d: d.update(top_box={"question": "comment", "labels": ["满意"]}),
            "top_box.question 'comment' 是文字题",
        ),
        (
            lambda d: d["questions"][0].update(applies_to="second_year"),
            "第 1 题（care）：applies_to 'second_year' 未知",
        ),
        (
            lambda d: d["questions"][0].update(corroborates={"kind": "dorm", "yes": ["满意"]}),
            "第 1 题（care）：corroborates.kind 'dorm' 未知",
        ),
        (
            lambda d: d["questions"][0].update(corroborates={"kind": "talk", "yes": ["是"]}),
            "第 1 题（care）：corroborates.yes 中的 '是' 不是本题的选项",
        ),
        (lambda d: d["questions"][2].update(scored=True), "第 3 题（comment）：文字题不计分"),
        (
            lambda d: d["questions"][0]["options"][0].update(score="high"),
            "第 1 题（care）：选项 '非常满意' 的 score 应为数字",
        ),
        (lambda d: d["questions"][1].pop("text"), "第 2 题（overall）：缺少 text"),
        (lambda d: d.pop("id"), "缺少 id"),
        (lambda d: d.update(questions=[]), "questions 应为非空列表"),
    ],
)
def test_each_kind_of_problem_is_named(change, expected):
    data = base()
    change(data)
    problems = problems_of(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_all_problems_are_collected_at_once():
    data = base()
    data["method"] = "nope"
    data["questions"][0]["type"] = "slider"
    data["questions"][1]["options"][0].pop("score")
    data["questions"][2]["applies_to"] = "alumni"
    problems = problems_of(data)
    assert len(problems) == 4, problems
    assert any("（care）" in p for p in problems)
    assert any("（overall）" in p for p in problems)
    assert any("（comment）" in p for p in problems)


def test_unscored_choice_needs_no_scores_and_accepts_bare_labels():
    data = base()
    data["questions"].insert(
        0,
        {
            "id": "visited",
            "text": "走访过寝室吗",
            "type": "choice",
            "scored": False,
            "options": ["是", "否"],
            "corroborates": {"kind": "dorm_visit", "yes": ["是"]},
        },
    )
    q = parse_survey(data).question("visited")
    assert not q.is_scored and [o.label for o in q.options] == ["是", "否"]
    assert q.option_score(1) is None


def test_yaml_syntax_error_names_the_line():
    text = "id: s\ntitle: t\nquestions:\n  - id: a\n    text: [oops\n"
    with pytest.raises(SurveyDefinitionError) as info:
        parse_survey_text(text, name="bad.yaml")
    (problem,) = info.value.problems
    assert problem.startswith("bad.yaml: YAML 语法错误，第 ") and "行" in problem


def test_bare_yes_key_in_yaml_is_understood():
    # YAML 1.1 reads an unquoted ``yes`` key as true; the loader must not lose it.
    text = (
        "id: s\ntitle: t\nquestions:\n"
        "  - {id: a, text: 总体, options: [{label: 好, score: 100}, {label: 差, score: 0}]}\n"
        "  - id: v\n    text: 走访过吗\n    scored: false\n    options: [是, 否]\n"
        "    corroborates: {kind: dorm_visit, yes: [是]}\n"
    )
    assert parse_survey_text(text).question("v").corroborates.yes == ("是",)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(SurveyDefinitionError) as info:
        load_survey_file(tmp_path / "none.yaml")
    assert "文件不存在" in info.value.problems[0]
    (tmp_path / "list.yaml").write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(SurveyDefinitionError) as info:
        load_survey_file(tmp_path / "list.yaml")
    assert "应为一个映射" in info.value.problems[0]
