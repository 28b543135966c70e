"""Why a free-text comment must be held for review: pure, no database.

A comment is held when it names a student of the teacher's classes (the class roster's names),
holds a mobile number (1[3-9] and nine more digits), a landline (an area code 0xx(x) with 7 or
8 digits, or 7-8 digits on their own), a 学号 of the roster, or any long run of digits (a 学号
or an ID number the roster does not know). Digits are read after NFKC (full-width digits are
digits) with spaces, hyphens and dots between digits removed, so 138 1234 5678 is still a phone
number.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

MOBILE = re.compile(r"(?<!\d)(?:0?86)?1[3-9]\d{9}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)(?:0\d{2,3})?[2-9]\d{6,7}(?!\d)")
# A 学号, an ID card or a bank number: eight or more digits together.
LONG_DIGITS = re.compile(r"\d{8,}")
DIGIT_RUN = re.compile(r"\d+")
# Between two digits, these do not break a number as people write one.
_JOINERS = re.compile(r"(?<=\d)[\s\-‐‑–—.·()（）]+(?=\d)")
_INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060\ufeff]")

NAME = "提到本班学生姓名"
MOBILE_LABEL = "含手机号"
LANDLINE_LABEL = "含电话号码"
STUDENT_NO = "含学号"
LONG_NUMBER = "含长串数字"


@dataclass(frozen=True)
class Hold:
    """One reason to hold a comment, with what matched (shown to Student Affairs only)."""

    label: str
    match: str

    def __str__(self) -> str:
        return f"{self.label}「{self.match}」"


def normalise(text: str) -> str:
    """NFKC, invisible marks dropped, separators inside numbers removed."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return _JOINERS.sub("", text)


def name_forms(name: str) -> set[str]:
    """How a comment may name a student: the full name, and for names of three or more
    characters the given name (李明华 → 明华; 欧阳娜娜 → 阳娜娜 and 娜娜: a compound surname
    cannot be told from the name alone), which classmates use."""
    name = re.sub(r"\s+", "", unicodedata.normalize("NFKC", name))
    forms = {name} if len(name) >= 2 else set()
    if len(name) >= 3:
        forms.add(name[1:])
        forms.add(name[-2:])
    return forms


def hold_reasons(
    text: str, names: Iterable[str] = (), student_nos: Iterable[str] = ()
) -> list[Hold]:
    """Every reason to hold ``text``; empty when it may be shown after an ordinary review.
    ``names``: the class roster's names; ``student_nos``: roster 学号 (any length)."""
    plain = normalise(text)
    compact = re.sub(r"\s+", "", plain)
    holds: list[Hold] = []
    seen: set[tuple[str, str]] = set()

    def add(label: str, match: str) -> None:
        if (label, match) not in seen:
            seen.add((label, match))
            holds.append(Hold(label, match))

    for name in sorted(set(names)):
        for form in sorted(name_forms(name), key=len, reverse=True):
            if form in compact:
                add(NAME, form)
                break
    for m in MOBILE.finditer(plain):
        add(MOBILE_LABEL, m.group())
    for m in LANDLINE.finditer(plain):
        if not MOBILE.fullmatch(m.group()):
            add(LANDLINE_LABEL, m.group())
    numbers = {n for n in student_nos if n}
    for m in DIGIT_RUN.finditer(plain):
        run = m.group()
        if run in numbers:
            add(STUDENT_NO, run)
        elif (
            LONG_DIGITS.fullmatch(run)
            and not MOBILE.fullmatch(run)
            and not any(h.match == run for h in holds)
        ):
            add(LONG_NUMBER, run)
    # 学号 with letters (S2026001): matched as written.
    for n in sorted(numbers):
        if not n.isdigit() and len(n) >= 4 and n.upper() in plain.upper():
            add(STUDENT_NO, n)
    return holds
