"""Pure scoring rules for one respondent and for a teacher's respondents.

Answers are a mapping of question id → the 1-based option number (choice questions), the text
(text questions), or None (skipped). Nothing here touches the database: the dialogue computes a
response's fields with these functions, and the evaluation's SQL is checked against
:func:`teacher_percentages`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from surveys.definition import Question, SurveyDefinition

Answers = Mapping[str, int | str | None]

# Reading-time estimate for too_fast. Careful silent reading of Chinese runs at roughly 300-500
# characters a minute; we take 10 characters a second (600 a minute, faster than anyone reading
# properly) over the question texts and option labels the respondent was shown, plus one second
# a question for tapping out the answer. A response finished in less time than that was not read.
CHARS_PER_SECOND = 10.0
SECONDS_PER_ANSWER = 1.0
# Straight-lining needs enough scored answers to mean anything.
STRAIGHT_LINE_MIN = 3


def _choice(answers: Answers, q: Question) -> int | None:
    value = answers.get(q.id)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    if not 1 <= value <= len(q.options):
        raise ValueError(f"answer {value} out of range for question {q.id}")
    return value


def respondent_score(definition: SurveyDefinition, answers: Answers) -> float | None:
    """The mean of the scores of the scored questions answered; None when none was answered."""
    scores = [
        q.option_score(c)
        for q in definition.questions
        if q.is_scored and (c := _choice(answers, q)) is not None
    ]
    if not scores:
        return None
    return sum(scores) / len(scores)


def top_box(definition: SurveyDefinition, answers: Answers) -> bool | None:
    """For a top_box survey: whether the named question got one of the named labels (a skipped
    question is not in the top box). None for a mean_score survey."""
    if definition.method != "top_box" or definition.top_box is None:
        return None
    q = definition.question(definition.top_box.question)
    c = _choice(answers, q)
    return c is not None and q.options[c - 1].label in definition.top_box.labels


def straight_lined(definition: SurveyDefinition, answers: Answers) -> bool:
    """Every scored answer is the same option number, over at least three scored answers."""
    chosen = [
        c for q in definition.questions if q.is_scored and (c := _choice(answers, q)) is not None
    ]
    return len(chosen) >= STRAIGHT_LINE_MIN and len(set(chosen)) == 1


def reading_seconds(questions: Sequence[Question]) -> float:
    """How long a person needs at least to read ``questions`` and answer them."""
    chars = sum(len(q.text) + sum(len(o.label) for o in q.options) for q in questions)
    return chars / CHARS_PER_SECOND + SECONDS_PER_ANSWER * len(questions)


def too_fast(questions: Sequence[Question], duration_seconds: float) -> bool:
    """Whether the questions shown were answered faster than they can be read."""
    return duration_seconds < reading_seconds(questions)


@dataclass(frozen=True)
class Scored:
    """The fields of a stored response that satisfaction percentages are built from."""

    teacher_id: int
    score: float | None
    top_box: bool | None


def teacher_percentages(
    method: str, responses: Iterable[Scored]
) -> dict[int, tuple[float | None, int]]:
    """Per teacher: (satisfaction percentage unrounded, respondents).

    ``mean_score``: the mean of the respondents' scores, over respondents with a score (one who
    answered no scored question has none; SQL's AVG ignores NULL the same way). ``top_box``: the
    share of respondents in the top box, as a percentage. The percentage is None when no
    respondent counts. Respondents are all responses about the teacher.
    """
    if method not in ("mean_score", "top_box"):
        raise ValueError(f"unknown method {method!r}")
    values: dict[int, list[float]] = defaultdict(list)
    counts: dict[int, int] = defaultdict(int)
    for r in responses:
        counts[r.teacher_id] += 1
        if method == "mean_score":
            if r.score is not None:
                values[r.teacher_id].append(r.score)
        else:
            values[r.teacher_id].append(100.0 if r.top_box else 0.0)
    out: dict[int, tuple[float | None, int]] = {}
    for teacher_id, n in counts.items():
        vals = values.get(teacher_id, [])
        out[teacher_id] = (sum(vals) / len(vals) if vals else None, n)
    return out
