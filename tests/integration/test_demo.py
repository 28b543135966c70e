"""``banzhuren demo --no-serve`` end to end, as a user runs it: a subprocess in an empty
directory, embedded (SQLite, tasks in-process), then on PostgreSQL and Redis with a real worker
and gunicorn. The report must show what the demo is built to show."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from bot.demo.school import PROFILES, TERM_CODE, make_school
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.slow

BANZHUREN = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any BANZHUREN_* setting: the demo's own defaults."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
    env.update(extra)
    return env


def run_demo(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*BANZHUREN, "demo", "--no-serve", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def report_rows(stdout: str) -> dict[str, str]:
    """工号 → that teacher's line of the printed report table."""
    report = stdout.split(f"学生处考核报表（{TERM_CODE}）")[1]
    return {m.group(1): m.group(0) for m in re.finditer(r"^(T\d{4})\s.*$", report, re.M)}


def check_report(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr[-3000:]
    assert "注意：" not in done.stderr, done.stderr  # the demo's own check of the grades
    school = make_school()
    rows = report_rows(done.stdout)
    assert set(rows) == {t.number for t in school.teachers}
    silent = school.by_profile("silent")[0]
    unhappy = school.by_profile("unhappy")[0]
    assert "不合格" in rows[silent.number]
    assert "没有很好履行工作职责" in rows[silent.number]
    assert "满意度低于60%" not in rows[silent.number]
    assert "不合格" in rows[unhappy.number]
    assert "满意度低于60%" in rows[unhappy.number]
    for teacher in school.teachers:
        if teacher in (silent, unhappy):
            continue
        row = rows[teacher.number]
        assert "不合格" not in row, row
        assert PROFILES[teacher.profile].expected in row, row
    # Every other teacher logged, and answers came in for everyone.
    numbers = re.findall(r"(\d+)\s+(\d+)\s+(\d+\.\d)%", "\n".join(rows.values()))
    assert len(numbers) == len(school.teachers)
    assert all(0 < int(answered) <= int(eligible) for answered, eligible, _ in numbers)
    sent = re.search(r"共发送 (\d+) 条微信消息.*?发出 (\d+) 条客服消息", done.stdout)
    assert sent, done.stdout[-2000:]
    assert int(sent.group(1)) > 3000  # bindings, ~200 surveys of ~16 messages, the logs
    assert int(sent.group(2)) >= len(school.students)  # the round's notices at least
    # Issue 25.5: one head teacher logged through the WeCom app; 反馈 reached counsellors there.
    wecom = re.search(r"企业微信：.*?（/wecom，按工号识别，(\d+) 条消息）", done.stdout)
    assert wecom and int(wecom.group(1)) >= 5, done.stdout[-2000:]
    relayed = re.search(r"经本地模拟的企业微信接口发出 (\d+) 条（反馈转辅导员）", done.stdout)
    assert relayed and int(relayed.group(1)) > 0, done.stdout[-2000:]
    # The interval with its n, the branches' meeting months and the final-year employment.
    assert all(re.search(r"\d+\.\d–\d+\.\d n=\d+", row) for row in rows.values()), rows
    assert "党总支工作例会（第十四条" in done.stdout and re.search(
        r"2026年10月\s+已召开", done.stdout
    )
    assert "毕业年级就业情况" in done.stdout
    # The earlier term was played, evaluated and published; a candidate was awarded; the
    # comments wait for Student Affairs' review.
    assert "上一学期 2025-2026-2" in done.stdout and "已考核并发布" in done.stdout
    assert "先进兼职班主任：学生处授予" in done.stdout
    assert re.search(r"学生意见：\d+ 条待学生处审核", done.stdout)
    # A glimpse of the chat, as the user's phone showed it (decrypted from safe mode).
    assert "绑定成功" in done.stdout and "请核对关于" in done.stdout
    # Both ways to bind (issue 23.5): a few students by campus login on the local CAS.
    assert re.search(r"其中 6 名学生点菜单「绑定身份」.*统一身份认证", done.stdout)
    assert "（绑定页面）绑定成功" in done.stdout
    assert "已记录" in done.stdout and "没有记录" in done.stdout


def school_teacher(profile: str) -> str:
    return make_school().by_profile(profile)[0].number


def test_demo_embedded_starts_fresh_and_reports(tmp_path: Path) -> None:
    # A previous run (here: a damaged file) must not get in the way.
    (tmp_path / "banzhuren-demo.db").write_bytes(b"not a database")
    done = run_demo(tmp_path, clean_env())
    check_report(done)
    assert "已删除上次演示留下的 banzhuren-demo.db" in done.stdout
    assert (tmp_path / "banzhuren-demo.db").stat().st_size > 100_000
    assert (tmp_path / "banzhuren-demo-roster.xlsx").exists()
    # The seal key is left where `banzhuren init` puts it, private, for commands run afterwards.
    assert (tmp_path / "banzhuren-seal.key").stat().st_mode & 0o777 == 0o600
    workbook = load_workbook(tmp_path / "banzhuren-demo-report.xlsx")
    assert workbook.sheetnames[-3:] == ["党总支例会", "就业情况", "历年趋势"]
    # Two terms side by side: the earlier one (closed, evaluated, published) and this one.
    trend = workbook["历年趋势"]
    headers = [c.value for c in trend[1]]
    assert "2025-2026-2 满意度" in headers and "2026-2027-1 满意度" in headers
    first = {row[0]: row for row in trend.iter_rows(min_row=2, values_only=True)}
    excellent = school_teacher("excellent")
    assert isinstance(first[excellent][3], float) and first[excellent][4] == "优秀"
    # The 荣誉证书 of the 先进兼职班主任 Student Affairs awarded (优秀 in both terms).
    assert list((tmp_path / "banzhuren-demo-documents").glob("荣誉证书-2026-2027-*.docx"))
    assert workbook["就业情况"].max_row >= 2  # the final-year classes
    assert "gunicorn" not in done.stdout and "内嵌模式" in done.stdout
    # The campus-login bindings went through the shared binding service, audited.
    engine = create_engine(f"sqlite:///{tmp_path / 'banzhuren-demo.db'}")
    with engine.connect() as conn:
        details = conn.execute(
            text("SELECT detail FROM audit_log WHERE action = 'binding.bind'")
        ).scalars()
        vias = [json.loads(d)["via"] if isinstance(d, str) else d["via"] for d in details]
    engine.dispose()
    assert vias.count("cas") == 6 and vias.count("code") == len(vias) - 6 > 100
    # Embedded mode touches no broker: kombu has nothing to say (issue 22).
    log = (tmp_path / "banzhuren-demo.log").read_text(encoding="utf-8")
    assert "kombu" not in log and "No hostname was supplied" not in log, log


def test_demo_on_postgresql_redis_and_a_worker(tmp_path: Path, redis_url: str) -> None:
    name = f"banzhuren_demo_test_{uuid.uuid4().hex[:8]}"
    env = clean_env(BANZHUREN_DATABASE_URL=PG_ADMIN_URL, BANZHUREN_REDIS_URL=redis_url)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        done = run_demo(tmp_path, env, "--database-name", name)
        check_report(done)
        assert f"新建演示库 {name}" in done.stdout
        assert "gunicorn，2 个进程" in done.stdout
        assert "已启动 Celery worker" in done.stdout
        # The evaluation ran on the worker, into the demo's own database.
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        engine = create_engine(url)
        with engine.connect() as conn:
            evaluated = dict(
                conn.execute(
                    text(
                        "SELECT t.code, count(*) FROM term_evaluations e "
                        "JOIN terms t ON t.id = e.term_id GROUP BY t.code"
                    )
                ).all()
            )
            published = conn.execute(
                text("SELECT code FROM terms WHERE published_at IS NOT NULL")
            ).scalars()
            published = list(published)
        engine.dispose()
        school = make_school()
        assert evaluated == {
            TERM_CODE: len(school.teachers),
            "2025-2026-2": len([t for t in school.teachers if t.earlier_classes]),
        }
        assert published == ["2025-2026-2"]
        # The demo's processes are gone and its Redis keys with them.
        import redis

        client = redis.Redis.from_url(redis_url)
        assert not list(client.scan_iter("banzhuren-demo-*"))
        client.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_demo_refuses_redis_without_postgresql(tmp_path: Path, redis_url: str) -> None:
    done = run_demo(tmp_path, clean_env(BANZHUREN_REDIS_URL=redis_url))
    assert done.returncode == 1
    assert "需要 PostgreSQL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "banzhuren-demo.db").exists()


def test_demo_says_when_the_port_is_taken(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [*BANZHUREN, "demo", "--port", str(port)],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert f"端口 {port} 已被占用" in done.stderr
    assert not (tmp_path / "banzhuren-demo.db").exists()
