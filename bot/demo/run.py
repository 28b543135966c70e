"""The demo in order: a fresh database, the roster, the term, the survey, the web app, then one
term of chat through ``/wechat``, meetings, the evaluation and the report.

Every administrative step is the ``banzhuren`` command a user would type, run as a subprocess
with the demo's environment; every chat message goes through the real webhook over HTTP.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import random
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

import core.db
import surveys.definition
from bot.demo.campus import bind_by_campus_login
from bot.demo.fake_cas import FakeCas
from bot.demo.fake_wechat import FakeWeChatApi
from bot.demo.fake_wecom import FakeWeComApi
from bot.demo.player import YES_RATE, Player, Transcript, take_survey
from bot.demo.school import (
    EARLIER_TERM_CODE,
    EARLIER_TERM_END,
    EARLIER_TERM_START,
    PROFILES,
    TERM_CODE,
    TERM_END,
    TERM_START,
    School,
    make_school,
)
from bot.demo.script import COMMENTS, scale_choice, worklog_messages
from bot.demo.servers import (
    DemoError,
    WebServer,
    free_port,
    port_in_use,
    run_cli,
    start_web,
    start_worker,
    stop_process,
)
from core.comments.review import review_counts, show_unheld
from core.evaluation.awards import award_candidates, grant_award
from core.settings import Settings, load_settings
from core.surveys.submission import answer_values, store_submission
from models import (
    LogKind,
    Meeting,
    MeetingKind,
    Response,
    SchoolClass,
    SealedEnvelope,
    Student,
    SurveyRound,
    Teacher,
    Term,
    WeChatBinding,
    WorkLogEntry,
)
from models.term import require_term
from surveys import scoring

SQLITE_FILE = "banzhuren-demo.db"
ROSTER_FILE = "banzhuren-demo-roster.xlsx"
REPORT_FILE = "banzhuren-demo-report.xlsx"
DOCUMENTS_DIR = "banzhuren-demo-documents"
SURVEY_FILE = Path(surveys.definition.__file__).with_name("satisfaction.yaml")
# Most students answer; some never do (the response rate is part of the report). Fewer in the
# earlier semester, which the demo stores only to have something to compare with.
ANSWER_RATE = 0.9
EARLIER_ANSWER_RATE = 0.6
SURVEY_THREADS = 4
# Students who bind by campus login (the local CAS) instead of a code, so both routes show.
CAMPUS_STUDENTS = 6
CAMPUS_PASSWORD = "demo-campus-pw"
CAMPUS_SENT = "（点菜单「帮助 → 绑定身份」，在统一身份认证页面用校园账号登录）"

Echo = Callable[[str], None]
Progress = Callable[..., Iterator]


@dataclass
class DemoResult:
    report: str
    rows: list[dict]
    messages: int
    outbound: int
    admin_password: str
    dashboard_url: str
    transcript: list[str] = field(default_factory=list)
    # Issue 25.5: messages to staff delivered through the local fake WeCom API.
    wecom_outbound: int = 0
    # What the demo was built to show but the report does not (empty when all is well).
    problems: list[str] = field(default_factory=list)


def fresh_sqlite(workdir: Path, echo: Echo) -> str:
    path = workdir / SQLITE_FILE
    existed = path.exists()
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if existed:
        echo(f"已删除上次演示留下的 {path.name}，从头开始。")
    return f"sqlite:///{path}"


def fresh_postgresql(server_url: str, name: str, echo: Echo) -> str:
    """A new, empty database ``name`` on the server of ``server_url``; the database named in
    ``server_url`` itself is never touched."""
    url = make_url(server_url)
    if url.database == name:
        raise DemoError(
            f"演示库 {name} 与 BANZHUREN_DATABASE_URL 的库同名；请用 --database-name 另取一个名字"
        )
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        raise DemoError(f"无法在 {url.host} 上创建演示库 {name}：{exc}") from exc
    finally:
        admin.dispose()
    echo(f"在 PostgreSQL {url.host}:{url.port or 5432} 上新建演示库 {name}（原有同名库已删除）。")
    return url.set(database=name).render_as_string(hide_password=False)


def demo_environment(
    base: dict[str, str],
    database_url: str,
    api_base: str,
    redis: bool,
    public_url: str | None = None,
    cas_url: str | None = None,
    wecom_api=None,
) -> dict[str, str]:
    """The environment every demo process shares: safe mode with a key and AppID of its own
    (unless given), and WeChat's API pointed at the local stand-in, always: the demo never
    messages real people. With ``cas_url``: the campus login on the local CAS, never the
    school's real one."""
    env = dict(base)
    env["BANZHUREN_DATABASE_URL"] = database_url
    for name in ("BANZHUREN_PUBLIC_URL", "BANZHUREN_CAS_URL", "BANZHUREN_CAS_USER_ATTRIBUTE"):
        env.pop(name, None)
    if public_url and cas_url:
        env["BANZHUREN_PUBLIC_URL"] = public_url
        env["BANZHUREN_CAS_URL"] = cas_url
        env["BANZHUREN_CAS_VERSION"] = "3"
    env.setdefault("BANZHUREN_SECRET_KEY", secrets.token_hex(32))
    # There is no default Token (a well-known one would let anyone post as anyone).
    if not env.get("BANZHUREN_WECHAT_TOKEN"):
        env["BANZHUREN_WECHAT_TOKEN"] = "demo" + secrets.token_hex(8)
    if not env.get("BANZHUREN_WECHAT_AES_KEY"):
        from core.wechat.crypto import random_aes_key

        env["BANZHUREN_WECHAT_AES_KEY"] = random_aes_key()
    if not env.get("BANZHUREN_WECHAT_APPID"):
        env["BANZHUREN_WECHAT_APPID"] = "wx" + secrets.token_hex(8)
        env["BANZHUREN_WECHAT_SECRET"] = secrets.token_hex(16)
    env.setdefault("BANZHUREN_WECHAT_SECRET", secrets.token_hex(16))
    env["BANZHUREN_WECHAT_API_BASE"] = api_base
    # The school's WeCom app, for staff (issue 25.5): on the local stand-in only, so the
    # demo never messages real staff; without one, no WeCom at all.
    for name in ("CORP_ID", "AGENT_ID", "SECRET", "TOKEN", "AES_KEY", "API_BASE"):
        env.pop(f"BANZHUREN_WECOM_{name}", None)
    if wecom_api is not None:
        from core.wechat.crypto import random_aes_key

        env["BANZHUREN_WECOM_CORP_ID"] = wecom_api.corp_id
        env["BANZHUREN_WECOM_AGENT_ID"] = str(wecom_api.agent_id)
        env["BANZHUREN_WECOM_SECRET"] = wecom_api.secret
        env["BANZHUREN_WECOM_TOKEN"] = "demo" + secrets.token_hex(8)
        env["BANZHUREN_WECOM_AES_KEY"] = random_aes_key()
        env["BANZHUREN_WECOM_API_BASE"] = wecom_api.url
    # The seal key is where `banzhuren init` puts it (the working directory, beside the demo's
    # database), so commands run on the demo's school afterwards (round open / status / close)
    # find it; a key file already there is used, never replaced. Every demo process gets it
    # in its environment too (gunicorn and the worker may start elsewhere).
    if not env.get("BANZHUREN_SEAL_KEY"):
        from core.surveys.seal_key import key_file_path, write_key_file

        write_key_file()
        env["BANZHUREN_SEAL_KEY"] = key_file_path().read_text().strip()
        env.pop("BANZHUREN_SEAL_PREVIOUS_KEY", None)
    if redis:
        # A queue and key prefix of this run's own: a production worker on the same Redis
        # never picks up demo tasks, and the demo never sees production keys.
        run = secrets.token_hex(4)
        env["BANZHUREN_REDIS_PREFIX"] = f"banzhuren-demo-{run}"
        env["BANZHUREN_CELERY_QUEUE"] = f"banzhuren-demo-{run}"
    else:
        env.pop("BANZHUREN_REDIS_URL", None)
    return env


def forget_redis_keys(settings: Settings) -> None:
    """Drop this run's Redis keys (its prefix and its Celery queue): nothing of the demo stays."""
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    try:
        keys = [*client.scan_iter(f"{settings.redis_prefix}*", count=1000)]
        # The queue itself and kombu's bindings of it ("_kombu.binding.<queue>").
        keys += [*client.scan_iter(f"*{settings.celery_queue}*", count=1000)]
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def read_bind_codes(csv_text: str, school: School) -> int:
    """Fill in each person's binding code from ``banzhuren bind-codes`` output."""
    rows = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))
    header, body = rows[0], rows[1:]
    number_col, code_col = 0, header.index("绑定码")
    codes = {r[number_col]: r[code_col] for r in body if r}
    people = [*school.students, *school.teachers, *school.counsellors]
    missing = [p.number for p in people if p.number not in codes]
    if missing:
        raise DemoError(f"bind-codes 没有列出 {', '.join(missing[:5])} 等 {len(missing)} 人")
    for person in people:
        person.binding_code = codes[person.number]
    return len(codes)


def campus_students(school: School) -> list:
    """The students who bind by campus login: a few, none of those the transcript shows
    binding by code."""
    return school.students[1 : 1 + CAMPUS_STUDENTS]


def bind_everyone(
    player: Player,
    school: School,
    transcript: Transcript,
    progress,
    campus: Callable[[object], str] | None = None,
) -> int:
    """Everyone follows the account and binds with the code their counsellor handed out; one
    student mistypes the code first. With ``campus`` (a person → the final page's text), a few
    students bind by campus login instead. Returns how many did."""
    people = [*school.counsellors, *school.teachers, *school.students]
    clumsy = school.students[7]
    by_campus = campus_students(school) if campus is not None else []
    for person in progress(people, length=len(people), label="绑定"):
        shown = person in (school.teachers[0], school.students[0], clumsy)
        welcome = player.event(person.openid, "subscribe")
        if shown:
            transcript.add(person.name, "（关注公众号）", welcome)
        if person in by_campus:
            assert campus is not None
            page = campus(person)
            if person is by_campus[0]:
                transcript.add(person.name, CAMPUS_SENT, "（绑定页面）" + page)
            continue
        if person is clumsy:
            wrong = "000000" if person.binding_code != "000000" else "111111"
            transcript.add(
                person.name,
                f"绑定 {person.number} {wrong}",
                player.say(person.openid, f"绑定 {person.number} {wrong}"),
            )
        reply = player.say(person.openid, f"绑定 {person.number} {person.binding_code}")
        if shown or person is clumsy:
            transcript.add(person.name, f"绑定 {person.number} {person.binding_code}", reply)
    return len(by_campus)


def play_surveys(
    player: Player,
    school: School,
    seed: int,
    transcript: Transcript,
    progress,
    comments: dict[str, str] | None = None,
) -> int:
    """The students who take part answer, a few at a time (as on real phones); ``comments``:
    学号 → what that student writes at the first comment question."""
    from surveys.definition import load_survey_file

    definition = load_survey_file(SURVEY_FILE)
    teachers = {t.name: t for t in school.teachers}
    chooser = random.Random(seed)
    takers = [s for s in school.students if chooser.random() < ANSWER_RATE]
    shown = takers[0]
    comments = comments or {}
    rated = 0
    with ThreadPoolExecutor(SURVEY_THREADS) as pool:
        futures = [
            pool.submit(
                take_survey,
                player,
                student,
                teachers,
                definition,
                random.Random(f"{seed}:{student.number}"),
                transcript if student is shown else None,
                len(school.teachers_of(student)),
                comments.get(student.number),
            )
            for student in takers
        ]
        for future in progress(as_completed(futures), length=len(futures), label="测评"):
            rated += future.result()
    return rated


def submit_earlier_surveys(school: School, settings: Settings, seed: int) -> int:
    """The earlier semester's answers, stored as the webhook stores each 确认 (the ballot and the
    sealed envelope, core.surveys.submission) without replaying its chat: the demo only needs
    that semester to compare with, and its messages would double the demo's run time. The round
    is opened and closed by the commands as usual, so the envelopes are opened at close."""
    from surveys.definition import load_survey_file

    definition = load_survey_file(SURVEY_FILE)
    entry = {c["code"]: int(c["entry_year"]) for c in school.roster["classes"]}
    year = int(EARLIER_TERM_CODE[:4])
    rng = random.Random(seed)
    submitted = 0
    with core.db.session_scope() as s:
        round_id = s.scalar(select(SurveyRound.id).join(Term).where(Term.code == EARLIER_TERM_CODE))
        students = dict(s.execute(select(Student.student_no, Student.id)).all())
        teachers = dict(s.execute(select(Teacher.staff_no, Teacher.id)).all())
        for student in school.students:
            mine = school.earlier_teachers_of(student)
            if not mine or rng.random() >= EARLIER_ANSWER_RATE:
                continue
            mood = rng.uniform(-1, 1)
            for t in mine:
                years = [year - entry[c] for c in t.earlier_classes]
                questions = definition.questions_for(first_year=0 in years, final_year=3 in years)
                answers: dict[str, int | str | None] = {}
                for q in questions:
                    if q.is_choice and q.is_scored:
                        answers[q.id] = scale_choice(t.earlier_profile, mood, rng)
                    elif q.is_choice:
                        yes = rng.random() < YES_RATE.get(t.earlier_profile, 0.5)
                        answers[q.id] = 1 if yes else 2
                    elif rng.random() < 0.2:
                        answers[q.id] = rng.choice(COMMENTS[:-1])
                store_submission(
                    s,
                    settings,
                    round_id=round_id,
                    student_id=students[student.number],
                    teacher_id=teachers[t.number],
                    submitted_on=EARLIER_TERM_END - dt.timedelta(days=20),
                    response={
                        "score": scoring.respondent_score(definition, answers),
                        "top_box": scoring.top_box(definition, answers),
                        "straight_lined": scoring.straight_lined(definition, answers),
                        "too_fast": False,
                    },
                    answers=[answer_values(q, answers.get(q.id)) for q in questions],
                )
                submitted += 1
    return submitted


def held_comments(school: School, seed: int) -> dict[str, str]:
    """Two students write what Student Affairs must review before anyone sees it: one names a
    classmate, one leaves a phone number (core.comments holds both)."""
    rng = random.Random(seed)
    chosen: dict[str, str] = {}
    for teacher, words in (
        (school.by_profile("excellent")[0], "{name}最近情绪不太好，希望老师多关心他"),
        (school.by_profile("good")[0], "有事可以打我电话 139 1234 5678，谢谢老师"),
    ):
        students = school.students_of(teacher)
        writer, named = rng.sample(students, 2)
        chosen[writer.number] = words.format(name=named.name)
    return chosen


def wecom_teacher(school: School):
    """The head teacher who logs through the school's WeCom app instead of the account."""
    return school.by_profile("good")[0]


def play_worklogs(
    player: Player, school: School, today: dt.date, transcript: Transcript, progress
) -> int:
    """A term of work-log messages, then a few of the other things teachers send. One head
    teacher sends theirs through WeCom (``/wecom``, their 工号 as UserId), when it is set up."""
    messages = worklog_messages(school, TERM_START, TERM_END, today)
    first = school.by_profile("excellent")[0]
    extra = [
        (first, "今天天气不错"),  # not a log: the bot says why and stores nothing
        (first, "班会 临时加的一条，发错了"),
        (first, "撤销"),
        (first, "我的日志"),
        (first, "统计"),
    ]
    shown_kinds = set()
    steps = [(m.teacher, m.text) for m in messages] + extra
    on_wecom = wecom_teacher(school) if player.wecom is not None else None
    for teacher, message in progress(steps, length=len(steps), label="工作日志"):
        if teacher is on_wecom:
            reply = player.say_wecom(teacher.number, message)
        else:
            reply = player.say(teacher.openid, message)
        kind = (
            message.split()[1]
            if message[0].isdigit() or message.startswith(("昨天", "前天"))
            else message.split()[0]
        )
        if teacher is first and kind not in shown_kinds:
            shown_kinds.add(kind)
            transcript.add(teacher.name, message, reply)
    return len(steps)


def record_meetings(school: School) -> None:
    """What a branch and Student Affairs record in the dashboard: each 党总支's staff meeting
    and the school's training, with who attended (第十四条)."""
    with core.db.session_scope() as s:
        ids = {t.staff_no: t for t in s.scalars(select(Teacher))}
        silent = {t.number for t in school.by_profile("silent")}
        by_department: dict[int, list[Teacher]] = {}
        for t in school.teachers:
            row = ids[t.number]
            by_department.setdefault(row.department_id, []).append(row)
        # (department, kind, day, title, attendees): each branch's staff meeting, where the
        # silent teachers are missing, and the school's training, which everyone attended.
        meetings = [
            (
                department_id,
                MeetingKind.STAFF_MEETING,
                dt.date(2026, 10, 15),
                "十月兼职班主任工作例会",
                [m for m in members if m.staff_no not in silent],
            )
            for department_id, members in by_department.items()
        ]
        meetings.append(
            (
                None,
                MeetingKind.TRAINING,
                dt.date(2026, 9, 20),
                "兼职班主任岗前与业务培训",
                [ids[t.number] for t in school.teachers],
            )
        )
        for department_id, kind, held_on, title, attendees in meetings:
            s.add(
                Meeting(
                    department_id=department_id,
                    kind=kind,
                    held_on=held_on,
                    title=title,
                    attendees=attendees,
                )
            )


EARLIER_LOGS = (
    (LogKind.TALK, "谈心谈话，了解期末复习情况"),
    (LogKind.DORM_VISIT, "走访寝室，卫生良好"),
    (LogKind.CLASS_MEETING, "主题班会：学风建设"),
    (LogKind.PRACTICE, "组织同学参加社区音乐志愿服务"),
)


def record_earlier_logs(school: School, seed: int) -> int:
    """The earlier semester's work logs, written as the bot stored them then (its chat is long
    past: head teachers cannot log that far back today). Half a term's worth per profile."""
    rng = random.Random(seed)
    span = (EARLIER_TERM_END - EARLIER_TERM_START).days
    with core.db.session_scope() as s:
        ids = {t.staff_no: t.id for t in s.scalars(select(Teacher))}
        classes = {c.code: c.id for c in s.scalars(select(SchoolClass))}
        n = 0
        for t in school.teachers:
            if not t.earlier_classes:
                continue
            for _ in range(max(2, PROFILES[t.earlier_profile].logs // 2)):
                kind, note = rng.choice(EARLIER_LOGS)
                s.add(
                    WorkLogEntry(
                        teacher_id=ids[t.number],
                        class_id=classes[t.earlier_classes[0]],
                        kind=kind,
                        occurred_on=EARLIER_TERM_START + dt.timedelta(days=rng.randint(0, span)),
                        text=note,
                        raw=f"{kind.label} {note}",
                    )
                )
                n += 1
        return n


def play_earlier_term(school: School, env: dict[str, str], seed: int, echo: Echo) -> None:
    """The semester before: its round opened, answered (stored directly, see
    :func:`submit_earlier_surveys`), its work logs stored, then closed, evaluated and published (with the comments nothing held shown, as
    Student Affairs would have done), so this semester has a past to compare with."""
    code = EARLIER_TERM_CODE
    echo(f"· 上一学期 {code}：先演示一遍（测评、关闭、考核、发布），以便比较历年趋势")
    run_cli(
        [
            "term",
            "add",
            code,
            "--start",
            str(EARLIER_TERM_START),
            "--end",
            str(EARLIER_TERM_END),
        ],
        env,
    )
    run_cli(["round", "open", "--term", code, "--survey", "satisfaction"], env)
    rated = submit_earlier_surveys(school, load_settings(env), seed + 1)
    logs = record_earlier_logs(school, seed)
    run_cli(["round", "close", "--term", code, "--survey", "satisfaction"], env)
    run_cli(["evaluate", "--term", code], env)
    with core.db.session_scope() as s:
        settings = load_settings(env)
        show_unheld(s, require_term(s, code), "学生处", settings.min_respondents)
    run_cli(["publish", "--term", code], env)
    echo(f"· 上一学期：{rated} 份提交，{logs} 条工作日志，已考核并发布")


def grant_first_candidate(env: dict[str, str]) -> str | None:
    """Student Affairs awards the first 先进 candidate of the year (the awards page's 授予), so
    that a 荣誉证书 exists; returns the teacher's name."""
    with core.db.session_scope() as s:
        term = require_term(s, TERM_CODE)
        candidates = award_candidates(s, term)
        if not candidates:
            return None
        award = grant_award(s, term, candidates[0].teacher_id, "学生处")
        return s.get(Teacher, award.teacher_id).name


def count_rows(model) -> int:
    with core.db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


@dataclass
class DemoOptions:
    workdir: Path
    port: int | None
    database_name: str
    seed: int = 2026


def run_demo(options: DemoOptions, echo: Echo, progress: Progress, stack: ExitStack) -> DemoResult:
    """Play the term; servers stay up (registered on ``stack``) for the caller to keep or stop."""
    # Checked first, before anything is built: a busy port is the commonest stumble.
    port = options.port or free_port()
    if port_in_use(port):
        raise DemoError(f"端口 {port} 已被占用，请用 --port 指定另一个端口")
    base = dict(os.environ)
    # Only the database and Redis choice matter here; the secret is filled in below.
    given = load_settings({**base, "BANZHUREN_SECRET_KEY": "unused" * 8})
    redis = not given.embedded
    if redis:
        if not given.database_url.startswith("postgresql"):
            raise DemoError(
                "设置了 BANZHUREN_REDIS_URL 时，演示需要 PostgreSQL：请同时把 "
                "BANZHUREN_DATABASE_URL 设为 postgresql+psycopg://…（演示会另建一个库，不动它）"
            )
        database_url = fresh_postgresql(given.database_url, options.database_name, echo)
    else:
        if base.get("BANZHUREN_DATABASE_URL"):
            echo(
                "未设置 BANZHUREN_REDIS_URL：演示使用内嵌模式（SQLite），不使用 "
                "BANZHUREN_DATABASE_URL；要在 PostgreSQL 上演示，请同时设置两者。"
            )
        database_url = fresh_sqlite(options.workdir, echo)

    fake = FakeWeChatApi().start()
    fake.enforce_allowance = True  # issue 23: WeChat's customer-service rules, as WeChat does
    stack.callback(fake.stop)
    wecom_api = FakeWeComApi(
        corp_id="ww" + secrets.token_hex(8),
        secret=secrets.token_urlsafe(24),
        agent_id=1000002,
    ).start()
    stack.callback(wecom_api.stop)
    cas = FakeCas().start()
    stack.callback(cas.stop)
    public_url = f"http://127.0.0.1:{port}"
    env = demo_environment(
        base, database_url, fake.base_url, redis, public_url, cas.url, wecom_api=wecom_api
    )
    settings: Settings = load_settings(env)
    if redis:
        stack.callback(forget_redis_keys, settings)
    core.db.configure(database_url)
    stack.callback(core.db.dispose)

    school = make_school(options.seed)
    from core.roster.sample import write_xlsx

    roster = write_xlsx(school.roster, options.workdir / ROSTER_FILE)
    steps: list[tuple[str, list[str]]] = [
        ("建库", ["init"]),
        ("导入名单", ["import-roster", str(roster)]),
        (
            "添加学期",
            ["term", "add", TERM_CODE, "--start", str(TERM_START), "--end", str(TERM_END)],
        ),
        ("载入问卷", ["survey", "load", str(SURVEY_FILE)]),
    ]
    for label, args in steps:
        echo(f"· {label}：banzhuren {' '.join(args)}")
        run_cli(args, env)
    read_bind_codes(run_cli(["bind-codes"], env), school)

    if redis:
        worker = start_worker(env, options.workdir / "banzhuren-demo-worker.log")
        stack.callback(stop_process, worker)
        echo("· 已启动 Celery worker（banzhuren worker，日志 banzhuren-demo-worker.log）")
    web: WebServer = start_web(
        settings, env, port, gunicorn=redis, log=options.workdir / "banzhuren-demo-web.log"
    )
    stack.callback(web.stop)
    echo(
        f"· Web 应用已在 {web.url} 运行（{'gunicorn，2 个进程' if redis else '内嵌模式'}），"
        "安全模式：消息按微信的方式签名并加密"
    )

    from core.wechat.simulate import WeChatSimulator

    simulator = WeChatSimulator(
        settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid, mode="safe"
    )
    from core.wecom.simulate import WeComSimulator

    player = Player(
        web.url,
        simulator,
        WeComSimulator(
            settings.wecom_token,
            settings.wecom_aes_key,
            settings.wecom_corp_id,
            settings.wecom_agent_id,
        ),
        observer=fake.user_action,
    )
    # The school's WeCom address book: its counsellors and the head teacher who uses WeCom.
    wecom_api.users.update(c.number for c in school.counsellors)
    wecom_api.users.add(wecom_teacher(school).number)
    transcript = Transcript()
    today = dt.datetime.now(settings.tz).date()

    for student in campus_students(school):
        cas.add_account(student.number, CAMPUS_PASSWORD)

    def campus_login(person) -> str:
        return bind_by_campus_login(
            public_url, fake, cas, person.openid, person.number, CAMPUS_PASSWORD
        )

    by_campus = bind_everyone(player, school, transcript, progress, campus_login)
    echo(
        f"· 绑定：{count_rows(WeChatBinding)} 个微信号已绑定；其中 {by_campus} 名学生点菜单"
        "「绑定身份」，经微信网页授权和校园统一身份认证（本地模拟的 CAS）登录绑定，"
        "其余发送「绑定 学号 绑定码」"
    )
    play_earlier_term(school, env, options.seed, echo)
    echo(f"· 开放测评：banzhuren round open --term {TERM_CODE} --survey satisfaction")
    run_cli(["round", "open", "--term", TERM_CODE, "--survey", "satisfaction"], env)
    rated = play_surveys(
        player, school, options.seed, transcript, progress, held_comments(school, options.seed)
    )
    echo(f"· 测评：{rated} 份提交，库中 {count_rows(SealedEnvelope)} 份密封答卷（关闭测评时解封）")
    logs = play_worklogs(player, school, today, transcript, progress)
    echo(f"· 工作日志：发送 {logs} 条消息，记录 {count_rows(WorkLogEntry)} 条日志")
    echo(
        f"· 企业微信：{wecom_teacher(school).name}在学校企业微信应用里记日志（/wecom，"
        f"按工号识别，{player.sent_wecom} 条消息）；发给辅导员的反馈经企业微信送达"
    )
    record_meetings(school)
    echo("· 已记录各党总支工作例会和全校培训会的出席情况")
    for label, args in (
        ("关闭测评", ["round", "close", "--term", TERM_CODE, "--survey", "satisfaction"]),
        ("学期考核", ["evaluate", "--term", TERM_CODE]),
    ):
        echo(f"· {label}：banzhuren {' '.join(args)}")
        run_cli(args, env)
        if args[0] == "round":
            echo(f"· 解封：库中 {count_rows(Response)} 份匿名答卷（随机顺序）")
    awarded = grant_first_candidate(env)
    if awarded:
        folder = options.workdir / DOCUMENTS_DIR
        run_cli(["documents", "--term", TERM_CODE, "--kind", "award", "-o", str(folder)], env)
        echo(f"· 先进兼职班主任：学生处授予 {awarded}，荣誉证书见 {DOCUMENTS_DIR}/")
    with core.db.session_scope() as s:
        pending = review_counts(s, require_term(s, TERM_CODE).id)["pending"]
    echo(f"· 学生意见：{pending} 条待学生处审核（仪表盘「意见审核」），审核前班主任和党总支看不到")
    report = run_cli(["report", "--term", TERM_CODE, "--format", "table"], env)
    run_cli(["report", "--term", TERM_CODE, "-o", str(options.workdir / REPORT_FILE)], env)
    echo(f"· Excel 报表：{REPORT_FILE}（汇总、各党总支、党总支例会、就业情况、历年趋势）")
    rows = json.loads(run_cli(["report", "--term", TERM_CODE, "--format", "json"], env))
    password = secrets.token_urlsafe(9)
    run_cli(
        ["user", "add", "admin", "--role", "affairs", "--password-stdin"],
        env,
        stdin=password + "\n",
    )
    return DemoResult(
        report=report,
        rows=rows,
        problems=check_result(rows, school)
        + refusals(fake)
        + ([] if awarded else ["没有先进兼职班主任候选人（应有连续两学期优秀的班主任）"]),
        messages=player.sent,
        outbound=fake.count(),
        wecom_outbound=len(wecom_api.sent),
        admin_password=password,
        dashboard_url=web.url + "dashboard/",
        transcript=highlights(transcript),
    )


def highlights(transcript: Transcript) -> list[str]:
    """A short tour: a binding by campus login, a wrong and a right code binding, the start and
    end of a survey, a few log entries, a message the bot cannot read, 撤销 and 统计."""
    entries = transcript.entries
    chosen: list[int] = []
    for i, (_who, sent, _reply) in enumerate(entries):
        if sent == CAMPUS_SENT:
            chosen.append(i)
            break
    for i, (_who, sent, reply) in enumerate(entries):
        wrong_code = sent.startswith("绑定") and "不正确" in reply
        first_survey = sent == "测评" and not any(entries[j][1] == "测评" for j in chosen)
        summary = "请核对关于" in reply and not any("请核对关于" in entries[j][2] for j in chosen)
        if wrong_code or first_survey or summary:
            chosen += [i, i + 1]
    logs = [i for i, e in enumerate(entries) if e[2].startswith("已记录")][:3]
    others = [i for i, e in enumerate(entries) if e[1] in ("今天天气不错", "撤销", "统计")]
    picked = sorted({i for i in chosen + logs + others if i < len(entries)})
    return [Transcript.format(entries[i]) for i in picked]


def check_result(rows: list[dict], school: School) -> list[str]:
    """What the demo was built to show, compared with the report: a list of problems."""
    problems = []
    by_staff = {row.get("staff_no"): row for row in rows}
    for teacher in school.teachers:
        row = by_staff.get(teacher.number)
        if row is None:
            problems.append(f"报表中没有 {teacher.name}（{teacher.number}）")
            continue
        expected = PROFILES[teacher.profile].expected
        if row.get("grade") != expected:
            problems.append(f"{teacher.name} 应为 {expected}，报表为 {row.get('grade')}")
    return problems


def refusals(fake: FakeWeChatApi) -> list[str]:
    """Customer-service messages the fake refused under WeChat's rules (issue 23): the product's
    count of the allowance should leave none."""
    if not fake.refusals:
        return []
    codes = sorted({code for _openid, code in fake.refusals})
    return [f"微信拒收了 {len(fake.refusals)} 条客服消息（{'、'.join(map(str, codes))}）"]
