"""The kinds of work a head teacher logs (第八条, 第十四条, 第七条) and the words teachers use
for them. A log message starts with one of these words; the longest one wins, so that
``谈心谈话`` is not read as ``谈心`` followed by ``谈话``."""

from __future__ import annotations

from dataclasses import dataclass

from models.worklog import LogKind

# Each kind's label (models.worklog.LOG_KIND_LABELS) is accepted too; these are the other
# words for it. DESIGN.md lists the synonyms; a few more that teachers commonly write
# (综测, 宿舍, 评优 ...) are added because a refusal of an obvious word is the worse error.
SYNONYMS: dict[LogKind, tuple[str, ...]] = {
    LogKind.TALK: ("谈心", "谈话"),
    LogKind.CLASS_MEETING: ("召开班会", "开班会"),
    LogKind.DORM_VISIT: ("寝室", "查寝", "走访", "走访宿舍", "查宿舍", "宿舍"),
    LogKind.HOME_VISIT: (),
    LogKind.PRACTICE: ("实践", "志愿服务", "志愿活动"),
    LogKind.ACADEMIC: ("学术活动", "学术指导"),
    LogKind.ASSESSMENT: ("综测",),
    LogKind.AWARDS: ("评奖", "评优"),
    LogKind.DISCIPLINE: ("违纪",),
    LogKind.CADRES: ("班干部",),
    LogKind.AID: ("奖助贷补减", "资助", "助学金"),
    LogKind.FRESHMEN: ("新生指导", "入学指导"),
    LogKind.EMPLOYMENT: ("就业", "实习"),
    LogKind.STAFF_MEETING: ("例会",),
    LogKind.TRAINING: ("培训",),
    LogKind.FEEDBACK: (),
}

# The word that, followed by a student's name and a result, records an employment outcome
# (DESIGN.md: ``就业 <姓名> <结果>``).
EMPLOYMENT_OUTCOME_WORD = "就业"


@dataclass(frozen=True)
class KindMatch:
    kind: LogKind
    # The word as it appeared (after width normalisation), e.g. "查寝".
    word: str


def _all_words() -> list[tuple[str, LogKind]]:
    words: dict[str, LogKind] = {}
    for kind in LogKind:
        for word in (kind.label, *SYNONYMS[kind]):
            if word in words and words[word] != kind:
                raise ValueError(f"kind word {word!r} used for two kinds")
            words[word] = kind
    # Longest first: the first word that matches is the most specific one.
    return sorted(words.items(), key=lambda item: (-len(item[0]), item[0]))


KIND_WORDS: list[tuple[str, LogKind]] = _all_words()


def match_kind(text: str) -> KindMatch | None:
    """The kind whose word ``text`` starts with (longest word first), or None."""
    for word, kind in KIND_WORDS:
        if text.startswith(word):
            return KindMatch(kind, word)
    return None


def kind_list_text() -> str:
    """The kinds with their synonyms, for help and error replies."""
    parts = []
    for kind in LogKind:
        extra = [w for w in SYNONYMS[kind] if len(w) < len(kind.label)][:2]
        parts.append(f"{kind.label}（{'、'.join(extra)}）" if extra else kind.label)
    return "、".join(parts)
