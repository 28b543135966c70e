"""Issue 25.3: a head teacher's 工作日志本 (第十六条) and 任职证明 (第十八条) — from the CLI, from chat
by a one-time link (``日志本`` → ``/d/<token>``), and from the dashboard's teacher page — read back
with python-docx; on both backends."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field

import pytest
from click.testing import CliRunner
from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE
from docx.shared import Cm
from sqlalchemy import select

from bot.cli import main
from core.documents.logbook import merge_periods
from core.wechat.simulate import WeChatSimulator
from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    ChatLink,
    Department,
    Grade,
    LogKind,
    LogRequirement,
    SchoolClass,
    Student,
    Teacher,
    TermEvaluation,
    UserRole,
    WeChatBinding,
    WorkLogEntry,
)
from models.base import utcnow
from tests.factories import (
    make_appointment,
    make_class,
    make_department,
    make_student,
    make_teacher,
    make_term,
)
from tests.support.celery_worker import settings_env
from tests.support.dashboard import login, make_user
from tests.support.wechat import WeChatDriver

PUBLIC = "https://bzr.example.edu.cn"
D = dt.date


@dataclass
class LogSchool:
    today: dt.date
    start: dt.date
    dep: Department
    other: Department
    zhao: Teacher
    qian: Teacher
    wang: Teacher  # never appointed
    borrowed: Teacher  # 声乐系's teacher, approved to 管弦系's second class
    classes: dict[str, SchoolClass] = field(default_factory=dict)


def entry(session, teacher, kind, day, text="", cls=None, students=(), place=None):
    e = WorkLogEntry(
        teacher_id=teacher.id,
        class_id=cls.id if cls else None,
        kind=kind,
        occurred_on=day,
        text=text,
        raw=f"{kind.label} {text}",
        place=place,
    )
    e.students = list(students)
    session.add(e)
    return e


def build(session, today: dt.date) -> LogSchool:
    """赵老师: an earlier 聘期 (G2020, two years ago, ended) and the current one (G2024 from
    ``start``, 100 days ago), with entries in both; a published term graded 优秀, another
    evaluated but unpublished (良好: must not show). 钱老师 has a 聘期 of his own. The branch
    requires 3 dorm visits a month."""
    start = today - dt.timedelta(days=100)
    dep = make_department(session, name="管弦系党总支")
    other = make_department(session, name="声乐系党总支")
    g24 = make_class(session, code="G2024", name="管弦2024级", department=dep, entry_year=2024)
    g20 = make_class(session, code="G2020", name="管弦2020级", department=dep, entry_year=2020)
    g25 = make_class(session, code="G2025", name="管弦2025级", department=dep, entry_year=2025)
    zhang = make_student(session, name="张三", classes=[g24])
    zhao = make_teacher(session, name="赵老师", department=dep, staff_no="T1001")
    qian = make_teacher(session, name="钱老师", department=dep, staff_no="T1002")
    wang = make_teacher(session, name="王老师", department=dep, staff_no="T1003")
    borrowed = make_teacher(session, name="李老师", department=other, staff_no="T2001")
    old_start = start - dt.timedelta(days=730)
    make_appointment(
        session,
        teacher=zhao,
        school_class=g20,
        start_date=old_start,
        end_date=old_start + dt.timedelta(days=365),
    )
    make_appointment(session, teacher=zhao, school_class=g24, start_date=start)
    make_appointment(session, teacher=qian, school_class=g25, start_date=start)
    # 李老师 heads a 声乐系 class and, approved by Student Affairs, 管弦系's G2025 too.
    s24 = make_class(session, code="S2024", name="声乐2024级", department=other, entry_year=2024)
    make_appointment(session, teacher=borrowed, school_class=s24, start_date=start)
    make_appointment(
        session,
        teacher=borrowed,
        school_class=g25,
        start_date=start + dt.timedelta(days=1),
    )
    entry(session, zhao, LogKind.TALK, old_start + dt.timedelta(days=3), "旧聘期的谈心", g20)
    entry(session, zhao, LogKind.TALK, start + dt.timedelta(days=2), "期末复习压力大", g24, [zhang])
    entry(session, zhao, LogKind.DORM_VISIT, start + dt.timedelta(days=1), "卫生良好", g24,
          place="6号楼302")  # fmt: skip
    entry(session, zhao, LogKind.CLASS_MEETING, start + dt.timedelta(days=5), "学风建设主题班会",
          g24)  # fmt: skip
    entry(session, zhao, LogKind.AWARDS, start + dt.timedelta(days=6), "评优材料初审", g24)
    entry(session, qian, LogKind.TALK, start + dt.timedelta(days=3), "钱老师的谈心", g25)
    entry(session, borrowed, LogKind.TALK, start + dt.timedelta(days=3), "声乐班的谈心", s24)
    entry(session, borrowed, LogKind.CLASS_MEETING, start + dt.timedelta(days=4), "管弦班会", g25)
    session.add(LogRequirement(department_id=dep.id, kind=LogKind.DORM_VISIT, per_month=3))

    def term(code, lo, hi, grade, published):
        t = make_term(session, code=code, start_date=lo, end_date=hi)
        if published:
            t.published_at = utcnow()
        session.add(
            TermEvaluation(
                term_id=t.id,
                teacher_id=zhao.id,
                department_id=dep.id,
                computed_grade=grade,
            )
        )

    y = old_start.year
    term(f"{y}-{y + 1}-1", old_start, old_start + dt.timedelta(days=140), Grade.EXCELLENT, True)
    term(
        f"{y + 1}-{y + 2}-1",
        start + dt.timedelta(days=1),
        start + dt.timedelta(days=150),
        Grade.GOOD,
        False,
    )
    session.commit()
    return LogSchool(today, start, dep, other, zhao, qian, wang, borrowed, {"g24": g24, "g20": g20})


@pytest.fixture
def school(session, settings) -> LogSchool:
    return build(session, utcnow().astimezone(settings.tz).date())


@pytest.fixture
def cli(settings, monkeypatch):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BANZHUREN_REDIS_URL", raising=False)
    monkeypatch.setenv("BANZHUREN_SCHOOL_NAME", "星海音乐学院")
    return CliRunner()


def table_rows(doc, first_header: str) -> list[list[str]]:
    """The body rows of the table whose header row starts with ``first_header``."""
    for table in doc.tables:
        if table.rows[0].cells[0].text == first_header:
            return [[c.text for c in row.cells] for row in table.rows[1:]]
    raise AssertionError(f"no table headed {first_header}")


def text_of(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def check_logbook(doc, school: LogSchool, school_name: str) -> None:
    text = text_of(doc)
    assert f"{school_name}兼职班主任工作日志本" in text and "{{" not in text
    assert "赵老师" in text and "T1001" in text and "管弦系党总支" in text
    entries = table_rows(doc, "序号")
    # The current 聘期 only, by date: the old 聘期's talk is not in it.
    s = school.start
    assert [r[1] for r in entries] == [(s + dt.timedelta(days=n)).isoformat() for n in (1, 2, 5, 6)]
    assert entries[0][2:] == ["走访寝室", "管弦2024级", "地点：6号楼302；卫生良好"]
    assert entries[1][2:] == ["谈心谈话", "管弦2024级", "学生：张三；期末复习压力大"]
    assert entries[2][2] == "班会" and entries[3][2] == "评奖评优"
    assert "旧聘期的谈心" not in text and "钱老师" not in text
    counts = {r[0]: r[1:] for r in table_rows(doc, "工作类型")}
    months = (school.today.year - s.year) * 12 + school.today.month - s.month + 1
    # The branch's own requirement (3 dorm visits) over the built-in default (2).
    assert counts["走访寝室"] == ["3次", f"{3 * months}次", "1次", f"还差{3 * months - 1}次"]
    assert counts["谈心谈话"] == ["4次", f"{4 * months}次", "1次", f"还差{4 * months - 1}次"]
    assert counts["班会"][2] == "1次"
    assert f"在任{months}个月" in text and "其他工作：评奖评优 1次" in text
    # The branch's box takes a signature and a seal: at least 4 cm.
    review = next(t for t in doc.tables if t.rows[-1].cells[0].text == "党总支审核意见")
    row = review.rows[-1]
    assert row.height_rule == WD_ROW_HEIGHT_RULE.AT_LEAST and row.height >= Cm(4)
    assert "盖章" in row.cells[1].text


def test_cli_logbook_of_the_current_period(session, school, cli, tmp_path):
    result = cli.invoke(
        main, ["documents", "--kind", "logbook", "--teacher", "T1001", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert "工作日志本 1 份" in result.output
    [path] = tmp_path.glob("*.docx")
    assert path.name == f"工作日志本-T1001-赵老师-{school.start.isoformat()}.docx"
    check_logbook(Document(str(path)), school, "星海音乐学院")


def test_cli_service_record_lists_every_period_with_published_grades(
    session, school, cli, tmp_path
):
    result = cli.invoke(
        main, ["documents", "--kind", "service", "--teacher", "T1001", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    doc = Document(str(tmp_path / "任职证明-T1001-赵老师.docx"))
    text = text_of(doc)
    assert "任职证明" in text and "星海音乐学院" in text and "哈尔滨" not in text
    assert "赵老师" in text and "T1001" in text and "{{" not in text
    rows = table_rows(doc, "序号")
    assert [r[2] for r in rows] == ["管弦2020级", "管弦2024级"]
    old_start = school.start - dt.timedelta(days=730)
    y = old_start.year
    assert rows[0][1].startswith(f"{old_start.year}年{old_start.month}月{old_start.day}日 至 ")
    assert rows[0][3] == f"{y}-{y + 1}学年第一学期：优秀"
    # The later term is evaluated (良好) but not published: no grade shown.
    assert rows[1][3] == "尚无已公布的考核结果" and "良好" not in text


def test_cli_bad_input(session, school, cli, tmp_path):
    cases = [
        (["--kind", "logbook", "--teacher", "T9999"], "没有工号为 T9999 的教师"),
        (["--kind", "logbook"], "--teacher"),
        (["--kind", "service", "--teacher", "T1003"], "没有任职记录"),
        (["--kind", "logbook", "--teacher", "T1003"], "没有聘期"),
        (["--kind", "application", "--teacher", "T1001"], "--term"),
        ([], "--term"),
    ]
    for args, message in cases:
        result = cli.invoke(main, ["documents", *args, "-o", str(tmp_path)])
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    assert list(tmp_path.glob("*.docx")) == []


def test_periods_merge_when_they_touch():
    def a(start, end, cls):
        return Appointment(
            start_date=start, end_date=end, class_id=cls, status=AppointmentStatus.APPOINTED
        )

    periods = merge_periods(
        [
            a(D(2024, 9, 1), D(2025, 9, 1), 1),
            a(D(2025, 9, 2), D(2026, 9, 2), 1),  # the next day: one 聘期
            a(D(2024, 10, 1), D(2025, 3, 1), 2),
            a(D(2027, 9, 1), D(2028, 9, 1), 1),  # a gap: a new one
        ]
    )
    assert [(p.start, p.end, len(p.appointments)) for p in periods] == [
        (D(2024, 9, 1), D(2026, 9, 2), 3),
        (D(2027, 9, 1), D(2028, 9, 1), 1),
    ]


# --- from chat: a one-time link -------------------------------------------------------------


@pytest.fixture
def chat(wechat_settings, session):
    from bot import create_app

    settings = wechat_settings.with_overrides(public_url=PUBLIC)
    app = create_app(settings)
    app.config.update(TESTING=True)
    sim = WeChatSimulator(
        settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid, mode="safe"
    )
    return WeChatDriver(app.test_client(), sim)


def link_in(reply: str) -> str:
    m = re.search(re.escape(PUBLIC) + r"(/d/[A-Za-z0-9_-]+)", reply)
    assert m, reply
    return m.group(1)


def refused(response) -> bool:
    body = response.get_data(as_text=True)
    return response.status_code == 404 and "链接无效、已使用或已过期" in body


def test_link_downloads_once(session, chat, wechat_settings):
    school = build(session, utcnow().astimezone(wechat_settings.tz).date())
    chat.bind(school.zhao, openid="o-zhao")
    reply = chat("日志本", openid="o-zhao")
    assert "工作日志本" in reply and "只能下载一次" in reply, reply
    path = link_in(reply)
    token = path.rsplit("/", 1)[1]
    # Only the hash is stored.
    session.rollback()
    link = session.scalar(select(ChatLink))
    assert token not in (link.token_hash, link.openid) and len(link.token_hash) == 64
    assert link.expires_at - link.created_at <= dt.timedelta(hours=24, seconds=5)

    # A HEAD (a preview, a link checker) does not spend it.
    assert chat.client.head(path).status_code == 200
    first = chat.client.get(path)
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    assert first.mimetype.endswith("wordprocessingml.document")
    assert first.headers["Cache-Control"] == "no-store"
    check_logbook(Document(io.BytesIO(first.data)), school, wechat_settings.school_name)

    second = chat.client.get(path)
    assert refused(second)
    assert chat.client.head(path).status_code == 404
    session.rollback()  # a fresh snapshot
    actions = [a.action for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert actions.count("logbook.link") == 1 and actions.count("logbook.link_used") == 1
    assert session.scalar(select(AuditLog).where(AuditLog.action == "logbook.link")).actor == (
        "wechat:T1001"
    )


def test_expired_guessed_and_other_teachers_links(session, chat, wechat_settings):
    school = build(session, utcnow().astimezone(wechat_settings.tz).date())
    chat.bind(school.zhao, openid="o-zhao")
    chat.bind(school.qian, openid="o-qian")
    zhao_path = link_in(chat("日志本", openid="o-zhao"))
    qian_path = link_in(chat("日志本", openid="o-qian"))

    # 钱's link gives 钱's 日志本, never 赵's.
    doc = Document(io.BytesIO(chat.client.get(qian_path).data))
    text = text_of(doc)
    assert "钱老师的谈心" in text and "赵老师" not in text and "期末复习压力大" not in text

    # A guessed token, a malformed one, and a prefix of a real one: the same 404 page.
    assert refused(chat.client.get("/d/" + "A" * 43))
    assert refused(chat.client.get("/d/not-a-token"))
    assert refused(chat.client.get(zhao_path[:-1]))

    # After 24 hours the link is dead.
    session.rollback()
    link = session.scalar(select(ChatLink).where(ChatLink.openid == "o-zhao"))
    link.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert refused(chat.client.get(zhao_path))

    # A fresh link of 赵 dies when his WeChat account is unbound (someone else's phone).
    fresh = link_in(chat("日志本", openid="o-zhao"))
    chat("解绑", openid="o-zhao")
    session.rollback()
    assert session.scalar(select(WeChatBinding).where(WeChatBinding.openid == "o-zhao")) is None
    assert refused(chat.client.get(fresh))
    assert session.scalar(select(ChatLink).where(ChatLink.used_at.is_not(None))) is not None


def test_link_replies_without_public_url_or_period(session, wechat, wechat_settings):
    school = build(session, utcnow().astimezone(wechat_settings.tz).date())
    wechat.bind(school.zhao, openid="o-zhao")
    reply = wechat("日志本", openid="o-zhao")
    assert "无法生成下载链接" in reply and "党总支" in reply and "/d/" not in reply
    assert session.scalar(select(ChatLink)) is None


def test_teacher_without_period_gets_no_link(session, chat, wechat_settings):
    school = build(session, utcnow().astimezone(wechat_settings.tz).date())
    # A future appointment only: no 聘期 yet.
    make_appointment(
        session,
        teacher=school.wang,
        school_class=school.classes["g24"],
        start_date=school.today + dt.timedelta(days=30),
    )
    session.commit()
    chat.bind(school.wang, openid="o-wang")
    reply = chat("日志本", openid="o-wang")
    assert "还没有聘期" in reply and "/d/" not in reply


# --- from the dashboard ---------------------------------------------------------------------


def test_dashboard_downloads_scoped(session, school, app, client):
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "guanxian", UserRole.BRANCH, school.dep)
    make_user(session, "shengyue", UserRole.BRANCH, school.other)
    zhao, borrowed = school.zhao, school.borrowed
    login(client, "xsc")
    page = client.get(f"/dashboard/teachers/{zhao.id}").get_data(as_text=True)
    logbook_url = f"/dashboard/teachers/{zhao.id}/logbook.docx?start={school.start.isoformat()}"
    assert logbook_url in page and f"/dashboard/teachers/{zhao.id}/service.docx" in page
    response = client.get(logbook_url)
    assert response.status_code == 200
    check_logbook(Document(io.BytesIO(response.data)), school, "哈尔滨音乐学院")
    service = client.get(f"/dashboard/teachers/{zhao.id}/service.docx")
    assert "管弦2020级" in text_of(Document(io.BytesIO(service.data)))
    # The earlier 聘期's 日志本 has the earlier entry.
    old = school.start - dt.timedelta(days=730)
    earlier = client.get(f"/dashboard/teachers/{zhao.id}/logbook.docx?start={old.isoformat()}")
    assert "旧聘期的谈心" in text_of(Document(io.BytesIO(earlier.data)))
    assert (
        client.get(f"/dashboard/teachers/{zhao.id}/logbook.docx?start=2001-01-01").status_code
        == 404
    )
    assert client.get(f"/dashboard/teachers/{zhao.id}/logbook.docx?start=bad").status_code == 400
    assert client.get(f"/dashboard/teachers/{school.wang.id}/service.docx").status_code == 404

    own = app.test_client()
    login(own, "guanxian")
    assert own.get(f"/dashboard/teachers/{zhao.id}/logbook.docx").status_code == 200
    assert own.get(f"/dashboard/teachers/{zhao.id}/service.docx").status_code == 200
    # 李老师 (声乐系) is seen by 管弦系 through the approved G2025 appointment: only the
    # entries about 管弦系's class, and no 任职证明.
    foreign = own.get(f"/dashboard/teachers/{borrowed.id}/logbook.docx")
    assert foreign.status_code == 200
    text = text_of(Document(io.BytesIO(foreign.data)))
    assert "管弦班会" in text and "声乐班的谈心" not in text and "声乐2024级" not in text
    assert own.get(f"/dashboard/teachers/{borrowed.id}/service.docx").status_code == 404
    page = own.get(f"/dashboard/teachers/{borrowed.id}").get_data(as_text=True)
    assert f"/dashboard/teachers/{borrowed.id}/logbook.docx" in page
    assert f"/dashboard/teachers/{borrowed.id}/service.docx" not in page

    # 人事处: the 任职证明 (from the appointments page), never a 日志本 (work-log text).
    make_user(session, "rsc", UserRole.HR)
    hr = app.test_client()
    login(hr, "rsc")
    listing = hr.get("/dashboard/appointments").get_data(as_text=True)
    assert f"/dashboard/teachers/{zhao.id}/service.docx" in listing
    service = hr.get(f"/dashboard/teachers/{zhao.id}/service.docx")
    assert service.status_code == 200 and "优秀" in text_of(Document(io.BytesIO(service.data)))
    assert hr.get(f"/dashboard/teachers/{zhao.id}/logbook.docx").status_code == 403

    other = app.test_client()
    login(other, "shengyue")
    for url in (
        f"/dashboard/teachers/{zhao.id}/logbook.docx",
        f"/dashboard/teachers/{zhao.id}/service.docx",
    ):
        assert other.get(url).status_code == 404
    # Its own teacher: everything, both classes.
    mine = other.get(f"/dashboard/teachers/{borrowed.id}/logbook.docx")
    assert "声乐班的谈心" in text_of(Document(io.BytesIO(mine.data)))
    assert session.scalar(select(Student.id)) is not None


def test_two_downloads_at_once_one_wins(session, chat, wechat_settings):
    import threading

    school = build(session, utcnow().astimezone(wechat_settings.tz).date())
    chat.bind(school.zhao, openid="o-zhao")
    path = link_in(chat("日志本", openid="o-zhao"))
    app = chat.client.application
    statuses: list[int] = []
    barrier = threading.Barrier(4)

    def fetch():
        client = app.test_client()
        barrier.wait()
        statuses.append(client.get(path).status_code)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 404, 404, 404]
    session.rollback()
    used = session.scalars(select(AuditLog).where(AuditLog.action == "logbook.link_used")).all()
    assert len(used) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/d/",
        "/d/" + "x" * 5000,
        "/d/%00%00",
        "/d/..%2F..%2Fetc%2Fpasswd",
        "/d/" + "日志本" * 20,
        "/d/' OR 1=1 --",
        "/apply/" + "A" * 42 + "%00",
    ],
)
def test_hostile_link_paths_get_the_chinese_404(session, chat, path):
    response = chat.client.get(path)
    assert response.status_code == 404, path
    assert "链接" in response.get_data(as_text=True)
    # Posting gets no further (the form's CSRF check, or the same page).
    assert chat.client.post(path).status_code in (400, 404, 405)


def test_braces_in_what_teachers_typed_are_printed_as_typed(session, school, settings):
    from zoneinfo import ZoneInfo

    from core.documents.logbook import logbook_spec, period_starting
    from core.documents.records import Letterhead, application_spec

    typed = "{{姓名}} {{记录.日期}} {{x}}"
    entry(session, school.zhao, LogKind.TALK, school.start + dt.timedelta(days=9), typed)
    session.commit()
    letterhead = Letterhead("星海音乐学院", ZoneInfo("Asia/Shanghai"))
    period = period_starting(session, school.zhao.id, None, school.today)
    doc = Document(
        io.BytesIO(logbook_spec(session, school.zhao, period, school.today, letterhead).render())
    )
    assert typed in text_of(doc)
    a = session.scalar(select(Appointment).where(Appointment.teacher_id == school.zhao.id).limit(1))
    a.application_note = typed
    session.commit()
    form = Document(io.BytesIO(application_spec(a, school.today, letterhead).render()))
    assert typed in text_of(form)


def test_cli_logbook_of_a_terms_period_and_every_kind_of_one_teacher(
    session, school, cli, tmp_path
):
    old_start = school.start - dt.timedelta(days=730)
    y = old_start.year
    result = cli.invoke(
        main,
        ["documents", "--term", f"{y}-{y + 1}-1", "--kind", "logbook", "--teacher", "T1001",
         "-o", str(tmp_path / "old")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    [path] = (tmp_path / "old").glob("*.docx")
    text = text_of(Document(str(path)))
    assert "旧聘期的谈心" in text and "期末复习压力大" not in text
    # --teacher alone: both of the teacher's own documents.
    result = cli.invoke(main, ["documents", "--teacher", "T1001", "-o", str(tmp_path / "all")])
    assert result.exit_code == 0, result.output
    assert "工作日志本 1 份，任职证明 1 份" in result.output
    assert {p.name.split("-")[0] for p in (tmp_path / "all").glob("*.docx")} == {
        "工作日志本",
        "任职证明",
    }


def test_link_asked_through_wecom_downloads_once(session, wecom_settings):
    """Issue 25.5 meets 25.3: a head teacher on WeCom has no WeChat binding; the link holds
    while the WeCom UserId (the 工号) still names the teacher, and works once."""
    from bot import create_app
    from core.wecom.simulate import WeComSimulator
    from tests.support.wecom import WeComDriver

    settings = wecom_settings.with_overrides(public_url=PUBLIC)
    school = build(session, utcnow().astimezone(settings.tz).date())
    app = create_app(settings)
    app.config.update(TESTING=True)
    sim = WeComSimulator(
        settings.wecom_token,
        settings.wecom_aes_key,
        settings.wecom_corp_id,
        settings.wecom_agent_id,
    )
    wecom = WeComDriver(app.test_client(), sim)
    path = link_in(wecom.send("日志本", userid="T1001"))
    first = wecom.client.get(path)
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    check_logbook(Document(io.BytesIO(first.data)), school, settings.school_name)
    assert refused(wecom.client.get(path))
    # Another UserId's link never gives 赵's 日志本; once 赵's 工号 is no longer his UserId
    # (the roster gave him an explicit WeCom account), his old link is dead.
    again = link_in(wecom.send("日志本", userid="T1001"))
    session.rollback()
    zhao = session.get(Teacher, school.zhao.id)
    zhao.wecom_userid = "zhao.new"
    session.commit()
    assert refused(wecom.client.get(again))
