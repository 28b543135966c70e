"""The demo's school: engineer R's seeded sample school (``core.roster.sample``: two 党总支, six
classes, about 150 students, eight head teachers, two counsellors), seen as the people who will
talk to the bot, each with a WeChat openid, and each head teacher with a *profile* the demo
plays: how satisfied their students are and how diligently they log their work.

Two profiles exist to show 不合格: ``silent`` (never logs: 没有很好履行工作职责) and ``unhappy``
(satisfaction below 60%).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from core.roster.sample import sample_school

TERM_CODE = "2026-2027-1"
TERM_START = dt.date(2026, 9, 1)
TERM_END = dt.date(2027, 1, 20)
# The semester before, played first (closed, evaluated and published), so that the dashboard
# has trends to show, 先进 candidates (第十九条: 优秀 in two consecutive semesters) and a 荣誉证书.
EARLIER_TERM_CODE = "2025-2026-2"
EARLIER_TERM_START = dt.date(2026, 3, 1)
EARLIER_TERM_END = dt.date(2026, 7, 10)
# The 2025-2026 appointments (第十条: a year each), ending before this year's began. The 2026
# classes did not exist yet, so their head teachers then headed other classes; T2101 was new.
EARLIER_START, EARLIER_END = "2025-09-01", "2026-08-31"
EARLIER_APPOINTMENTS = (
    ("T1101", "GX2501"),
    ("T1102", "GX2301"),
    ("T1103", "GX2501"),
    ("T1104", "GX2301"),
    ("T1105", "GXT01"),
    ("T2102", "SY2301"),
    ("T2103", "SY2301"),
)
# How each teacher's earlier semester went: T1101 and T2102 優秀 twice (先进 candidates),
# T2103 良好 then 优秀 (one 优秀 semester away), T1104 logged then but no longer.
EARLIER_PROFILES = {"T1104": "good", "T2103": "good"}


@dataclass(frozen=True)
class Profile:
    """How a head teacher's term goes in the demo."""

    # Probabilities of 非常满意 / 满意 / 基本满意 / 不满意 in their students' answers.
    weights: tuple[float, float, float, float]
    # Work-log messages sent over the term (0: never logs).
    logs: int
    expected: str  # the grade the demo is built to show


PROFILES: dict[str, Profile] = {
    "excellent": Profile((0.55, 0.35, 0.08, 0.02), logs=14, expected="优秀"),
    "good": Profile((0.25, 0.50, 0.20, 0.05), logs=10, expected="良好"),
    "pass": Profile((0.08, 0.45, 0.35, 0.12), logs=7, expected="合格"),
    "silent": Profile((0.25, 0.50, 0.20, 0.05), logs=0, expected="不合格"),
    "unhappy": Profile((0.02, 0.18, 0.40, 0.40), logs=4, expected="不合格"),
}

# The sample school's head teachers by 工号 → profile.
TEACHER_PROFILES = {
    "T1101": "excellent",
    "T1102": "good",
    "T1103": "pass",
    "T1104": "silent",
    "T1105": "good",
    "T2101": "unhappy",
    "T2102": "excellent",
    "T2103": "excellent",
}


@dataclass
class Person:
    number: str  # 学号 or 工号
    name: str
    openid: str = ""
    binding_code: str = ""  # read back from the database after the import
    classes: list[str] = field(default_factory=list)


@dataclass
class HeadTeacher(Person):
    profile: str = ""
    first_year: bool = False
    final_year: bool = False
    # The earlier semester: the classes then (none: not a head teacher then) and the profile.
    earlier_classes: list[str] = field(default_factory=list)
    earlier_profile: str = ""


@dataclass
class School:
    roster: dict[str, list[dict[str, Any]]]  # sample_school(), for the roster writers
    students: list[Person]
    teachers: list[HeadTeacher]
    counsellors: list[Person]

    def students_of(self, teacher: HeadTeacher) -> list[Person]:
        return [s for s in self.students if set(s.classes) & set(teacher.classes)]

    def teachers_of(self, student: Person) -> list[HeadTeacher]:
        return [t for t in self.teachers if set(t.classes) & set(student.classes)]

    def by_profile(self, profile: str) -> list[HeadTeacher]:
        return [t for t in self.teachers if t.profile == profile]

    def earlier_students_of(self, teacher: HeadTeacher) -> list[Person]:
        return [s for s in self.students if set(s.classes) & set(teacher.earlier_classes)]

    def earlier_teachers_of(self, student: Person) -> list[HeadTeacher]:
        return [t for t in self.teachers if set(t.earlier_classes) & set(student.classes)]


def _openid(rng: random.Random) -> str:
    # Real openids are 28 characters of this alphabet, starting with "o".
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "o" + "".join(rng.choice(alphabet) for _ in range(27))


def make_school(seed: int = 2026) -> School:
    """The sample school with openids and profiles; the same seed gives the same school."""
    roster = sample_school(seed)
    current = list(roster["appointments"])
    roster["appointments"] = [
        {
            "staff_no": staff_no,
            "class_code": code,
            "start_date": EARLIER_START,
            "end_date": EARLIER_END,
            "trained": "是",
        }
        for staff_no, code in EARLIER_APPOINTMENTS
    ] + current
    rng = random.Random(seed)
    year = int(TERM_CODE[:4])
    entry = {c["code"]: int(c["entry_year"]) for c in roster["classes"]}
    students = [
        Person(s["student_no"], s["name"], classes=s["class_code"].replace("；", ";").split(";"))
        for s in roster["students"]
    ]
    teachers, counsellors = [], []
    for t in roster["teachers"]:
        if t.get("role", "班主任") == "辅导员":
            counsellors.append(Person(t["staff_no"], t["name"]))
            continue
        codes = [a["class_code"] for a in current if a["staff_no"] == t["staff_no"]]
        profile = TEACHER_PROFILES.get(t["staff_no"], "good")
        teachers.append(
            HeadTeacher(
                t["staff_no"],
                t["name"],
                classes=codes,
                profile=profile,
                earlier_classes=[c for s_, c in EARLIER_APPOINTMENTS if s_ == t["staff_no"]],
                earlier_profile=EARLIER_PROFILES.get(t["staff_no"], profile),
                first_year=any(entry[c] == year for c in codes),
                final_year=any(entry[c] == year - 3 for c in codes),
            )
        )
    for person in [*teachers, *counsellors, *students]:
        person.openid = _openid(rng)
    return School(roster, students, teachers, counsellors)
