"""``banzhuren doctor`` (DESIGN.md, CLI; issue 22.5): one Chinese line per check, ✓ or ✗ with
the fix, non-zero exit on any ✗; the dashboard's overview shows Student Affairs the ✗ lines.
Run against real PostgreSQL/SQLite, Redis and a real Celery worker; WeChat is the local fake."""

from __future__ import annotations

import datetime as dt
import os
import time
import types
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

import core.fonts
from bot.cli import main
from core.doctor import checks
from core.surveys.seal_key import generate_key
from models import Survey, SurveyRound, UserRole
from tests.support.celery_worker import settings_env

SECRET = "d" * 40


def doctor(env: dict[str, str], *args: str):
    clean = {k: None for k in os.environ if k.startswith("BANZHUREN_")}
    return CliRunner().invoke(main, ["doctor", *args], env=clean | env, prog_name="banzhuren")


def lines(result) -> dict[str, str]:
    """Check name → its line."""
    out = {}
    for line in result.stdout.splitlines():
        if line[:2] in ("✓ ", "✗ "):
            out[line[2:].split("：")[0]] = line
    return out


def write_heartbeat(settings, tmp_path: Path) -> None:
    """What a running beat does each tick: Celery's own scheduler class, as configured."""
    from core.beat import HeartbeatScheduler
    from core.celery_app import configure_celery

    app = configure_celery(settings)
    assert app.conf.beat_scheduler == "core.beat:HeartbeatScheduler"
    scheduler = HeartbeatScheduler(app=app, schedule_filename=str(tmp_path / "schedule"))
    try:
        assert scheduler.tick() <= 30
    finally:
        scheduler.close()


def test_a_good_deployment_passes_every_check(
    celery_worker, celery_worker_settings, fake_wechat_api, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    settings = celery_worker_settings
    write_heartbeat(settings, tmp_path)
    env = settings_env(settings) | {
        "BANZHUREN_SECRET_KEY": SECRET,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }
    result = doctor(env, "--online")
    assert result.exit_code == 0, result.output
    found = lines(result)
    assert set(found) == {
        "数据库",
        "测评密封密钥",
        "Redis",
        "Celery worker",
        "Celery beat",
        "微信/企业微信/统一身份认证设置",
        "中文字体",
        "时钟",
        "微信接口",
    }
    assert all(line.startswith("✓") for line in found.values()), result.stdout
    assert celery_worker.hostname in found["Celery worker"]
    assert "已获取 access_token" in found["微信接口"]
    assert fake_wechat_api.token_requests >= 1
    assert result.stdout.rstrip().endswith("全部 9 项通过。")


def test_a_broken_deployment_says_what_to_fix(tmp_path, monkeypatch, fake_wechat_api, redis_url):
    """Never initialised, a key file others can read, AES key without AppID, no font, Redis
    with no worker or beat, a wrong AppSecret: each its own ✗ line with the fix."""
    monkeypatch.chdir(tmp_path)
    empty_fonts = tmp_path / "fonts"
    empty_fonts.mkdir()
    monkeypatch.setattr(core.fonts, "FONT_DIRS", (empty_fonts,))
    key = tmp_path / "banzhuren-seal.key"
    key.write_text(generate_key() + "\n")
    key.chmod(0o644)
    prefix = f"bzr-doctor-{uuid.uuid4().hex[:8]}"
    env = {
        "BANZHUREN_DATABASE_URL": f"sqlite:///{tmp_path / 'banzhuren.db'}",
        "BANZHUREN_SECRET_KEY": SECRET,
        "BANZHUREN_REDIS_URL": redis_url,
        "BANZHUREN_REDIS_PREFIX": prefix,
        "BANZHUREN_CELERY_QUEUE": prefix,
        "BANZHUREN_WECHAT_TOKEN": "schooltoken",
        "BANZHUREN_WECHAT_AES_KEY": "a" * 43,
        "BANZHUREN_WECHAT_SECRET": "wrong-secret",
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }
    result = doctor(env, "--online")
    assert result.exit_code == 1
    found = lines(result)
    assert found["数据库"].startswith("✗") and "修复：运行 banzhuren init" in found["数据库"]
    assert not (tmp_path / "banzhuren.db").exists()
    assert "权限是 0644" in found["测评密封密钥"] and f"chmod 600 {key}" in found["测评密封密钥"]
    assert found["Redis"].startswith("✓")
    assert "没有 worker 应答" in found["Celery worker"]
    assert "banzhuren worker" in found["Celery worker"]
    assert "没有心跳" in found["Celery beat"] and "banzhuren beat" in found["Celery beat"]
    settings_line = found["微信/企业微信/统一身份认证设置"]
    assert "BANZHUREN_WECHAT_AES_KEY 却没有 BANZHUREN_WECHAT_APPID" in settings_line
    assert "设置了 BANZHUREN_WECHAT_SECRET 却没有 BANZHUREN_WECHAT_APPID" in settings_line
    assert "没有找到" in found["中文字体"] and "fonts-wqy-microhei" in found["中文字体"]
    assert found["时钟"].startswith("✓")
    assert found["微信接口"].startswith("✗")
    failed = [line for line in found.values() if line.startswith("✗")]
    assert f"{len(failed)} 项未通过。" in result.stderr
    # Every ✗ line says how to fix it.
    assert all("修复：" in line for line in failed), failed


def test_online_with_a_wrong_secret_names_it(fake_wechat_api, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = fake_wechat_api.settings(db_url, wechat_secret="not-the-secret")
    check = checks.check_wechat_token(settings)
    assert not check.ok
    assert "errcode 40125" in check.line and "AppSecret 不对" in check.line


def test_a_seal_key_that_does_not_open_an_open_round(db_url, session, tmp_path, monkeypatch):
    from core.surveys.seal import envelope_context, seal
    from models import SealedEnvelope
    from tests.conftest import make_settings
    from tests.support.dashboard import SURVEY, build_world

    monkeypatch.chdir(tmp_path)
    world = build_world(session)
    session.add(Survey(id="s2", title="第二轮", method="mean_score", definition=SURVEY))
    session.flush()
    rnd = SurveyRound(term_id=world.term.id, survey_id="s2", definition=SURVEY)
    session.add(rnd)
    session.flush()
    sealing = make_settings(db_url, seal_key=generate_key())
    for i in range(3):
        session.add(
            SealedEnvelope(
                round_id=rnd.id, sealed=seal(sealing, {"i": i}, envelope_context(rnd.id))
            )
        )
    session.commit()
    good = checks.check_seal_key(sealing, database_ready=True)
    assert good.ok and "3 份答卷" in good.line
    wrong = checks.check_seal_key(
        make_settings(db_url, seal_key=generate_key()), database_ready=True
    )
    assert not wrong.ok
    assert f"轮次 {rnd.id} 有 3/3 份打不开" in wrong.line
    assert "BANZHUREN_SEAL_PREVIOUS_KEY" in wrong.line
    # The dashboard's sample sees it too.
    sampled = checks.check_seal_key(
        make_settings(db_url, seal_key=generate_key()), database_ready=True, sample=1
    )
    assert not sampled.ok and "1/1 份打不开" in sampled.line
    # A key file nobody set and none in the working directory.
    missing = checks.check_seal_key(make_settings(db_url, seal_key=None), database_ready=True)
    assert not missing.ok and "banzhuren init" in missing.line


def test_the_clock_against_the_database_server(db_url):
    from tests.conftest import make_settings

    settings = make_settings(db_url)
    real = checks.check_clock(settings, database_ready=True)
    assert real.ok, real.line  # the real server: PostgreSQL's now() or SQLite's
    ahead = checks.check_clock(
        settings,
        database_ready=True,
        server_now=lambda _s: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=95),
    )
    assert not ahead.ok and "+95 秒" in ahead.line and "NTP" in ahead.line


def test_a_stale_beat_heartbeat_is_a_failure(redis_url, redis_prefix, db_url):
    from core.beat import heartbeat_key
    from core.redis_client import redis_client
    from tests.conftest import make_settings

    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    redis_client(settings).set(heartbeat_key(settings), f"{time.time() - 300:.0f}")
    stale = checks.check_beat(settings)
    assert not stale.ok and "最后心跳在 300 秒前" in stale.line
    redis_client(settings).set(heartbeat_key(settings), f"{time.time():.0f}")
    assert checks.check_beat(settings).ok


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"wechat_token": None}, "未设置 BANZHUREN_WECHAT_TOKEN"),
        ({"wechat_secret": None}, "却没有 BANZHUREN_WECHAT_SECRET"),
        ({"wechat_previous_aes_key": "b" * 43}, "却没有 BANZHUREN_WECHAT_AES_KEY"),
        ({"wechat_allow_plaintext": True}, "BANZHUREN_WECHAT_ALLOW_PLAINTEXT"),
        (
            {"wechat_tap_to_answer": True, "wechat_appid": None, "wechat_secret": None},
            "BANZHUREN_WECHAT_TAP_TO_ANSWER 需要",
        ),
        ({"cas_url": "https://cas.example/"}, "却没有 BANZHUREN_PUBLIC_URL"),
        ({"wecom_corp_id": "ww1"}, "缺少 BANZHUREN_WECOM_AGENT_ID、BANZHUREN_WECOM_SECRET"),
        (
            {
                "wecom_corp_id": "ww1",
                "wecom_agent_id": "1",
                "wecom_secret": "s",
                "wecom_token": "t",
            },
            "缺少 BANZHUREN_WECOM_AES_KEY",
        ),
    ],
)
def test_settings_that_do_not_fit_together(changes, problem):
    from core.settings import Settings

    configured = Settings(wechat_token="t0ken", wechat_appid="wx0", wechat_secret="s3cret")
    base = vars(configured) | {"cas_url": None, "public_url": None}
    assert checks.settings_problems(types.SimpleNamespace(**base)) == []
    problems = checks.settings_problems(types.SimpleNamespace(**(base | changes)))
    assert len(problems) == 1 and problem in problems[0], problems


def test_a_settings_error_is_a_failed_check(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = doctor({"BANZHUREN_SECRET_KEY": "short"})
    assert result.exit_code == 1
    assert result.stdout.startswith("✗ 设置：BANZHUREN_SECRET_KEY 太短")


def test_overview_shows_student_affairs_the_failures(session, app, client, monkeypatch, tmp_path):
    from tests.support.dashboard import build_world, login, make_user

    monkeypatch.setattr(core.fonts, "FONT_DIRS", (tmp_path,))
    checks._cache.clear()
    world = build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "gq", UserRole.BRANCH, world.dep_a)
    login(client, "xsc")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "部署检查（banzhuren doctor）未通过" in page
    assert "✗ 中文字体：没有找到" in page
    assert "✓" not in page  # only the failures
    checks._cache.clear()
    branch = app.test_client()
    login(branch, "gq")
    branch_page = branch.get("/dashboard/").get_data(as_text=True)
    assert "部署检查" not in branch_page and "中文字体" not in branch_page
