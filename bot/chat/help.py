"""Help texts by role (student, head teacher, counsellor, unbound), the welcome on subscribe,
and the short replies for messages the bot cannot read. All of DESIGN.md's chat grammar is
described here, so that 帮助 always says what the sender can do."""

from __future__ import annotations

from core.binding.service import ROLE_NAMES

BIND_HOWTO = (
    "请先绑定身份：发送「绑定 学号或工号 绑定码」，例如：\n"
    "绑定 2023010101 123456\n"
    "绑定码由辅导员发放。"
)

# With the campus login configured (issue 23): the menu's button first, the code as fallback.
CAMPUS_HOWTO = (
    "请先绑定身份：点菜单「帮助 → 绑定身份」，用学校统一身份认证账号登录一次即可。\n"
    "也可以发送「绑定 学号或工号 绑定码」（绑定码由辅导员发放），例如：\n"
    "绑定 2023010101 123456"
)


def bind_howto(campus_login: bool = False) -> str:
    """How an unbound sender binds: the campus login when it is configured, else the code."""
    return CAMPUS_HOWTO if campus_login else BIND_HOWTO


COMMON = "「帮助」查看本说明；「解绑」解除本微信与身份的绑定。"

STUDENT_HELP = (
    "学生可以：\n"
    "· 发送「测评」（或「评价」）参加本学期的兼职班主任满意度测评，一条消息一道题，逐位班主任作答；\n"
    "· 答题时回复选项的序号（1、2…）、字母（A、B…）或选项文字；\n"
    "· 「上一题」返回，「跳过」跳过选答题，「退出」暂停（已答内容会保留，再发「测评」继续）；\n"
    "· 答完后「确认」提交，或「修改 N」修改第 N 题；提交后不能再改。\n"
    "你的作答匿名保存，任何人都看不到谁答了什么。\n" + COMMON
)

HEAD_TEACHER_HELP = (
    "兼职班主任可以发送工作日志，一条消息一条记录，以工作类型开头，可在前面加日期"
    "（昨天、前天、11月20日、2026-11-20）：\n"
    "谈心 张三 李四 期末复习压力大，约好下周再聊\n"
    "昨天 走访寝室 6号楼302 卫生良好\n"
    "班会 学风建设主题班会，全班到齐\n"
    "家访 王五 电话家访，家长支持转专业\n"
    "就业 赵六 已签约哈尔滨交响乐团\n"
    "反馈 张三 最近情绪低落，请辅导员关注\n"
    "工作类型：谈心谈话（谈心、谈话）、班会、走访寝室（寝室、查寝）、家访、"
    "社会实践（实践、志愿服务）、学术活动指导、综合测评、评奖评优、违纪处理、班干部培养、"
    "资助建议（奖助贷补减）、新生入学指导、就业指导（就业、实习）、参加例会、参加培训、"
    "反馈（转给班级辅导员）。\n"
    "记录后可发照片作为附件。「撤销」删除最近一条，「我的日志」查看最近记录，"
    "「统计」查看本月和本学期的次数，「考核结果」（或「我的考核」）查看已发布的学期考核结果，"
    "「我的反馈」查看本学期反馈的处理情况（未读 / 已收到 / 已跟进），"
    "「日志本」获取本聘期工作日志本的下载链接（24小时内有效，只能下载一次），"
    "「申请」在每年的申请月份网上填写兼职班主任业务审批表。\n" + COMMON
)

COUNSELLOR_HELP = (
    "辅导员会在这里收到兼职班主任转来的学生情况反馈，每条带编号（如「反馈 #12」）。请回复：\n"
    "· 「收到」确认最新一条未确认的反馈；\n"
    "· 「收到 12 已约谈学生」确认第 12 条并附备注；\n"
    "· 「跟进 12 已联系家长，下周复查」记录跟进情况；\n"
    "· 「反馈」查看待确认的反馈。\n"
    "班主任会收到您的确认和备注；3 天未确认的反馈会提醒一次，并显示给党总支。\n" + COMMON
)

UNBOUND_HELP = "你好！这里是兼职班主任工作平台。\n" + BIND_HOWTO + "\n「帮助」查看本说明。"


UNSUPPORTED_TYPE = (
    "目前只能处理文字消息和语音消息（班主任还可以发照片）。发送「帮助」查看可以做什么。"
)
EMPTY_VOICE = "没有听清这条语音，请再说一遍，或直接打字发送。"
NOT_UNDERSTOOD = "没有看懂这条消息。"
BUSY = "系统正忙，请稍后再发一次。"
FAILED = "抱歉，处理这条消息时出错了，请稍后再试。"


def help_for(role: str | None, campus_login: bool = False) -> str:
    """The help text for ``role`` ("student", "head_teacher", "counsellor", or None = unbound;
    ``campus_login``: the unbound are shown the campus login first)."""
    if role is None and campus_login:
        return "你好！这里是兼职班主任工作平台。\n" + CAMPUS_HOWTO + "\n「帮助」查看本说明。"
    return {
        "student": STUDENT_HELP,
        "head_teacher": HEAD_TEACHER_HELP,
        "counsellor": COUNSELLOR_HELP,
    }.get(role or "", UNBOUND_HELP)


def welcome(role: str | None, name: str | None = None, campus_login: bool = False) -> str:
    """The reply to a subscribe event: how to bind, or the role's help for a bound returner."""
    if role is None:
        return "欢迎关注兼职班主任工作平台！\n" + bind_howto(campus_login) + "\n「帮助」查看说明。"
    who = f"{name}（{ROLE_NAMES[role]}）" if name else ROLE_NAMES[role]
    return f"欢迎回来，{who}！\n" + help_for(role)


def not_understood(role: str | None, campus_login: bool = False) -> str:
    return NOT_UNDERSTOOD + "\n" + help_for(role, campus_login)
