"""The checks of ``banzhuren doctor`` (DESIGN.md, CLI): each returns one :class:`Check`, a
line ✓ or ✗ with the fix. Pure where they can be (settings, fonts); the others ask the
database, Redis, the workers or WeChat once, with short timeouts, and never raise."""

from __future__ import annotations

import datetime as dt
import stat
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.doctor.schema import SchemaStatus, schema_state
from core.settings import Settings

# The database server's clock may differ from this host's by this much.
CLOCK_TOLERANCE_S = 10.0
# How long a worker has to answer (the CLI; the dashboard asks with less).
WORKER_TIMEOUT_S = 1.0
# Survey envelopes opened per open round by the cheap check (the full check opens them all).
CHEAP_SEAL_SAMPLE = 20


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    @property
    def line(self) -> str:
        if self.ok:
            return f"✓ {self.name}：{self.detail}"
        return f"✗ {self.name}：{self.detail}" + (f"；修复：{self.fix}" if self.fix else "")


def _short(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}"


# --- database --------------------------------------------------------------------------------


def check_database(settings: Settings) -> Check:
    state = schema_state(settings.database_url)
    if state.ready:
        return Check(
            "数据库", True, f"{state.url} 可连接，结构已是最新（{', '.join(state.current)}）"
        )
    fixes = {
        SchemaStatus.MISSING: "运行 banzhuren init",
        SchemaStatus.BEHIND: "运行 banzhuren init 升级",
        SchemaStatus.UNKNOWN: "安装与数据库相符的版本",
        SchemaStatus.UNREACHABLE: "检查 BANZHUREN_DATABASE_URL 和数据库服务",
    }
    detail = f"{state.url} 尚未初始化"
    if state.status is SchemaStatus.UNREACHABLE:
        detail = f"无法连接 {state.url}（{state.error}）"
    elif state.status is SchemaStatus.BEHIND:
        detail = f"{state.url} 结构版本 {', '.join(state.current)}，最新 {', '.join(state.heads)}"
    return Check("数据库", False, detail, fixes[state.status])


# --- seal key --------------------------------------------------------------------------------


def check_seal_key(settings: Settings, *, database_ready: bool, sample: int | None = None) -> Check:
    """The key is there (a key file readable by its owner only) and opens every open round's
    envelopes and drafts (``sample``: at most that many of each round, for the dashboard)."""
    from core.surveys.seal import has_key
    from core.surveys.seal_key import key_file_path

    name = "测评密封密钥"
    if settings.seal_key:
        where = "BANZHUREN_SEAL_KEY"
    else:
        path = key_file_path()
        if not path.is_file():
            return Check(
                name,
                False,
                f"没有 {path}，也没有设置 BANZHUREN_SEAL_KEY",
                "在工作目录运行 banzhuren init 生成，或设置 BANZHUREN_SEAL_KEY",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            return Check(
                name, False, f"{path} 的权限是 {mode:04o}，别人也能读", f"chmod 600 {path}"
            )
        where = f"{path}（0600）"
    if not has_key(settings):
        return Check(name, False, f"{where} 不是有效的密钥", "换成 banzhuren init 生成的密钥")
    if not database_ready:
        return Check(name, True, f"{where}（数据库未就绪，未检查进行中的测评）")
    import core.db
    from core.surveys.rounds import envelope_status

    try:
        try:
            core.db.get_engine()  # the web app's own engine, when asked from the dashboard
        except RuntimeError:
            core.db.configure(settings.database_url)
        with core.db.session_scope() as session:
            status = envelope_status(session, settings, limit=sample)
    except Exception as exc:  # reported as a failed check, not a traceback
        return Check(name, False, f"无法读取进行中的测评：{_short(exc)}", "检查数据库")
    bad = {r: (t, ok) for r, (t, ok) in status.items() if ok < t}
    if bad:
        detail = "，".join(
            f"轮次 {r} 有 {t - ok}/{t} 份打不开" for r, (t, ok) in sorted(bad.items())
        )
        return Check(
            name,
            False,
            f"{where} 打不开进行中测评的答卷（{detail}）",
            "设置开放这些测评时的 BANZHUREN_SEAL_KEY（轮换后旧密钥放在 BANZHUREN_SEAL_PREVIOUS_KEY）",
        )
    sealed = sum(t for t, _ in status.values())
    return Check(name, True, f"{where}，打开了进行中 {len(status)} 轮测评的 {sealed} 份答卷")


# --- Redis, workers, beat --------------------------------------------------------------------


def check_redis(settings: Settings) -> Check:
    from core.redis_client import redis_client

    try:
        redis_client(settings).ping()
    except Exception as exc:
        return Check(
            "Redis", False, f"无法连接（{_short(exc)}）", "检查 BANZHUREN_REDIS_URL 和 Redis 服务"
        )
    return Check("Redis", True, "可连接")


def check_workers(settings: Settings, timeout: float = WORKER_TIMEOUT_S) -> Check:
    """A worker that consumes this deployment's queue answers within ``timeout``."""
    from core.celery_app import configure_celery

    name = "Celery worker"
    try:
        app = configure_celery(settings)
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as exc:
        return Check(name, False, f"无法询问 worker（{_short(exc)}）", "检查 Redis")
    ours = sorted(
        host
        for host, queues in replies.items()
        if any(q.get("name") == settings.celery_queue for q in queues or [])
    )
    if not ours:
        return Check(
            name,
            False,
            f"{timeout:g} 秒内没有 worker 应答（队列 {settings.celery_queue}）：考核、消息、提醒都不会执行",
            "启动 banzhuren worker（systemd：systemctl start banzhuren-worker）",
        )
    return Check(name, True, f"{len(ours)} 个在运行（{', '.join(ours)}）")


def check_beat(settings: Settings, now: float | None = None) -> Check:
    from core.beat import HEARTBEAT_STALE, heartbeat_key
    from core.redis_client import redis_client

    name = "Celery beat"
    fix = "启动且只启动一个 banzhuren beat（systemd：systemctl start banzhuren-beat）"
    try:
        raw = redis_client(settings).get(heartbeat_key(settings))
    except Exception as exc:
        return Check(name, False, f"无法读取心跳（{_short(exc)}）", "检查 Redis")
    if raw is None:
        return Check(name, False, f"{HEARTBEAT_STALE} 秒内没有心跳：定时任务不会执行", fix)
    age = (now or time.time()) - float(raw)
    if age > HEARTBEAT_STALE:
        return Check(name, False, f"最后心跳在 {age:.0f} 秒前：定时任务不会执行", fix)
    return Check(name, True, f"在运行（{max(age, 0):.0f} 秒前心跳）")


# --- settings --------------------------------------------------------------------------------


def settings_problems(settings: Any) -> list[str]:
    """What does not fit together in the WeChat, WeCom and CAS settings (pure). WeCom and CAS
    settings are read only if this version has them."""
    s = settings
    problems = []
    appid, secret = s.wechat_appid, s.wechat_secret
    if not s.wechat_token:
        problems.append("未设置 BANZHUREN_WECHAT_TOKEN：/wechat 拒绝所有消息（503）")
    if bool(appid) != bool(secret):
        given, missing = (
            ("BANZHUREN_WECHAT_APPID", "BANZHUREN_WECHAT_SECRET")
            if appid
            else ("BANZHUREN_WECHAT_SECRET", "BANZHUREN_WECHAT_APPID")
        )
        problems.append(f"设置了 {given} 却没有 {missing}")
    if s.wechat_aes_key and not appid:
        problems.append(
            "设置了 BANZHUREN_WECHAT_AES_KEY 却没有 BANZHUREN_WECHAT_APPID：加密消息无法解密"
        )
    if s.wechat_previous_aes_key and not s.wechat_aes_key:
        problems.append("设置了 BANZHUREN_WECHAT_PREVIOUS_AES_KEY 却没有 BANZHUREN_WECHAT_AES_KEY")
    if s.wechat_allow_plaintext and not s.wechat_aes_key:
        problems.append(
            "BANZHUREN_WECHAT_ALLOW_PLAINTEXT 只在设置了 BANZHUREN_WECHAT_AES_KEY 时有意义"
        )
    for flag, what in (
        ("wechat_template_remind", "BANZHUREN_WECHAT_TEMPLATE_REMIND"),
        ("wechat_tap_to_answer", "BANZHUREN_WECHAT_TAP_TO_ANSWER"),
    ):
        if getattr(s, flag, None) and not (appid and secret):
            problems.append(f"{what} 需要 BANZHUREN_WECHAT_APPID 和 BANZHUREN_WECHAT_SECRET")
    if getattr(s, "cas_url", None) and not getattr(s, "public_url", None):
        problems.append(
            "设置了 BANZHUREN_CAS_URL 却没有 BANZHUREN_PUBLIC_URL：统一身份认证无法回跳"
        )
    if getattr(s, "cas_url", None) and not appid:
        problems.append("统一身份认证绑定需要 BANZHUREN_WECHAT_APPID（网页授权）")
    # DESIGN.md's BANZHUREN_WECOM_*: the app's three to send, the callback's two together.
    wecom = {
        f"BANZHUREN_WECOM_{part.upper()}": getattr(s, f"wecom_{part}", None)
        for part in ("corp_id", "agent_id", "secret", "token", "aes_key")
    }
    if any(wecom.values()):
        needed = ("BANZHUREN_WECOM_CORP_ID", "BANZHUREN_WECOM_AGENT_ID", "BANZHUREN_WECOM_SECRET")
        missing = [k for k in needed if not wecom[k]]
        if bool(wecom["BANZHUREN_WECOM_TOKEN"]) != bool(wecom["BANZHUREN_WECOM_AES_KEY"]):
            missing.append(
                "BANZHUREN_WECOM_AES_KEY"
                if wecom["BANZHUREN_WECOM_TOKEN"]
                else "BANZHUREN_WECOM_TOKEN"
            )
        if missing:
            problems.append(f"企业微信设置不全：缺少 {'、'.join(missing)}")
    return problems


def check_settings(settings: Any) -> Check:
    name = "微信/企业微信/统一身份认证设置"
    problems = settings_problems(settings)
    if problems:
        return Check(name, False, "；".join(problems), "按 deploy/.env.example 补全或删去")
    wired = "、".join(
        label
        for label, on in (
            ("公众号消息", settings.wechat_token),
            ("主动消息", settings.wechat_appid),
            ("安全模式", settings.wechat_aes_key),
            ("统一身份认证", getattr(settings, "cas_url", None)),
            ("企业微信", getattr(settings, "wecom_corp_id", None)),
        )
        if on
    )
    return Check(name, True, f"一致（{wired or '均未设置'}）")


# --- font, clock, WeChat ---------------------------------------------------------------------


def check_font(dirs: Sequence[Path] | None = None) -> Check:
    from core.fonts import INSTALL_HINT, find_cjk_font

    font = find_cjk_font(dirs)
    if font is None:
        return Check("中文字体", False, "没有找到：班级二维码海报无法生成", INSTALL_HINT)
    return Check("中文字体", True, str(font))


def database_now(settings: Settings) -> dt.datetime:
    """The database server's clock, in UTC."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                value = conn.execute(text("SELECT now()")).scalar_one()
                return value.astimezone(dt.UTC)
            raw = conn.execute(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
            return dt.datetime.fromisoformat(raw).replace(tzinfo=dt.UTC)
    finally:
        engine.dispose()


def check_clock(
    settings: Settings,
    *,
    database_ready: bool,
    server_now: Callable[[Settings], dt.datetime] = database_now,
) -> Check:
    name = "时钟"
    try:
        tz = ZoneInfo(settings.timezone)
    except Exception as exc:
        return Check(
            name, False, f"时区 {settings.timezone} 无法加载（{_short(exc)}）", "安装 tzdata"
        )
    here = dt.datetime.now(dt.UTC)
    local = here.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if not database_ready:
        return Check(name, True, f"{settings.timezone} {local}（数据库未就绪，未比对）")
    try:
        there = server_now(settings)
    except Exception as exc:
        return Check(name, False, f"读不到数据库服务器的时间（{_short(exc)}）", "检查数据库")
    skew = (there - here).total_seconds()
    if abs(skew) > CLOCK_TOLERANCE_S:
        return Check(
            name,
            False,
            f"本机与数据库服务器相差 {skew:+.0f} 秒（允许 {CLOCK_TOLERANCE_S:.0f} 秒）",
            "在两台机器上启用 NTP 时间同步（timedatectl set-ntp true）",
        )
    return Check(name, True, f"{settings.timezone} {local}，与数据库服务器相差 {skew:+.1f} 秒")


def check_wechat_token(settings: Settings) -> Check:
    """--online: WeChat hands out an access token for the AppID and secret."""
    name = "微信接口"
    if not (settings.wechat_appid and settings.wechat_secret):
        return Check(
            name,
            False,
            "未设置 BANZHUREN_WECHAT_APPID / BANZHUREN_WECHAT_SECRET，无法获取 access_token",
            "在公众号后台「基本配置」查看并设置",
        )
    from core.wechat.api import WeChatApi

    try:
        WeChatApi(settings).fetch_access_token()
    except Exception as exc:
        code = getattr(exc, "errcode", None)
        hint = {
            40001: "AppSecret 不对",
            40013: "AppID 不对",
            40125: "AppSecret 不对",
            40164: "本机 IP 不在公众号的 IP 白名单中",
        }.get(code, "")
        detail = (
            f"获取 access_token 失败（errcode {code}）" if code else f"无法访问（{_short(exc)}）"
        )
        return Check(
            name,
            False,
            detail + (f"：{hint}" if hint else ""),
            f"检查 AppID、AppSecret、IP 白名单和 {settings.wechat_api_base}",
        )
    return Check(name, True, f"已获取 access_token（{settings.wechat_api_base}）")


# --- all of them -----------------------------------------------------------------------------


def run_checks(
    settings: Settings,
    *,
    online: bool = False,
    cheap: bool = False,
    font_dirs: Sequence[Path] | None = None,
) -> list[Check]:
    """Every check, in the order DESIGN.md lists them. ``cheap`` (the dashboard): a sample
    of each open round's envelopes, a shorter wait for workers; ``online`` adds WeChat."""
    checks = [check_database(settings)]
    ready = checks[0].ok
    checks.append(
        check_seal_key(settings, database_ready=ready, sample=CHEAP_SEAL_SAMPLE if cheap else None)
    )
    if settings.redis_url:
        checks.append(check_redis(settings))
        if checks[-1].ok:
            checks.append(check_workers(settings, timeout=0.5 if cheap else WORKER_TIMEOUT_S))
            checks.append(check_beat(settings))
    checks.append(check_settings(settings))
    checks.append(check_font(font_dirs))
    checks.append(check_clock(settings, database_ready=ready))
    if online:
        checks.append(check_wechat_token(settings))
    return checks


_cache: dict[int, tuple[float, list[Check]]] = {}
CACHE_S = 60.0


def failing_cheap_checks(settings: Settings, *, now: float | None = None) -> list[Check]:
    """The ✗ of the cheap checks, for the dashboard's overview: remembered for a minute per
    process, so that a page view does not wait for absent workers each time."""
    now = time.monotonic() if now is None else now
    cached = _cache.get(id(settings))
    if cached is None or now - cached[0] > CACHE_S:
        cached = (now, [c for c in run_checks(settings, cheap=True) if not c.ok])
        _cache.clear()
        _cache[id(settings)] = cached
    return cached[1]
