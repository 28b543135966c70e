"""What real-looking log messages must become (core/worklog/parser.py): kind, date, students,
place and content, or a refusal with its reason. Today is Thursday 26 November 2026; the
teacher has been in office since 1 September 2026."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import pytest

from core.worklog.kinds import KIND_WORDS, match_kind
from core.worklog.parser import ParsedEntry, ParseError, parse_entry
from models.worklog import LogKind as K

TODAY = dt.date(2026, 11, 26)
START = dt.date(2026, 9, 1)
ROSTER = {"张三", "李四", "王五", "赵六", "钱七", "李小", "李小红", "欧阳娜娜", "阿依·买买提"}
D = dt.date


class E(NamedTuple):
    """The entry a message must become."""

    kind: K
    date: dt.date
    names: tuple[str, ...]
    place: str | None
    text: str
    unknown: str | None = None
    outcome: bool = False


class Err(NamedTuple):
    """A refusal whose reason contains ``reason``."""

    reason: str


CASES: list[tuple[str, E | Err]] = [
    # DESIGN.md's examples
    (
        "谈心 张三 李四 期末复习压力大，约好下周再聊",
        E(K.TALK, TODAY, ("张三", "李四"), None, "期末复习压力大，约好下周再聊"),
    ),
    (
        "昨天 走访寝室 6号楼302 卫生良好",
        E(K.DORM_VISIT, D(2026, 11, 25), (), "6号楼302", "卫生良好"),
    ),
    (
        "班会 学风建设主题班会，全班到齐",
        E(K.CLASS_MEETING, TODAY, (), None, "学风建设主题班会，全班到齐"),
    ),
    (
        "家访 王五 电话家访，家长支持转专业",
        E(K.HOME_VISIT, TODAY, ("王五",), None, "电话家访，家长支持转专业"),
    ),
    (
        "就业 赵六 已签约哈尔滨交响乐团",
        E(K.EMPLOYMENT, TODAY, ("赵六",), None, "已签约哈尔滨交响乐团", outcome=True),
    ),
    (
        "反馈 张三 最近情绪低落，请辅导员关注",
        E(K.FEEDBACK, TODAY, ("张三",), None, "最近情绪低落，请辅导员关注"),
    ),
    # synonyms and labels of every kind
    ("谈心谈话 张三 学业规划", E(K.TALK, TODAY, ("张三",), None, "学业规划")),
    ("谈话 李四 迟到问题", E(K.TALK, TODAY, ("李四",), None, "迟到问题")),
    (
        "寝室 6栋302 有人使用违章电器，已提醒",
        E(K.DORM_VISIT, TODAY, (), "6栋302", "有人使用违章电器，已提醒"),
    ),
    ("查寝 3舍201 卫生较差", E(K.DORM_VISIT, TODAY, (), "3舍201", "卫生较差")),
    ("走访 6号楼 男生寝室整体良好", E(K.DORM_VISIT, TODAY, (), "6号楼", "男生寝室整体良好")),
    ("走访宿舍 8号楼512 与同学聊作息", E(K.DORM_VISIT, TODAY, (), "8号楼512", "与同学聊作息")),
    ("开班会 期末考试动员", E(K.CLASS_MEETING, TODAY, (), None, "期末考试动员")),
    ("社会实践 带学生去社区演出", E(K.PRACTICE, TODAY, (), None, "带学生去社区演出")),
    ("实践 敬老院慰问演出", E(K.PRACTICE, TODAY, (), None, "敬老院慰问演出")),
    ("志愿服务 音乐节志愿者培训", E(K.PRACTICE, TODAY, (), None, "音乐节志愿者培训")),
    ("学术活动指导 指导参加室内乐比赛", E(K.ACADEMIC, TODAY, (), None, "指导参加室内乐比赛")),
    ("学术活动 组织观摩大师课", E(K.ACADEMIC, TODAY, (), None, "组织观摩大师课")),
    ("学术指导 钱七 论文选题", E(K.ACADEMIC, TODAY, ("钱七",), None, "论文选题")),
    ("综合测评 完成本班综测材料审核", E(K.ASSESSMENT, TODAY, (), None, "完成本班综测材料审核")),
    ("综测 公示无异议", E(K.ASSESSMENT, TODAY, (), None, "公示无异议")),
    ("评奖评优 推荐张三为优秀学生干部", E(K.AWARDS, TODAY, (), None, "推荐张三为优秀学生干部")),
    ("评优 李四 三好学生", E(K.AWARDS, TODAY, ("李四",), None, "三好学生")),
    (
        "违纪处理 王五 旷课三次，已谈话教育",
        E(K.DISCIPLINE, TODAY, ("王五",), None, "旷课三次，已谈话教育"),
    ),
    ("违纪 赵六 夜不归寝", E(K.DISCIPLINE, TODAY, ("赵六",), None, "夜不归寝")),
    ("班干部培养 班委会议，明确分工", E(K.CADRES, TODAY, (), None, "班委会议，明确分工")),
    ("班干部 钱七 指导组织班级活动", E(K.CADRES, TODAY, ("钱七",), None, "指导组织班级活动")),
    (
        "资助建议 李四 家庭困难，建议一等助学金",
        E(K.AID, TODAY, ("李四",), None, "家庭困难，建议一等助学金"),
    ),
    ("奖助贷补减 审核本班助学金申请", E(K.AID, TODAY, (), None, "审核本班助学金申请")),
    ("资助 王五 申请临时困难补助", E(K.AID, TODAY, ("王五",), None, "申请临时困难补助")),
    ("新生入学指导 档案材料答疑", E(K.FRESHMEN, TODAY, (), None, "档案材料答疑")),
    ("新生指导 讲解学院规章制度", E(K.FRESHMEN, TODAY, (), None, "讲解学院规章制度")),
    ("入学指导 张三 转档手续", E(K.FRESHMEN, TODAY, ("张三",), None, "转档手续")),
    ("就业指导 简历制作讲座", E(K.EMPLOYMENT, TODAY, (), None, "简历制作讲座")),
    ("就业 双选会信息已发到班级群", E(K.EMPLOYMENT, TODAY, (), None, "双选会信息已发到班级群")),
    ("实习 赵六 在乐团实习情况良好", E(K.EMPLOYMENT, TODAY, ("赵六",), None, "在乐团实习情况良好")),
    ("就业指导 赵六 模拟面试", E(K.EMPLOYMENT, TODAY, ("赵六",), None, "模拟面试")),
    ("参加例会 党总支11月例会", E(K.STAFF_MEETING, TODAY, (), None, "党总支11月例会")),
    ("例会 传达学生处文件精神", E(K.STAFF_MEETING, TODAY, (), None, "传达学生处文件精神")),
    ("参加培训 学院兼职班主任培训会", E(K.TRAINING, TODAY, (), None, "学院兼职班主任培训会")),
    ("培训 心理健康教育专题", E(K.TRAINING, TODAY, (), None, "心理健康教育专题")),
    # dates in every form
    (
        "前天 家访 王五 家长反映孩子想家",
        E(K.HOME_VISIT, D(2026, 11, 24), ("王五",), None, "家长反映孩子想家"),
    ),
    ("上周五 例会 总结期中工作", E(K.STAFF_MEETING, D(2026, 11, 20), (), None, "总结期中工作")),
    ("上周一 班会 安全教育", E(K.CLASS_MEETING, D(2026, 11, 16), (), None, "安全教育")),
    ("本周三 谈心 李四 专业课压力", E(K.TALK, D(2026, 11, 25), ("李四",), None, "专业课压力")),
    ("11月20日 谈心 张三 期中成绩", E(K.TALK, D(2026, 11, 20), ("张三",), None, "期中成绩")),
    ("11月20号谈心张三期中成绩", E(K.TALK, D(2026, 11, 20), ("张三",), None, "期中成绩")),
    ("11.20 查寝 6号楼302", E(K.DORM_VISIT, D(2026, 11, 20), (), "6号楼302", "")),
    ("11/20 班会 消防演练", E(K.CLASS_MEETING, D(2026, 11, 20), (), None, "消防演练")),
    (
        "2026-11-20 家访 赵六 家长同意考研",
        E(K.HOME_VISIT, D(2026, 11, 20), ("赵六",), None, "家长同意考研"),
    ),
    ("2026年11月20日 培训 岗前培训", E(K.TRAINING, D(2026, 11, 20), (), None, "岗前培训")),
    ("2026年9月1日 新生入学指导 报到答疑", E(K.FRESHMEN, D(2026, 9, 1), (), None, "报到答疑")),
    ("班会 11月20日 学风建设", E(K.CLASS_MEETING, D(2026, 11, 20), (), None, "学风建设")),
    ("昨晚查寝 6号楼 都按时归寝", E(K.DORM_VISIT, D(2026, 11, 25), (), "6号楼", "都按时归寝")),
    # full-width punctuation and spaces, no spaces at all
    ("谈心：张三，李四，期末复习", E(K.TALK, TODAY, ("张三", "李四"), None, "期末复习")),
    ("谈心　张三、李四　期末复习", E(K.TALK, TODAY, ("张三", "李四"), None, "期末复习")),
    ("谈心,张三;李四:期末复习", E(K.TALK, TODAY, ("张三", "李四"), None, "期末复习")),
    ("谈心张三期末复习", E(K.TALK, TODAY, ("张三",), None, "期末复习")),
    ("谈心张三李四期末复习压力大", E(K.TALK, TODAY, ("张三", "李四"), None, "期末复习压力大")),
    ("谈心李小红期末复习", E(K.TALK, TODAY, ("李小红",), None, "期末复习")),  # longest name first
    ("谈心 李小 期末复习", E(K.TALK, TODAY, ("李小",), None, "期末复习")),
    ("谈心 张三和李四 宿舍矛盾", E(K.TALK, TODAY, ("张三", "李四"), None, "宿舍矛盾")),
    ("谈心 和张三聊期末复习", E(K.TALK, TODAY, ("张三",), None, "聊期末复习")),
    ("谈心 张三同学 学习态度", E(K.TALK, TODAY, ("张三",), None, "学习态度")),
    ("谈话 欧阳娜娜 专业选择", E(K.TALK, TODAY, ("欧阳娜娜",), None, "专业选择")),
    ("谈话 阿依·买买提 生活适应", E(K.TALK, TODAY, ("阿依·买买提",), None, "生活适应")),
    ("谈话 阿依•买买提 生活适应", E(K.TALK, TODAY, ("阿依·买买提",), None, "生活适应")),
    ("查寝６号楼３０２卫生良好", E(K.DORM_VISIT, TODAY, (), "6号楼302", "卫生良好")),
    (
        "走访寝室 6号楼302 张三 李四 作息不规律",
        E(K.DORM_VISIT, TODAY, ("张三", "李四"), "6号楼302", "作息不规律"),
    ),
    ("查寝 6栋302、303 卫生良好", E(K.DORM_VISIT, TODAY, (), "6栋302、303", "卫生良好")),
    (
        "走访寝室 检查了6号楼302的用电安全",
        E(K.DORM_VISIT, TODAY, (), "6号楼302", "检查了6号楼302的用电安全"),
    ),
    (
        "查寝 15栋525 English 演讲比赛辅导",
        E(K.DORM_VISIT, TODAY, (), "15栋525", "English 演讲比赛辅导"),
    ),
    ("查寝 6号楼 302室 已整改", E(K.DORM_VISIT, TODAY, (), "6号楼302室", "已整改")),
    ("【班会】学风建设主题班会", E(K.CLASS_MEETING, TODAY, (), None, "学风建设主题班会")),
    ("昨天[谈心] 张三 期末复习", E(K.TALK, D(2026, 11, 25), ("张三",), None, "期末复习")),
    ("11月20日晚 查寝 6号楼 按时归寝", E(K.DORM_VISIT, D(2026, 11, 20), (), "6号楼", "按时归寝")),
    ("今天下午 例会 布置期末工作", E(K.STAFF_MEETING, TODAY, (), None, "布置期末工作")),
    (
        "班会 学风建设\n到会38人，请假2人",
        E(K.CLASS_MEETING, TODAY, (), None, "学风建设\n到会38人，请假2人"),
    ),
    ("谈心 张三 期末复习\n查寝 6号楼302 卫生良好", Err("一条消息只能记一条日志")),
    ("谈心 张三 期末复习\n昨天 班会 学风建设", Err("一条消息只能记一条日志")),
    # voice recognition style
    (
        "昨天走访寝室，6号楼302，卫生良好。",
        E(K.DORM_VISIT, D(2026, 11, 25), (), "6号楼302", "卫生良好"),
    ),
    (
        "谈心张三，期末复习压力大，约好下周再聊。",
        E(K.TALK, TODAY, ("张三",), None, "期末复习压力大，约好下周再聊"),
    ),
    (
        "前天，家访，王五，家长支持转专业。",
        E(K.HOME_VISIT, D(2026, 11, 24), ("王五",), None, "家长支持转专业"),
    ),
    ("班会，学风建设主题班会。", E(K.CLASS_MEETING, TODAY, (), None, "学风建设主题班会")),
    # names that are not the teacher's students
    ("谈心 王小明 期末复习", E(K.TALK, TODAY, (), None, "王小明 期末复习", unknown="王小明")),
    (
        "谈心 张三 王小明 期末复习",
        E(K.TALK, TODAY, ("张三",), None, "王小明 期末复习", unknown="王小明"),
    ),
    (
        "家访 欧阳小明 家长反映",
        E(K.HOME_VISIT, TODAY, (), None, "欧阳小明 家长反映", unknown="欧阳小明"),
    ),
    ("就业 孙小美 已签约", E(K.EMPLOYMENT, TODAY, (), None, "孙小美 已签约", unknown="孙小美")),
    ("班会 王老师 主讲安全教育", E(K.CLASS_MEETING, TODAY, (), None, "王老师 主讲安全教育")),
    ("谈心 高考 志愿填报经验分享", E(K.TALK, TODAY, (), None, "高考 志愿填报经验分享")),
    ("谈心 期末复习压力大", E(K.TALK, TODAY, (), None, "期末复习压力大")),
    ("反馈 王小明 情绪低落", Err("“王小明”不是您所带班级的学生")),
    # future dates, dates before the appointment, impossible dates
    ("明天 班会 期末动员", Err("11月27日还没到（今天是11月26日），只能记录已经做过的工作")),
    ("后天 谈心 张三 期末", Err("11月28日还没到")),
    ("班会 明天 期末动员", Err("11月27日还没到")),
    ("12月5日 谈心 张三 期末", Err("12月5日还没到")),
    ("2026-11-27 班会 期末动员", Err("11月27日还没到")),
    ("2026-08-31 谈心 张三 暑期返校", Err("早于您的聘任开始日期（2026年9月1日）")),
    ("2025年11月20日 谈心 张三 期末", Err("2025年11月20日早于您的聘任开始日期")),
    ("2月30日 班会 学风建设", Err("没有2月30日这一天")),
    ("班会 2026-11-30 期末动员", Err("11月30日还没到")),
    # empty content and unreadable messages
    ("", Err("消息是空的")),
    ("。", Err("消息是空的")),
    ("谈心", Err("只写了“谈心”")),
    ("昨天 班会", Err("只写了“班会”")),
    ("谈心 张三", E(K.TALK, TODAY, ("张三",), None, "")),
    ("查寝 6号楼302", E(K.DORM_VISIT, TODAY, (), "6号楼302", "")),
    ("反馈 张三", Err("反馈要写学生的情况")),
    ("反馈 情绪低落", Err("反馈要写学生姓名")),
    ("就业 赵六", Err("请写明就业结果")),
    ("今天和张三谈心了", Err("日期后面应当写工作类型")),
    ("和张三谈心了", Err("日志要以工作类型开头")),
    ("6号楼302 查寝", Err("日志要以工作类型开头")),
    ("开会", Err("日志要以工作类型开头")),
]


def _as_expected(result: ParsedEntry | ParseError) -> E | ParseError:
    if isinstance(result, ParseError):
        return result
    return E(
        result.kind,
        result.date,
        result.names,
        result.place,
        result.text,
        result.unknown_name,
        result.is_employment_outcome,
    )


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert len({m for m, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[m or "<empty>" for m, _ in CASES])
def test_message(message: str, expected: E | Err) -> None:
    result = parse_entry(message, today=TODAY, earliest=START, known_names=ROSTER)
    got = _as_expected(result)
    if isinstance(expected, Err):
        assert isinstance(got, ParseError), f"expected a refusal, got {got}"
        assert expected.reason in got.reason
        assert got.example  # every refusal shows a message that works
        reply = got.reply()
        assert reply.startswith("没有记录：") and "例如：" in reply
    else:
        assert got == expected


def test_the_example_of_every_refusal_parses() -> None:
    for message, expected in CASES:
        if isinstance(expected, Err):
            result = parse_entry(message, today=TODAY, earliest=START, known_names=ROSTER)
            assert isinstance(result, ParseError)
            example = parse_entry(result.example, today=TODAY, earliest=START, known_names=ROSTER)
            assert isinstance(example, ParsedEntry), result.example


def test_longest_kind_word_wins() -> None:
    assert match_kind("谈心谈话 张三").word == "谈心谈话"
    assert match_kind("学术活动指导 x").word == "学术活动指导"
    assert match_kind("走访寝室 x").word == "走访寝室"
    assert match_kind("走访 x").kind == K.DORM_VISIT
    lengths = [len(w) for w, _ in KIND_WORDS]
    assert lengths == sorted(lengths, reverse=True)


def test_every_kind_has_its_label_as_a_word() -> None:
    for kind in K:
        assert match_kind(kind.label).kind == kind


def test_without_a_roster_names_stay_in_the_text() -> None:
    result = parse_entry("谈心 张三 期末复习", today=TODAY, earliest=START, known_names=())
    assert isinstance(result, ParsedEntry)
    assert result.names == ()
    assert result.unknown_name == "张三"
    assert result.text == "张三 期末复习"


def test_content_is_kept_as_written() -> None:
    message = "班会　学风建设（第二次），全班到齐；另有2人请假！"
    result = parse_entry(message, today=TODAY, earliest=START, known_names=ROSTER)
    assert isinstance(result, ParsedEntry)
    assert result.text == "学风建设（第二次），全班到齐；另有2人请假！"


def test_too_long_content_is_refused() -> None:
    result = parse_entry("班会 " + "很" * 2001, today=TODAY, earliest=START, known_names=ROSTER)
    assert isinstance(result, ParseError)
    assert "内容太长" in result.reason
