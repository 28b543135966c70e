"""Done-criterion of the work log: 1,000 log messages from 50 head teachers, written the many
ways teachers write them (dates in every form, synonyms, full-width punctuation and spaces, no
spaces at all, voice recognition with its trailing 。), sent through ``/wechat`` exactly as
WeChat sends them (safe mode), interleaved between teachers. Every message must be stored
exactly as it said: kind, date, students, place and content, and answered with that.

The expected values are built by the generator from the parts it put into each message, not
by the parser under test.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core.worklog.dates import format_day
from models import WorkLogEntry
from models.base import utcnow
from models.worklog import LOG_KIND_LABELS, LogKind
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
)

TEACHERS = 50
MESSAGES = 1000
STUDENTS_PER_CLASS = 12
SEED = 20261126

# Every word a teacher may start with, per kind (labels and synonyms of DESIGN.md and more).
WORDS: dict[LogKind, tuple[str, ...]] = {
    LogKind.TALK: ("谈心谈话", "谈心", "谈话"),
    LogKind.CLASS_MEETING: ("班会", "开班会"),
    LogKind.DORM_VISIT: ("走访寝室", "寝室", "查寝", "走访"),
    LogKind.HOME_VISIT: ("家访",),
    LogKind.PRACTICE: ("社会实践", "实践", "志愿服务"),
    LogKind.ACADEMIC: ("学术活动指导", "学术活动", "学术指导"),
    LogKind.ASSESSMENT: ("综合测评", "综测"),
    LogKind.AWARDS: ("评奖评优", "评优"),
    LogKind.DISCIPLINE: ("违纪处理", "违纪"),
    LogKind.CADRES: ("班干部培养", "班干部"),
    LogKind.AID: ("资助建议", "奖助贷补减", "资助"),
    LogKind.FRESHMEN: ("新生入学指导", "新生指导", "入学指导"),
    LogKind.EMPLOYMENT: ("就业指导", "就业", "实习"),
    LogKind.STAFF_MEETING: ("参加例会", "例会"),
    LogKind.TRAINING: ("参加培训", "培训"),
    LogKind.FEEDBACK: ("反馈",),
}
# Contents as teachers write them; none starts with a name, a date, a building or a word
# that would lengthen the kind word before it.
CONTENTS = (
    "期末复习压力大，约好下周再聊",
    "卫生良好",
    "学风建设主题班会，全班到齐",
    "电话沟通，家长支持转专业",
    "讲解简历制作和面试礼仪",
    "作息不规律，已提醒按时休息",
    "带领同学到社区敬老院演出",
    "辅导准备室内乐比赛曲目",
    "审核综测加分材料，无异议",
    "推荐参评优秀学生干部",
    "旷课两次，已谈话教育并告知家长",
    "班委分工明确，下月轮岗",
    "家庭经济困难，建议评定一等助学金",
    "报到材料答疑，档案转接手续已办好",
    "党总支例会，传达学生处文件精神",
    "心理健康教育专题（线上）",
    "最近情绪低落，请辅导员关注！",
    "约定每周汇报一次练琴进度",
    "发现违章电器，已没收并教育",
    "English 演讲比赛辅导 2 次",
)
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张孔曹严华金魏陶姜"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红"
WEEKDAYS = "一二三四五六日"


@dataclass
class Expected:
    openid: str
    teacher_id: int
    message: str
    voice: bool
    kind: LogKind
    date: dt.date
    students: list[int]
    names: list[str]
    place: str | None
    text: str


def build(session: Session, today: dt.date, rng: random.Random):
    """50 head teachers, each with a class of 12 (every fifth a second class too)."""
    year = today.year if today.month >= 9 else today.year - 1
    dep = make_department(session, name="e2e党总支")
    teachers = []
    for t in range(TEACHERS):
        teacher = make_teacher(session, name=f"班主任{t}", staff_no=f"E2E{t:03d}")
        classes = [make_class(session, department=dep, entry_year=year - rng.randrange(4))]
        if t % 5 == 0:
            classes.append(make_class(session, department=dep, entry_year=year - rng.randrange(4)))
        names: set[str] = set()
        roster = []
        for school_class in classes:
            make_appointment(
                session,
                teacher=teacher,
                school_class=school_class,
                start_date=today - dt.timedelta(days=90),
            )
            for _ in range(STUDENTS_PER_CLASS):
                while True:
                    name = rng.choice(SURNAMES) + "".join(
                        rng.choice(GIVEN) for _ in range(rng.choice((1, 1, 2)))
                    )
                    # Unique within the teacher's students (shared names are asked about,
                    # which test_worklog_chat covers) and never one name inside another.
                    if all(name not in n and n not in name for n in names):
                        break
                names.add(name)
                roster.append(make_student(session, name=name, classes=[school_class]))
        teachers.append((teacher, roster))
    session.commit()
    return teachers


def date_part(rng: random.Random, today: dt.date) -> tuple[str, dt.date, bool]:
    """(written, day, may_follow_the_kind)."""
    form = rng.randrange(9)
    if form == 0:
        return "", today, True
    if form == 1:
        return "今天", today, True
    back = rng.randrange(0, 60)
    day = today - dt.timedelta(days=back)
    if form == 2:
        offset = {"今天": 0, "昨天": 1, "前天": 2}
        word = rng.choice(list(offset))
        return word, today - dt.timedelta(days=offset[word]), False
    if form == 3:
        return f"{day.month}月{day.day}日", day, True
    if form == 4:
        return f"{day.month}.{day.day}", day, True
    if form == 5:
        return f"{day.month}/{day.day}", day, True
    if form == 6:
        return day.isoformat(), day, True
    if form == 7:
        return f"{day.year}年{day.month}月{day.day}日", day, True
    weekday = rng.randrange(7)
    monday = today - dt.timedelta(days=today.weekday())
    return f"上周{WEEKDAYS[weekday]}", monday - dt.timedelta(days=7 - weekday), False


def make_message(rng: random.Random, today: dt.date, teacher, roster, openid: str) -> Expected:
    kind = rng.choice(list(LogKind))
    word = rng.choice(WORDS[kind])
    style = rng.choice(("space", "space", "fullwidth", "comma", "tight", "voice"))
    voice = style == "voice"

    count = rng.choice((0, 0, 1, 1, 2, 3))
    if kind == LogKind.FEEDBACK:
        count = max(count, 1)
    students = rng.sample(roster, count)
    place = None
    if kind == LogKind.DORM_VISIT and rng.random() < 0.7:
        building, room = rng.randrange(1, 20), rng.randrange(101, 720)
        place = rng.choice((f"{building}号楼{room}", f"{building}栋{room}", f"{building}舍{room}"))
    text = rng.choice(CONTENTS)
    if (students or place) and kind != LogKind.FEEDBACK and word != "就业" and rng.random() < 0.1:
        text = ""

    date_written, day, may_follow = date_part(rng, today)
    after_kind = bool(date_written) and may_follow and style != "tight" and rng.random() < 0.2

    sep = {"space": " ", "fullwidth": "\u3000", "comma": "，", "tight": "", "voice": "，"}[style]
    name_sep = {"space": " ", "fullwidth": "、", "comma": "、", "tight": "", "voice": ""}[style]
    head = [word]
    if date_written and after_kind:
        head.append(date_written)
    parts = [sep.join(head)] if not (date_written and not after_kind) else []
    if date_written and not after_kind:
        # A date before the kind: separated, or glued to it ("昨天走访寝室").
        glue = "" if style in ("tight", "voice") else sep
        parts = [date_written + glue + word]
    if students:
        parts.append(name_sep.join(s.name for s in students))
    if place:
        parts.append(place)
    if text:
        parts.append(text)
    if style == "tight" and place and text and text[0].isascii():
        # "6号楼302English" would be a room number running into a word: a space is needed.
        parts[-2:] = [parts[-2] + " " + parts[-1]]
    message = sep.join(parts)
    if voice:
        # Recognition ends a sentence with 。; the webhook drops trailing punctuation of voice
        # text (a recognised "！。" loses both), so the content is stored without it.
        message += "。"
        text = text.rstrip("！")
    return Expected(
        openid=openid,
        teacher_id=teacher.id,
        message=message,
        voice=voice,
        kind=kind,
        date=day,
        students=[s.id for s in students],
        names=[s.name for s in students],
        place=place,
        text=text,
    )


def expected_reply_head(e: Expected, today: dt.date) -> str:
    parts = [f"{format_day(e.date, today)} {LOG_KIND_LABELS[e.kind]}"]
    if e.names:
        parts.append("学生：" + "、".join(e.names))
    if e.place:
        parts.append(f"地点：{e.place}")
    if e.text:
        parts.append(f"内容：{e.text}")
    return "已记录：" + "｜".join(parts)


@pytest.mark.slow
def test_thousand_messages_from_fifty_teachers(session, wechat, wechat_settings):
    rng = random.Random(SEED)
    today = utcnow().astimezone(wechat_settings.tz).date()
    teachers = build(session, today, rng)
    for i, (teacher, _roster) in enumerate(teachers):
        wechat.bind(teacher, openid=f"o-e2e-{i}")

    plan = [
        make_message(rng, today, teacher, roster, f"o-e2e-{i % TEACHERS}")
        for i, (teacher, roster) in ((n, teachers[n % TEACHERS]) for n in range(MESSAGES))
    ]
    rng.shuffle(plan)

    wrong_replies = []
    for e in plan:
        if e.voice:
            reply = wechat.voice(e.message, openid=e.openid)
        else:
            reply = wechat.send(e.message, openid=e.openid)
        if reply.split("\n")[0] != expected_reply_head(e, today):
            wrong_replies.append((e.message, reply, expected_reply_head(e, today)))
    assert wrong_replies == []

    session.expire_all()
    stored = list(
        session.scalars(
            select(WorkLogEntry)
            .order_by(WorkLogEntry.id)
            .options(selectinload(WorkLogEntry.students))
        )
    )
    assert len(stored) == MESSAGES
    by_teacher: dict[int, list[WorkLogEntry]] = {}
    for entry in stored:
        by_teacher.setdefault(entry.teacher_id, []).append(entry)
    wanted: dict[int, list[Expected]] = {}
    for e in plan:
        wanted.setdefault(e.teacher_id, []).append(e)
    assert sorted(by_teacher) == sorted(wanted)
    mismatches = []
    for teacher_id, expected in wanted.items():
        for e, entry in zip(expected, by_teacher[teacher_id], strict=True):
            got = (
                entry.kind,
                entry.occurred_on,
                sorted(s.id for s in entry.students),
                entry.place,
                entry.text,
                entry.raw,
                entry.source,
            )
            want = (
                e.kind,
                e.date,
                sorted(e.students),
                e.place,
                e.text,
                e.message.rstrip("。！") if e.voice else e.message,
                "voice" if e.voice else "text",
            )
            if got != want:
                mismatches.append((e.message, got, want))
    assert mismatches == []


def test_commands_photos_and_questions_through_the_webhook(session, wechat, wechat_settings):
    """The router hands a head teacher's texts, voice, photos and menu clicks to the work log."""
    today = utcnow().astimezone(wechat_settings.tz).date()
    dep = make_department(session)
    school_class = make_class(session, department=dep, entry_year=today.year - 1)
    teacher = make_teacher(session, name="吴老师")
    make_appointment(
        session,
        teacher=teacher,
        school_class=school_class,
        start_date=today - dt.timedelta(days=30),
    )
    for name, number in (("张伟", "A1"), ("张伟", "A2"), ("李娜", "A3")):
        make_student(session, name=name, student_no=number, classes=[school_class])
    session.commit()
    wechat.bind(teacher, openid="o-wu")

    def say(text: str) -> str:
        return wechat.send(text, openid="o-wu")

    reply = say("谈心 张伟 李娜 期末复习")
    assert reply.startswith("您的学生中有2位叫张伟")
    reply = say("2")
    assert reply == f"已记录：{format_day(today, today)} 谈心谈话｜学生：张伟、李娜｜内容：期末复习"
    assert wechat.image(openid="o-wu", media_id="M1").startswith("照片已附在日志上")
    assert wechat.voice("查寝，6号楼302，卫生良好。", openid="o-wu").startswith("已记录：")
    logs = wechat.event("CLICK", "MY_LOGS", openid="o-wu")
    assert logs.startswith("最近的工作日志")
    assert "走访寝室｜地点：6号楼302｜卫生良好" in logs
    stats = wechat.event("CLICK", "STATS", openid="o-wu")
    assert "走访寝室 1/2，还差1次" in stats
    assert say("撤销").startswith("已撤销：")
    assert say("明天 班会 期末动员").startswith("没有记录：")
    session.expire_all()
    [entry] = session.scalars(select(WorkLogEntry).options(selectinload(WorkLogEntry.students)))
    assert [s.student_no for s in entry.students] == ["A2", "A3"]
    assert [a.media_id for a in entry.attachments] == ["M1"]
