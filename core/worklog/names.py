"""Students' names in a log message, matched against the teacher's own students.

Teachers write names with spaces, with full-width or half-width punctuation, or with nothing
between them at all (``谈心张三李四期末复习``), so names are matched greedily against the
roster, longest name first. A token that looks like a name but is none of the teacher's
students is reported, never silently dropped or silently linked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Characters that separate the leading parts of a message (after width normalisation).
SEPARATORS = " \t\r\n,，、;；:：/|。!！?？~～"
# Joining words allowed between two names ("张三和李四").
CONNECTORS = ("和", "与", "跟", "及", "同")
# Said after a name and not part of the content.
NAME_SUFFIXES = ("同学",)

_DOTS = re.compile(r"[·•‧・.．]")
_HAN = re.compile(r"^[\u4e00-\u9fff·]+$")

# Common surnames. Deliberately without the ones that mostly start ordinary words
# (安, 成, 全, 时, 明, 文 ...): a token "looks like a name" only to ask the teacher, and asking
# about 安全 or 成绩 would be noise.
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔汤常温康施牛樊葛邢齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左"
    "柳甘祝包尚符舒阮柯纪梅童凌毕季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍喻祁蒲房滕屈饶牟艾尤"
    "穆卓吉缪褚娄窦戚岑费卜晏米柏瞿桂佟臧闵苟邬卞姬栾隋刁巫寇桑郎甄丛仲虞敖巩佘迟邝"
)
COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "上官",
    "诸葛",
    "东方",
    "皇甫",
    "尉迟",
    "公孙",
    "慕容",
    "令狐",
    "夏侯",
    "长孙",
    "宇文",
    "司徒",
    "端木",
)
# Words that start with a surname character but are not names.
NOT_NAMES = {
    "高考",
    "高数",
    "金额",
    "石头",
    "白天",
    "方面",
    "方向",
    "方法",
    "黄金",
    "龙头",
    "江边",
    "常规",
    "常态",
    "康复",
    "齐全",
    "易错",
    "程度",
    "曾经",
    "钱款",
    "严重",
    "严格",
    "武术",
    "孔子",
    "周末",
    "周日",
    "周六",
    "周五",
    "周四",
    "周三",
    "周二",
    "周一",
    "周年",
    "周边",
    "于是",
    "许多",
    "许久",
    "任务",
    "任课",
    "任何",
    "余下",
    "余额",
    "马上",
    "毕业",
    "毕业生",
    "林业",
    "陆续",
    "田野",
    "管理",
    "管乐",
    "管弦乐",
    "柳琴",
    "古筝",
    "章程",
    "童声",
    "乔迁",
    "钟点",
    "钟表",
    "杜绝",
    "苏醒",
    "雷雨",
    "甘心",
    "包括",
    "尚未",
    "符合",
    "纪律",
    "纪念",
    "梅花",
    "曲目",
    "曲子",
    "游戏",
    "游泳",
    "蓝调",
    "谢谢",
    "邢台",
    "孟冬",
    "宋词",
    "唐诗",
    "郑重",
    "申请",
    "申报",
    "蒙古",
    "蒙古族",
    "付款",
    "付出",
    "叶子",
    "秦腔",
    "江苏",
    "江西",
    "黎明",
    "顾问",
    "毛病",
}
TITLE_SUFFIXES = (
    "老师",
    "同学",
    "家长",
    "书记",
    "主任",
    "辅导员",
    "院长",
    "校长",
    "教授",
    "先生",
    "女士",
)


def normalize_name(name: str) -> str:
    """A name as compared: no spaces, one kind of middle dot (阿依·买买提)."""
    return _DOTS.sub("·", "".join(name.split()))


@dataclass(frozen=True)
class RosterStudent:
    id: int
    name: str
    student_no: str
    class_id: int
    class_name: str


@dataclass
class Roster:
    """A teacher's students: by normalised name (a name may belong to several students)."""

    students: list[RosterStudent]
    by_name: dict[str, list[RosterStudent]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_name = {}
        seen: set[tuple[str, int]] = set()
        for s in self.students:
            key = normalize_name(s.name)
            # A student in two of the teacher's classes (class and ensemble) is still one.
            if (key, s.id) in seen:
                continue
            seen.add((key, s.id))
            self.by_name.setdefault(key, []).append(s)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.by_name)


def _longest_first(names: Iterable[str]) -> list[str]:
    return sorted({n for n in names if n}, key=lambda n: (-len(n), n))


def _skip(text: str, pos: int, chars: str = SEPARATORS) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _name_at(text: str, pos: int, ordered: list[str]) -> str | None:
    for name in ordered:
        if text.startswith(name, pos):
            return name
        # A name written with spaces inside ("张 三") or another dot.
        if len(name) > 1 and text[pos : pos + 1] == name[0]:
            end = pos
            i = 0
            while end < len(text) and i < len(name):
                ch = text[end]
                if ch in " \t" or (ch in "·•‧・.．" and name[i] != "·"):
                    end += 1
                    continue
                if normalize_name(ch) != name[i]:
                    break
                i += 1
                end += 1
            if i == len(name):
                return text[pos:end]
    return None


def take_names(text: str, pos: int, known_names: Iterable[str]) -> tuple[list[str], int]:
    """Read the known names starting at ``pos`` (separators, 和/与 between them, 同学 after
    them). Returns the normalised names found and the position after them (and after the
    separators that follow)."""
    ordered = _longest_first(known_names)
    found: list[str] = []
    if not ordered:
        return found, pos
    cur = pos
    while cur < len(text):
        start = cur
        if found or cur == pos:
            # 和张三 / 张三和李四: a connector counts only when a name follows it.
            for c in CONNECTORS:
                if text.startswith(c, cur) and _name_at(text, cur + len(c), ordered):
                    cur += len(c)
                    break
        written = _name_at(text, cur, ordered)
        if written is None:
            cur = start
            break
        name = normalize_name(written)
        if name not in found:
            found.append(name)
        cur += len(written)
        for suffix in NAME_SUFFIXES:
            if text.startswith(suffix, cur):
                cur += len(suffix)
        cur = _skip(text, cur)
    if not found:
        return found, pos
    return found, cur


def next_token(text: str, pos: int) -> tuple[str, int]:
    """The run of non-separator characters at ``pos`` and where it ends."""
    end = pos
    while end < len(text) and text[end] not in SEPARATORS:
        end += 1
    return text[pos:end], end


def looks_like_name(token: str) -> bool:
    """Whether a standalone token is probably a person's name (for asking, never for storing)."""
    token = normalize_name(token)
    if not _HAN.match(token) or token in NOT_NAMES:
        return False
    if any(token.endswith(t) for t in TITLE_SUFFIXES):
        return False
    if "·" in token:
        return 3 <= len(token) <= 12 and not token.startswith("·") and not token.endswith("·")
    if token[:2] in COMPOUND_SURNAMES:
        return 3 <= len(token) <= 4
    return token[0] in SURNAMES and 2 <= len(token) <= 3
