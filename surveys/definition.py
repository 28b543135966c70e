"""Survey definitions: YAML → frozen dataclasses, validated with every problem reported at once.

A definition is checked completely before anything is stored: ``parse_survey`` collects every
problem (each naming the question it concerns) and raises one :class:`SurveyDefinitionError`
holding them all, so that ``banzhuren survey load`` can print them one per line.

Beyond the YAML shown in DESIGN.md, a choice question may say ``scored: false`` (then its options
need no score and it does not count towards satisfaction), ``corroborates: {kind: dorm_visit,
yes: [是]}`` (a students' check on a work-log kind, models.worklog.LogKind), and
``applies_to: first_year | final_year`` (asked only about head teachers of such classes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from models.worklog import LogKind

METHODS = ("mean_score", "top_box")
QUESTION_TYPES = ("choice", "text")
APPLIES_TO = ("first_year", "final_year")


class SurveyDefinitionError(ValueError):
    """A survey definition that cannot be used; ``problems`` lists every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Option:
    label: str
    score: float | None = None


@dataclass(frozen=True)
class Corroboration:
    """Answers in ``yes`` say the teacher did work of ``kind`` (a LogKind value)."""

    kind: str
    yes: tuple[str, ...]


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    type: str  # "choice" or "text"
    options: tuple[Option, ...] = ()
    required: bool = True
    # False for a choice question that only informs (e.g. corroboration); text is never scored.
    scored: bool = True
    corroborates: Corroboration | None = None
    applies_to: str | None = None

    @property
    def is_choice(self) -> bool:
        return self.type == "choice"

    @property
    def is_scored(self) -> bool:
        return self.type == "choice" and self.scored

    def option_score(self, choice: int | None) -> float | None:
        """The score of the 1-based ``choice``, or None (unscored question or no answer)."""
        if not self.is_scored or choice is None:
            return None
        return self.options[choice - 1].score


@dataclass(frozen=True)
class TopBox:
    question: str
    labels: tuple[str, ...]


@dataclass(frozen=True)
class SurveyDefinition:
    id: str
    title: str
    method: str
    questions: tuple[Question, ...]
    top_box: TopBox | None = None
    # The mapping it was parsed from, normalised; what a round snapshots.
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    def questions_for(self, *, first_year: bool, final_year: bool) -> tuple[Question, ...]:
        """The questions asked about a head teacher of a first-year and/or final-year class."""
        wanted = {None}
        if first_year:
            wanted.add("first_year")
        if final_year:
            wanted.add("final_year")
        return tuple(q for q in self.questions if q.applies_to in wanted)

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-storable form that ``parse_survey`` reads back to an equal definition."""
        out: dict[str, Any] = {"id": self.id, "title": self.title, "method": self.method}
        if self.top_box is not None:
            out["top_box"] = {
                "question": self.top_box.question,
                "labels": list(self.top_box.labels),
            }
        questions = []
        for q in self.questions:
            item: dict[str, Any] = {"id": q.id, "text": q.text, "type": q.type}
            if q.is_choice:
                item["options"] = [
                    {"label": o.label, **({"score": o.score} if o.score is not None else {})}
                    for o in q.options
                ]
                if not q.scored:
                    item["scored"] = False
            item["required"] = q.required
            if q.corroborates is not None:
                item["corroborates"] = {
                    "kind": q.corroborates.kind,
                    "yes": list(q.corroborates.yes),
                }
            if q.applies_to is not None:
                item["applies_to"] = q.applies_to
            questions.append(item)
        out["questions"] = questions
        return out


def load_survey_file(path: str | Path) -> SurveyDefinition:
    """Read and validate a YAML survey definition; SurveyDefinitionError lists every problem."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SurveyDefinitionError([f"{path}: 文件不存在"]) from None
    except UnicodeDecodeError:
        raise SurveyDefinitionError([f"{path}: 不是 UTF-8 编码的文本文件"]) from None
    except OSError as exc:
        raise SurveyDefinitionError([f"{path}: 无法读取（{exc.strerror}）"]) from None
    return parse_survey_text(raw, name=str(path))


def parse_survey_text(raw: str, name: str = "<yaml>") -> SurveyDefinition:
    """Parse YAML text; a syntax error is reported with its line number."""
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark is not None else "某处"
        what = getattr(exc, "problem", None) or str(exc)
        raise SurveyDefinitionError([f"{name}: YAML 语法错误，{where}：{what}"]) from None
    return parse_survey(data)


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _text(value: Any) -> str | None:
    """A non-empty string (numbers are accepted as their text, e.g. an option labelled 1)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        s = str(value).strip()
        return s or None
    return None


def parse_survey(data: Any) -> SurveyDefinition:
    """Validate a definition already read from YAML (or from a round's snapshot)."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise SurveyDefinitionError(["问卷定义应为一个映射（id、title、method、questions）"])

    survey_id = _text(data.get("id"))
    if survey_id is None:
        problems.append("缺少 id（问卷编号，例如 satisfaction）")
    elif len(survey_id) > 64:
        problems.append(f"id {survey_id!r} 过长（最多 64 个字符）")
    title = _text(data.get("title"))
    if title is None:
        problems.append("缺少 title（问卷标题）")
    method = data.get("method", "mean_score")
    if method not in METHODS:
        problems.append(f"method {method!r} 未知，应为 mean_score 或 top_box")

    questions: list[Question] = []
    seen_ids: set[str] = set()
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        problems.append("questions 应为非空列表")
        raw_questions = []
    for n, raw_q in enumerate(raw_questions, start=1):
        q = _parse_question(n, raw_q, problems)
        if q is None:
            continue
        if q.id in seen_ids:
            problems.append(f"第 {n} 题（{q.id}）：题目 id 重复")
            continue
        seen_ids.add(q.id)
        questions.append(q)

    top_box: TopBox | None = None
    raw_tb = data.get("top_box")
    if method == "top_box" and raw_tb is None:
        problems.append("method 为 top_box 时需要 top_box: {question: ..., labels: [...]}")
    if raw_tb is not None:
        top_box = _parse_top_box(raw_tb, questions, problems)

    if questions and not any(q.is_scored for q in questions) and method == "mean_score":
        problems.append("mean_score 问卷至少需要一道计分的选择题")

    if problems:
        raise SurveyDefinitionError(problems)
    definition = SurveyDefinition(
        id=survey_id, title=title, method=method, questions=tuple(questions), top_box=top_box
    )
    return replace(definition, source=definition.to_dict())


def _parse_question(n: int, raw: Any, problems: list[str]) -> Question | None:
    if not isinstance(raw, dict):
        problems.append(f"第 {n} 题：应为一个映射（id、text、type …）")
        return None
    qid = _text(raw.get("id"))
    name = f"第 {n} 题（{qid}）" if qid else f"第 {n} 题"
    before = len(problems)
    if qid is None:
        problems.append(f"{name}：缺少 id")
    elif len(qid) > 64:
        problems.append(f"{name}：id 过长（最多 64 个字符）")
    text = _text(raw.get("text"))
    if text is None:
        problems.append(f"{name}：缺少 text（题目文字）")
    qtype = raw.get("type", "choice")
    if qtype not in QUESTION_TYPES:
        problems.append(f"{name}：题型 {qtype!r} 未知，应为 choice 或 text")
        return None

    required_default = qtype == "choice"
    required = raw.get("required", required_default)
    if not isinstance(required, bool):
        problems.append(f"{name}：required 应为 true 或 false")
        required = required_default

    applies_to = raw.get("applies_to")
    if applies_to is not None and applies_to not in APPLIES_TO:
        problems.append(
            f"{name}：applies_to {applies_to!r} 未知，应为 first_year（新生）或 final_year（毕业年级）"
        )

    scored = raw.get("scored", qtype == "choice")
    if not isinstance(scored, bool):
        problems.append(f"{name}：scored 应为 true 或 false")
        scored = True
    if qtype == "text" and scored and "scored" in raw:
        problems.append(f"{name}：文字题不计分，不能写 scored: true")
    if qtype == "text":
        scored = False

    options: list[Option] = []
    if qtype == "choice":
        options = _parse_options(name, raw.get("options"), scored, problems)
    elif raw.get("options") is not None:
        problems.append(f"{name}：文字题不应有 options")

    corroborates: Corroboration | None = None
    if raw.get("corroborates") is not None:
        corroborates = _parse_corroboration(name, raw["corroborates"], qtype, options, problems)

    if len(problems) > before:
        return None
    return Question(
        id=qid,
        text=text,
        type=qtype,
        options=tuple(options),
        required=required,
        scored=scored,
        corroborates=corroborates,
        applies_to=applies_to,
    )


def _parse_options(name: str, raw: Any, scored: bool, problems: list[str]) -> list[Option]:
    if not isinstance(raw, list) or not raw:
        problems.append(f"{name}：选择题的 options 不能为空")
        return []
    options: list[Option] = []
    labels: set[str] = set()
    for m, raw_o in enumerate(raw, start=1):
        if isinstance(raw_o, dict):
            label, score = _text(raw_o.get("label")), raw_o.get("score")
        else:  # a bare label, allowed for unscored questions
            label, score = _text(raw_o), None
        if label is None:
            problems.append(f"{name}：第 {m} 个选项缺少 label")
            continue
        if label in labels:
            problems.append(f"{name}：选项 {label!r} 重复")
            continue
        labels.add(label)
        if score is not None and not _is_number(score):
            problems.append(f"{name}：选项 {label!r} 的 score 应为数字，实为 {score!r}")
            continue
        if scored and score is None:
            problems.append(
                f"{name}：计分题的选项 {label!r} 缺少 score（或给题目写 scored: false）"
            )
            continue
        options.append(Option(label=label, score=float(score) if score is not None else None))
    return options


def _parse_corroboration(
    name: str, raw: Any, qtype: str, options: list[Option], problems: list[str]
) -> Corroboration | None:
    if qtype != "choice":
        problems.append(f"{name}：只有选择题可以写 corroborates")
        return None
    if not isinstance(raw, dict):
        problems.append(f"{name}：corroborates 应为 {{kind: dorm_visit, yes: [是]}}")
        return None
    kind = raw.get("kind")
    kinds = [k.value for k in LogKind]
    if kind not in kinds:
        problems.append(f"{name}：corroborates.kind {kind!r} 未知，应为 {'、'.join(kinds)} 之一")
        return None
    # YAML 1.1 reads a bare ``yes`` key as the boolean true.
    yes = raw.get("yes", raw.get(True))
    if isinstance(yes, str):
        yes = [yes]
    if not isinstance(yes, list) or not yes:
        problems.append(f"{name}：corroborates.yes 应列出表示“是”的选项，例如 [是]")
        return None
    yes_labels = [_text(y) for y in yes]
    known = {o.label for o in options}
    for label in yes_labels:
        if label not in known:
            problems.append(f"{name}：corroborates.yes 中的 {label!r} 不是本题的选项")
            return None
    return Corroboration(kind=kind, yes=tuple(yes_labels))


def _parse_top_box(raw: Any, questions: list[Question], problems: list[str]) -> TopBox | None:
    if not isinstance(raw, dict):
        problems.append("top_box 应为 {question: 题目id, labels: [选项, ...]}")
        return None
    qid = _text(raw.get("question"))
    labels = raw.get("labels")
    if isinstance(labels, str):
        labels = [labels]
    if not isinstance(labels, list) or not labels:
        problems.append("top_box.labels 应为非空的选项列表，例如 [非常满意, 满意]")
        return None
    by_id = {q.id: q for q in questions}
    q = by_id.get(qid) if qid else None
    if q is None:
        problems.append(f"top_box.question {qid!r} 不是问卷中的题目 id")
        return None
    if not q.is_choice:
        problems.append(f"top_box.question {qid!r} 是文字题，应为选择题")
        return None
    known = {o.label for o in q.options}
    clean = [_text(x) for x in labels]
    bad = [str(x) for x in clean if x not in known]
    if bad:
        problems.append(f"top_box.labels 中的 {'、'.join(bad)} 不是题目 {qid} 的选项")
        return None
    return TopBox(question=qid, labels=tuple(clean))
