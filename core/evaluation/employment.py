"""第八条（三）就业引领: a final-year class's employment outcomes (``就业 <姓名> <结果>``) sorted into
kinds, and the class's rates, as pure functions.

The outcome is free text as the head teacher wrote it (已签约哈尔滨交响乐团, 考取研究生, 准备考研);
``classify`` reads it by keywords. 就业率 here is 毕业去向落实率 as Chinese universities report it:
students with a destination (签约就业, 升学, 灵活就业, 自主创业) over all the class's students, so a
student with no outcome recorded counts as not (yet) placed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

SIGNED = "签约就业"
FURTHER_STUDY = "升学"
FLEXIBLE = "灵活就业"
STARTUP = "自主创业"
SEEKING = "待就业"
OTHER = "其他"

KINDS = (SIGNED, FURTHER_STUDY, FLEXIBLE, STARTUP, SEEKING, OTHER)
PLACED = (SIGNED, FURTHER_STUDY, FLEXIBLE, STARTUP)

# Checked in this order: "未签约" or "准备考研" must be read as still seeking before 签约 or 考研
# words would count them as placed.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        SEEKING,
        (
            "待就业",
            "待业",
            "未就业",
            "未签约",
            "暂未",
            "尚未",
            "还没",
            "没有工作",
            "求职中",
            "正在找",
            "找工作",
            "准备考",
            "准备求职",
            "准备找",
            "备考",
            "二战",
            "未录取",
            "落榜",
        ),
    ),
    (
        FURTHER_STUDY,
        ("研究生", "读研", "保研", "考研成功", "升学", "留学", "深造", "硕士", "博士", "录取"),
    ),
    (STARTUP, ("创业", "开办", "创办")),
    (FLEXIBLE, ("灵活就业", "自由职业", "自主择业", "独立音乐人", "家教", "兼职")),
    (
        SIGNED,
        (
            "签约",
            "入职",
            "就职",
            "录用",
            "聘用",
            "受聘",
            "任教",
            "工作",
            "编制",
            "考编",
            "公务员",
            "选调",
            "入伍",
            "参军",
            "西部计划",
            "特岗",
            "三支一扶",
            "已就业",
        ),
    ),
)


def classify(outcome: str) -> str:
    """The kind of an outcome as written; OTHER when no keyword says."""
    text = "".join(outcome.split())
    for kind, words in _KEYWORDS:
        if any(w in text for w in words):
            return kind
    return OTHER


@dataclass(frozen=True)
class ClassEmployment:
    """One final-year class: its students, the outcomes recorded and the rates."""

    class_code: str
    class_name: str
    students: int
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def recorded(self) -> int:
        return sum(self.by_kind.values())

    @property
    def placed(self) -> int:
        return sum(self.by_kind.get(k, 0) for k in PLACED)

    @property
    def rate(self) -> float | None:
        """就业率 (毕业去向落实率), 0-1; None for a class with no students."""
        return self.placed / self.students if self.students else None

    def kind_rates(self) -> dict[str, float | None]:
        """Share of the class's students in each kind, 0-1."""
        return {
            k: (self.by_kind.get(k, 0) / self.students if self.students else None) for k in KINDS
        }

    def as_dict(self) -> dict:
        """JSON-safe, as stored in the evaluation's details and shown by the report and API."""
        return {
            "class_code": self.class_code,
            "class_name": self.class_name,
            "students": self.students,
            "recorded": self.recorded,
            "placed": self.placed,
            "employment_rate": self.rate,
            "by_kind": {k: self.by_kind.get(k, 0) for k in KINDS},
        }


def class_employment(
    class_code: str, class_name: str, students: int, outcomes: Iterable[str]
) -> ClassEmployment:
    """Count a class's outcomes (one per student: the latest recorded) by kind."""
    counts: dict[str, int] = {}
    for text in outcomes:
        kind = classify(text)
        counts[kind] = counts.get(kind, 0) + 1
    return ClassEmployment(class_code, class_name, students, counts)
