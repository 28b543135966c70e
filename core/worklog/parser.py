"""A head teacher's log message → what it says (pure; no database).

Grammar (DESIGN.md, Head teacher): ``[date] kind [names] [place] text``, e.g.
``昨天 走访寝室 6号楼302 卫生良好``. Names are matched against the names the caller knows (the
teacher's students); everything that is not the date, the kind or a leading name or place is
the content, kept exactly as written (only a trailing 。 that voice recognition adds is
dropped).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.worklog import names as names_mod
from core.worklog.dates import DateMatch, DateProblem, check_date, match_date
from core.worklog.kinds import EMPLOYMENT_OUTCOME_WORD, KindMatch, match_kind
from models.worklog import LogKind

# The longest content kept; a WeChat text message is at most 2048 characters anyway.
MAX_TEXT = 2000

EXAMPLE = "谈心 张三 期末复习压力大，约好下周再聊"
EXAMPLES: dict[LogKind, str] = {
    LogKind.TALK: EXAMPLE,
    LogKind.DORM_VISIT: "昨天 走访寝室 6号楼302 卫生良好",
    LogKind.CLASS_MEETING: "班会 学风建设主题班会，全班到齐",
    LogKind.HOME_VISIT: "家访 王五 电话家访，家长支持转专业",
    LogKind.EMPLOYMENT: "就业 赵六 已签约哈尔滨交响乐团",
    LogKind.FEEDBACK: "反馈 张三 最近情绪低落，请辅导员关注",
}

_ROOMS = r"\d{3,4}(?:\s*[、,/和及]\s*\d{3,4})*(?:\s*(?:室|寝室|宿舍))?"
_PLACE = re.compile(
    r"(?:[东西南北A-Za-z]区)?(?:学生)?(?:公寓)?"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})\s*"
    r"(?:(?:号楼|号公寓|号宿舍楼|栋|幢|舍|号舍|斋)(?:\s*-?\s*" + _ROOMS + r")?"
    r"|#\s*" + _ROOMS + r")"
)
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20
_TRAILING = " \t\r\n。"


@dataclass(frozen=True)
class ParsedEntry:
    """What a log message says. ``names`` are normalised roster names (not yet students)."""

    kind: LogKind
    # The kind word as written, e.g. 查寝 or 就业 (就业 + name + result is an outcome).
    kind_word: str
    date: dt.date
    names: tuple[str, ...]
    place: str | None
    text: str
    # A standalone token where a name would be that looks like a name but is none of the
    # teacher's students: the caller asks before storing anything. It is still in ``text``.
    unknown_name: str | None = None

    @property
    def is_employment_outcome(self) -> bool:
        """``就业 <姓名> <结果>``: a final-year student's employment result."""
        return self.kind_word == EMPLOYMENT_OUTCOME_WORD and bool(self.names) and bool(self.text)


@dataclass(frozen=True)
class ParseError:
    """Why a message cannot be stored, with an example of one that can."""

    reason: str
    example: str = EXAMPLE

    def reply(self) -> str:
        return f"没有记录：{self.reason}。\n例如：{self.example}"


def to_halfwidth(text: str) -> str:
    """Full-width ASCII and the ideographic space → half-width, one character for one, so
    positions in the result are positions in the original."""
    return text.translate(_FULLWIDTH)


_OPEN = "【[(（"
_CLOSE = "】])）"


def _starts_like_entry(line: str, today: dt.date) -> bool:
    found = match_date(line, today)
    if isinstance(found, DateMatch):
        line = line[found.length :].lstrip(names_mod.SEPARATORS)
    return match_kind(line.lstrip(_OPEN)) is not None


def _boundary(text: str, pos: int) -> bool:
    return pos >= len(text) or text[pos] in names_mod.SEPARATORS


def find_place(text: str) -> re.Match[str] | None:
    """The first dormitory / building reference (6号楼302, 6栋302, 3舍201) in ``text``."""
    for m in _PLACE.finditer(text):
        # Not the tail of a longer number (2026栋?) nor a date like 2号 (needs a suffix).
        if m.start() > 0 and text[m.start() - 1].isdigit():
            continue
        return m
    return None


def _clean_place(written: str) -> str:
    return "".join(written.split())[:100]


def parse_entry(
    message: str,
    *,
    today: dt.date,
    earliest: dt.date | None = None,
    known_names: Iterable[str] = (),
) -> ParsedEntry | ParseError:
    """Read one log message.

    ``today`` is the school's date, ``earliest`` the first day the teacher was in office (no
    entry may be dated before it), ``known_names`` the normalised names of the teacher's
    students.
    """
    original = message.strip()
    norm = to_halfwidth(original)
    problem = _message_problem(norm, today)
    if problem:
        return problem

    found = _leading_date(norm, today)
    if isinstance(found, ParseError):
        return found
    day, pos = found

    found = _kind(norm, pos, day)
    if isinstance(found, ParseError):
        return found
    kind, pos = found
    example = EXAMPLES.get(kind.kind, f"{kind.word} {EXAMPLE.split(' ', 1)[1]}")

    if day is None:
        found = _date_after_kind(norm, pos, today, example)
        if isinstance(found, ParseError):
            return found
        day, pos = found
    if day is None:
        day = today
    problem = check_date(day, today, earliest)
    if problem:
        return ParseError(problem, example)

    found_names, place, pos = _names_and_place(norm, pos, known_names)
    unknown = _unknown_name(norm, original, pos)
    text = original[pos:].rstrip(_TRAILING).strip()
    if place is None:
        m = find_place(norm[pos:])
        if m:
            place = _clean_place(m.group(0))

    problem = _content_problem(kind, found_names, place, text, unknown, example)
    if problem:
        return problem
    return ParsedEntry(
        kind=kind.kind,
        kind_word=kind.word,
        date=day,
        names=tuple(found_names),
        place=place,
        text=text,
        unknown_name=unknown,
    )


def _message_problem(norm: str, today: dt.date) -> ParseError | None:
    """An empty message, or one with more than one entry: one message, one entry (a later line
    that starts like an entry would be swallowed into this one's content)."""
    if not norm.strip(_TRAILING):
        return ParseError("消息是空的")
    for line in norm.splitlines()[1:]:
        if _starts_like_entry(line.strip(), today):
            return ParseError("一条消息只能记一条日志，请分开发送")
    return None


def _leading_date(norm: str, today: dt.date) -> tuple[dt.date | None, int] | ParseError:
    """The date the message starts with (None without one) and where what follows starts."""
    found = match_date(norm, today)
    if found is None:
        return None, 0
    if isinstance(found, DateProblem):
        return ParseError(found.reason, "11月20日 班会 学风建设主题班会")
    return found.day, names_mod._skip(norm, found.length)


def _kind(norm: str, pos: int, day: dt.date | None) -> tuple[KindMatch, int] | ParseError:
    """The kind word at ``pos``, in brackets or not (【班会】学风建设 / [谈心] 张三), and where
    what follows it starts."""
    bracketed = pos < len(norm) and norm[pos] in _OPEN
    if bracketed:
        pos += 1
    kind = match_kind(norm[pos:])
    if kind is None:
        if day is not None:
            return ParseError(
                "日期后面应当写工作类型（如 谈心、班会、走访寝室、家访）",
                "昨天 走访寝室 6号楼302 卫生良好",
            )
        return ParseError(
            "日志要以工作类型开头（如 谈心、班会、走访寝室、家访、就业、反馈），可以在前面加日期",
        )
    if bracketed:
        end = pos + len(kind.word)
        if end < len(norm) and norm[end] in _CLOSE:
            pos += 1  # the closing bracket is skipped with the kind word below
    return kind, names_mod._skip(norm, pos + len(kind.word))


def _date_after_kind(
    norm: str, pos: int, today: dt.date, example: str
) -> tuple[dt.date | None, int] | ParseError:
    """A date right after the kind ("班会 11月20日 ...") when none came before it."""
    after = match_date(norm[pos:], today)
    if after is None or not (_boundary(norm, pos + after.length) or norm[pos : pos + 1].isdigit()):
        return None, pos
    if isinstance(after, DateProblem):
        return ParseError(after.reason, example)
    assert isinstance(after, DateMatch)
    return after.day, names_mod._skip(norm, pos + after.length)


def _names_and_place(
    norm: str, pos: int, known_names: Iterable[str]
) -> tuple[list[str], str | None, int]:
    """The leading names and place, in either order, and where the content starts."""
    found_names: list[str] = []
    place: str | None = None
    while True:
        got, new_pos = names_mod.take_names(norm, pos, known_names)
        for n in got:
            if n not in found_names:
                found_names.append(n)
        pos = new_pos
        if place is None:
            m = _PLACE.match(norm, pos)
            if m and _boundary_after_place(norm, m.end()):
                place = _clean_place(m.group(0))
                pos = names_mod._skip(norm, m.end())
                continue
        if not got:
            break
    return found_names, place, pos


def _unknown_name(norm: str, original: str, pos: int) -> str | None:
    """A standalone token at ``pos`` that looks like a name (but is none of the known ones)."""
    token, token_end = names_mod.next_token(norm, pos)
    if token and _boundary(norm, token_end) and names_mod.looks_like_name(token):
        return names_mod.normalize_name(original[pos:token_end])
    return None


def _content_problem(
    kind: KindMatch,
    found_names: list[str],
    place: str | None,
    text: str,
    unknown: str | None,
    example: str,
) -> ParseError | None:
    """What the entry lacks (or has too much of) for its kind."""
    if len(text) > MAX_TEXT:
        return ParseError(
            f"内容太长（{len(text)}字），请分成几条发送，每条不超过{MAX_TEXT}字", example
        )
    if kind.kind == LogKind.FEEDBACK:
        if not found_names:
            if unknown:
                return ParseError(
                    f"“{unknown}”不是您所带班级的学生，反馈要写您班上学生的姓名", example
                )
            return ParseError("反馈要写学生姓名和情况，会转给该班辅导员", example)
        if not text:
            return ParseError("反馈要写学生的情况，会转给该班辅导员", example)
    if kind.word == EMPLOYMENT_OUTCOME_WORD and found_names and not text:
        return ParseError(
            "请写明就业结果（如 已签约某单位、考取研究生）；就业指导可写 就业指导 内容", example
        )
    if not found_names and place is None and not text:
        return ParseError(f"只写了“{kind.word}”，请写明做了什么", example)
    return None


def _boundary_after_place(text: str, pos: int) -> bool:
    # A place glued to following Chinese content ("6号楼302卫生良好") still counts: the room
    # number ends it. Only a digit or a letter straight after would make it something else.
    return pos >= len(text) or not text[pos].isascii() or not text[pos].isalnum()
