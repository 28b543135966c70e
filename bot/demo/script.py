"""What the demo's people say, decided in advance from a seed: pure functions, no I/O.

Work-log messages carry dates spread over the term in the forms head teachers use (昨天, 前天,
11月20日, 2026-11-20, or none for today); survey answers follow each teacher's profile with
per-student variation, in the forms students type (a number, a letter, the label).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from bot.demo.school import PROFILES, HeadTeacher, School

SCALE = ("非常满意", "满意", "基本满意", "不满意")


def date_words(day: dt.date, today: dt.date, rng: random.Random) -> str:
    """How a teacher would write ``day`` at the start of a log message ("" for today)."""
    if day == today:
        return ""
    if day == today - dt.timedelta(days=1):
        return "昨天 "
    if day == today - dt.timedelta(days=2):
        return "前天 "
    if day.year == today.year and rng.random() < 0.7:
        return f"{day.month}月{day.day}日 "
    return f"{day.isoformat()} "


@dataclass(frozen=True)
class LogMessage:
    teacher: HeadTeacher
    day: dt.date
    text: str


TALK_NOTES = (
    "期末复习压力大，约好下周再聊",
    "专业课进度跟不上，建议找主科老师辅导",
    "宿舍关系紧张，已沟通化解",
    "想转专业，讲了政策和流程",
)
DORMS = ("6号楼302", "6号楼415", "3号楼208", "3号楼511", "5号楼119")
DORM_NOTES = ("卫生良好", "有违章电器，已提醒", "同学们在练琴，气氛不错", "卫生一般，要求周末整改")
MEETINGS = (
    "学风建设主题班会，全班到齐",
    "安全教育班会",
    "期中总结班会，表扬了进步同学",
    "心理健康主题班会",
)
OTHER = (
    ("实践", "组织同学到社区开展音乐进社区志愿服务"),
    ("学术活动指导", "指导同学准备室内乐比赛曲目"),
    ("班干部培养", "班委例会，布置本月工作"),
    ("综合测评", "完成本班综合测评材料审核"),
    ("评奖评优", "组织奖学金评议，结果已公示"),
)


def _names(rng: random.Random, pool: list[str], k: int) -> str:
    return " ".join(rng.sample(pool, k))


def worklog_messages(
    school: School, start: dt.date, end: dt.date, today: dt.date, seed: int = 7
) -> list[LogMessage]:
    """Every head teacher's log messages for the term up to ``today`` (or its ``end``), in
    date order per teacher, dated the way ``today``'s sender would write them."""
    rng = random.Random(seed)
    messages: list[LogMessage] = []
    last = min(today, end)
    span = max((last - start).days, 0)
    for teacher in school.teachers:
        count = PROFILES[teacher.profile].logs
        pool = [s.name for s in school.students_of(teacher)]
        days = sorted(start + dt.timedelta(days=rng.randint(0, span)) for _ in range(count))
        if count >= 3:
            # Recent days too, to show 昨天 and 前天.
            days[-1] = max(start, last - dt.timedelta(days=1))
            days[-2] = max(start, last - dt.timedelta(days=2))
        for i, day in enumerate(days):
            words = date_words(day, today, rng)
            if i == 0 and teacher.first_year:
                body = "新生入学指导 讲解了学分制和专业学习规划"
            elif i == 1 and teacher.final_year:
                body = f"就业 {rng.choice(pool)} 已签约哈尔滨交响乐团"
            elif i == 2 and teacher.final_year:
                body = f"就业指导 {rng.choice(pool)} 准备考研，推荐了复试辅导"
            elif i == 3:
                body = f"反馈 {rng.choice(pool)} 最近情绪低落，请辅导员关注"
            else:
                kind = rng.choice(("talk", "talk", "dorm", "meeting", "home", "other"))
                if kind == "talk":
                    body = f"谈心 {_names(rng, pool, rng.choice((1, 2)))} {rng.choice(TALK_NOTES)}"
                elif kind == "dorm":
                    body = f"走访寝室 {rng.choice(DORMS)} {rng.choice(DORM_NOTES)}"
                elif kind == "meeting":
                    body = f"班会 {rng.choice(MEETINGS)}"
                elif kind == "home":
                    body = f"家访 {rng.choice(pool)} 电话家访，家长支持孩子专业发展"
                else:
                    word, note = rng.choice(OTHER)
                    body = f"{word} {note}"
            messages.append(LogMessage(teacher, day, words + body))
    return messages


def answer_text(labels: list[str], choice: int, rng: random.Random) -> str:
    """How a student types option ``choice`` (1-based): mostly the number, sometimes the
    letter or the label itself."""
    r = rng.random()
    if r < 0.75:
        return str(choice)
    if r < 0.88:
        return "ABCDEFGHIJ"[choice - 1]
    return labels[choice - 1]


def scale_choice(profile: str, mood: float, rng: random.Random) -> int:
    """1-based choice on the 4-point scale for a teacher of ``profile``; ``mood`` (-1..1)
    tilts one student's answers up or down a little."""
    weights = list(PROFILES[profile].weights)
    if mood > 0:
        weights[0] += 0.1 * mood
    else:
        weights[3] += 0.05 * -mood
    return rng.choices(range(1, 5), weights=weights)[0]


COMMENTS = (
    "希望班主任多来琴房看看我们",
    "老师很负责，谢谢老师",
    "班会可以再少一点形式",
    "希望多组织一些专业交流活动",
    "老师很少联系我们",
)
