"""A first run that guides (issue 22.4): a command on a database never initialised, or behind
the migrations, says so in one Chinese line (exit 2) naming the database and ``banzhuren
init``, with no traceback and no empty SQLite file left behind; click's own lines are
Chinese; embedded mode logs nothing from kombu."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from bot.cli import main
from core.doctor.schema import SchemaStatus, schema_state
from models.migrate import upgrade
from tests.conftest import create_pg_database, pg_database_url

SECRET = "s" * 40
COMMANDS = [
    ("documents", "--term", "2026-2027-1"),
    ("report", "--term", "2026-2027-1"),
    ("round", "status", "--term", "2026-2027-1", "--survey", "satisfaction"),
    ("user", "list"),
    ("import-roster", "roster.xlsx"),
    ("bind-codes",),
    ("term", "add", "2026-2027-1", "--start", "2026-09-01", "--end", "2027-01-20"),
    ("serve", "--port", "1"),
    ("worker",),
    ("beat",),
]


def run(url: str, *args: str):
    return CliRunner().invoke(
        main,
        list(args),
        prog_name="banzhuren",
        env={
            "BANZHUREN_DATABASE_URL": url,
            "BANZHUREN_SECRET_KEY": SECRET,
            "BANZHUREN_REDIS_URL": "redis://127.0.0.1:6379/0",
        },
    )


@pytest.fixture
def blank_url(backend: str, tmp_path: Path, monkeypatch) -> Iterator[str]:
    """A database nobody initialised: a SQLite path with no file, or an empty PostgreSQL db."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roster.xlsx").write_bytes(b"not read")
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'banzhuren.db'}"
        return
    name = f"banzhuren_blank_{uuid.uuid4().hex[:10]}"
    admin = create_pg_database(name)
    yield pg_database_url(name)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def assert_one_line(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output and lines[0].startswith("错误：")
    for needle in needles:
        assert needle in lines[0]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: a[0] + ("-" + a[1] if len(a) > 1 else ""))
def test_a_command_before_init_says_so_in_one_line(blank_url, tmp_path, args):
    result = run(blank_url, *args)
    assert_one_line(result, "尚未初始化", "banzhuren init", blank_url.split("/")[-1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.xlsx"], "nothing left behind"


def test_after_the_demo_the_line_points_at_its_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "banzhuren-demo.db").write_bytes(b"")
    result = run("sqlite:///banzhuren.db", "report", "--term", "2026-2027-1")
    assert_one_line(
        result,
        "sqlite:///banzhuren.db 尚未初始化",
        "BANZHUREN_DATABASE_URL=sqlite:///banzhuren-demo.db",
    )
    assert not (tmp_path / "banzhuren.db").exists()


def test_a_database_behind_the_migrations_says_so(blank_url, tmp_path):
    upgrade(blank_url, "0005")
    state = schema_state(blank_url)
    assert state.status is SchemaStatus.BEHIND and state.current == ("0005",)
    result = run(blank_url, "user", "list")
    assert_one_line(result, "结构版本较旧", "0005", "banzhuren init")
    # init brings it up, and then the command runs.
    assert run(blank_url, "init").exit_code == 0
    assert schema_state(blank_url).ready
    listed = run(blank_url, "user", "list")
    assert listed.exit_code == 0, listed.output


def test_init_is_exempt_and_creates_the_database(blank_url):
    assert schema_state(blank_url).status is SchemaStatus.MISSING
    result = run(blank_url, "init")
    assert result.exit_code == 0, result.output
    assert "数据库已就绪" in result.stdout
    assert run(blank_url, "user", "list").exit_code == 0


def test_an_unknown_revision_is_named(blank_url):
    upgrade(blank_url)
    from sqlalchemy import create_engine

    engine = create_engine(blank_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    engine.dispose()
    assert_one_line(run(blank_url, "user", "list"), "9999", "不是本程序所知的")


def test_an_unreachable_server_is_one_line():
    result = run("postgresql+psycopg://nobody@127.0.0.1:1/none", "user", "list")
    assert_one_line(result, "无法连接数据库", "127.0.0.1:1/none", "BANZHUREN_DATABASE_URL")


# Click's own lines, in Chinese.


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("report",), "错误：缺少选项 --term。"),
        (("nope",), "错误：没有命令 nope。"),
        (("documents", "--term", "x", "--bogus"), "错误：没有选项 --bogus。"),
        (
            ("report", "--term", "x", "--format", "pdf"),
            "错误：'--format' 的值无效：'pdf' 不是可选值",
        ),
        (("user", "add"), "错误：缺少参数 NAME。"),
        (("term", "add", "x", "--start", "2026-09-01", "--end"), "错误：选项 --end 需要一个值。"),
    ],
)
def test_usage_errors_are_chinese(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    result = run(f"sqlite:///{tmp_path / 'x.db'}", *args)
    assert result.exit_code == 2
    assert expected in result.stderr
    if "需要一个值" not in expected:  # click reports that one before it has a context
        assert result.stderr.startswith("用法：banzhuren")
        assert "查看帮助" in result.stderr
    for english in ("Error", "Usage", "Try ", "Missing", "Invalid", "No such"):
        assert english not in result.stderr, result.stderr


def test_help_headings_are_chinese():
    result = CliRunner().invoke(main, ["documents", "--help"], prog_name="banzhuren")
    assert result.exit_code == 0
    assert result.stdout.startswith("用法：banzhuren documents")
    assert "选项：" in result.stdout and "Options" not in result.stdout
    assert "-h, --help" in result.stdout and "显示本帮助并退出。" in result.stdout
    assert "Show this message" not in result.stdout


def test_a_settings_error_is_one_chinese_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["user", "list"], env={"BANZHUREN_SECRET_KEY": "abc", "BANZHUREN_DATABASE_URL": ""}
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "错误：BANZHUREN_SECRET_KEY 太短（3 个字符，至少 32 个）；"
        '生成：python3 -c "import secrets; print(secrets.token_hex(32))"'
    ]
    assert list(tmp_path.iterdir()) == []


def test_embedded_mode_logs_nothing_from_kombu(caplog):
    from core.celery_app import configure_celery
    from core.settings import load_settings

    app = configure_celery(load_settings({"BANZHUREN_SECRET_KEY": SECRET}))
    with caplog.at_level(logging.DEBUG, logger="kombu"):
        connection = app.connection_for_write()
        try:
            assert connection.as_uri().startswith("memory://")
        finally:
            connection.release()
    assert [r for r in caplog.records if r.name.startswith("kombu")] == []
