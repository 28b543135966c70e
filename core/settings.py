"""Configuration: defaults, then ``BANZHUREN_*`` environment variables, parsed once.

Kept free of Flask so that the worker, the CLI and the models' session can share it.
A malformed value fails fast with the variable's name in the message.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_BASE = "https://api.weixin.qq.com/"
# deploy/.env.example's placeholder values start with this; they fail validation until replaced.
PLACEHOLDER_PREFIX = "changeme"
PLACEHOLDER = "CHANGE-ME"


class ConfigError(ValueError):
    """A ``BANZHUREN_*`` variable holds a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///banzhuren.db"
    redis_url: str | None = None
    secret_key: str = field(default_factory=lambda: secrets.token_hex(32))
    # No default: unset, /wechat refuses every request (503) rather than accept messages
    # signed with a well-known token.
    wechat_token: str | None = None
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    wechat_aes_key: str | None = None
    # The key before the last rotation in the admin console; tried second when decrypting.
    wechat_previous_aes_key: str | None = None
    wechat_api_base: str = DEFAULT_API_BASE
    min_respondents: int = 5
    # Percent of eligible students (0-100): below it a teacher's satisfaction is 数据不足 and,
    # as below min_respondents, only the percentage and the grade are shown.
    min_participation: int = 0
    timezone: str = "Asia/Shanghai"
    # Printed on documents and pages.
    school_name: str = "哈尔滨音乐学院"
    # Not in the public contract: lets several test runs or deployments share one Redis
    # without seeing each other's keys or tasks.
    redis_prefix: str = "banzhuren"
    celery_queue: str = "banzhuren"
    # Replay window for signed webhook requests, in seconds.
    signature_max_age: int = 300
    secure_cookies: bool = False
    # With an EncodingAESKey set, plaintext messages are refused unless this is true (only
    # while switching the official account from plaintext to compatible/safe mode).
    wechat_allow_plaintext: bool = False
    # Seals survey answers while a round is open (core/surveys/seal.py); unset: the key file
    # `banzhuren init` writes. The previous key opens what it sealed until those rounds close.
    seal_key: str | None = None
    seal_previous_key: str | None = None
    # False when BANZHUREN_SECRET_KEY was not set (a random key stands in): `banzhuren serve` and
    # gunicorn refuse to start then; other commands do not need the key.
    secret_key_configured: bool = True
    # A dashboard login ends this long after it began, or after this long without a request.
    session_lifetime_minutes: int = 720
    session_idle_minutes: int = 60
    # How many reverse proxies (nginx) sit in front and set X-Forwarded-For / -Proto: the login
    # lockout is per source address, so the address must be the client's, not nginx's.
    trusted_proxies: int = 0
    # Issue 15: the template message used when a student's 48-hour customer-service window is
    # closed (its id in the official account's 模板消息 list), how the template's fields are
    # filled ("field=variable;...", variables: title, term, deadline, hint) and the page a tap
    # on it opens (none when unset). Without a template id such students are unreachable.
    wechat_template_remind: str | None = None
    wechat_template_remind_fields: str = "first=title;keyword1=term;keyword2=deadline;remark=hint"
    wechat_template_url: str | None = None
    # Issue 15.3: survey questions go out as tappable menu messages (needs 客服消息 permission).
    wechat_tap_to_answer: bool = False
    # The https address the account's pages are served under (no trailing slash): links in
    # chat replies (日志本, 申请) are built on it. The campus-login branch reads the same variable.
    public_url: str | None = None
    # Issue 25.2: the months (1-12) in which head teachers may apply online (第九条: 每年6月初).
    apply_months: tuple[int, ...] = (6,)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def embedded(self) -> bool:
        """True when no Redis is configured: tasks run in-process, state lives in the database."""
        return not self.redis_url

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


def _int(
    environ: Mapping[str, str],
    name: str,
    default: int,
    minimum: int = 0,
    maximum: int | None = None,
) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the ``BANZHUREN_*`` variables into a :class:`Settings`, validating each."""
    env = os.environ if environ is None else environ
    get = lambda name: env.get(name) or None  # noqa: E731 - empty means unset

    # deploy/.env.example ships CHANGE-ME placeholders: refuse them until they are replaced.
    for name, value in env.items():
        if name.startswith("BANZHUREN_") and value and PLACEHOLDER in value.upper():
            raise ConfigError(f"{name} still holds the placeholder {PLACEHOLDER}: replace it")

    secret_key = get("BANZHUREN_SECRET_KEY")
    secret_key_configured = secret_key is not None
    if secret_key is None:
        secret_key = secrets.token_hex(32)

    token = get("BANZHUREN_WECHAT_TOKEN")
    if token is not None and not (3 <= len(token) <= 32 and token.isalnum() and token.isascii()):
        raise ConfigError("BANZHUREN_WECHAT_TOKEN must be 3-32 letters or digits")
    if token is not None and token.lower().startswith(PLACEHOLDER_PREFIX):
        raise ConfigError(
            "BANZHUREN_WECHAT_TOKEN still holds the placeholder from .env.example: "
            "set the Token of the official account's server settings"
        )

    aes_key = get("BANZHUREN_WECHAT_AES_KEY")
    previous_aes_key = get("BANZHUREN_WECHAT_PREVIOUS_AES_KEY")
    for name, key in (
        ("BANZHUREN_WECHAT_AES_KEY", aes_key),
        ("BANZHUREN_WECHAT_PREVIOUS_AES_KEY", previous_aes_key),
    ):
        if key is not None and (len(key) != 43 or not key.isalnum()):
            raise ConfigError(f"{name} must be the 43-character EncodingAESKey")

    tz = get("BANZHUREN_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"BANZHUREN_TIMEZONE: unknown time zone {tz!r}") from None

    api_base = get("BANZHUREN_WECHAT_API_BASE") or DEFAULT_API_BASE
    if not api_base.startswith(("http://", "https://")):
        raise ConfigError("BANZHUREN_WECHAT_API_BASE must be an http(s) URL")
    if not api_base.endswith("/"):
        api_base += "/"

    redis_url = get("BANZHUREN_REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("BANZHUREN_REDIS_URL must be a redis:// URL")

    return Settings(
        database_url=get("BANZHUREN_DATABASE_URL") or "sqlite:///banzhuren.db",
        redis_url=redis_url,
        secret_key=secret_key,
        wechat_token=token,
        wechat_appid=get("BANZHUREN_WECHAT_APPID"),
        wechat_secret=get("BANZHUREN_WECHAT_SECRET"),
        wechat_aes_key=aes_key,
        wechat_previous_aes_key=previous_aes_key,
        wechat_api_base=api_base,
        min_respondents=_int(env, "BANZHUREN_MIN_RESPONDENTS", 5, minimum=1),
        min_participation=_int(env, "BANZHUREN_MIN_PARTICIPATION", 0, maximum=100),
        timezone=tz,
        school_name=_school_name(get("BANZHUREN_SCHOOL_NAME")),
        redis_prefix=get("BANZHUREN_REDIS_PREFIX") or "banzhuren",
        celery_queue=get("BANZHUREN_CELERY_QUEUE") or "banzhuren",
        secure_cookies=_bool(env, "BANZHUREN_SECURE_COOKIES", False),
        wechat_allow_plaintext=_bool(env, "BANZHUREN_WECHAT_ALLOW_PLAINTEXT", False),
        seal_key=_seal_key(get, "BANZHUREN_SEAL_KEY"),
        seal_previous_key=_seal_key(get, "BANZHUREN_SEAL_PREVIOUS_KEY"),
        secret_key_configured=secret_key_configured,
        session_lifetime_minutes=_int(env, "BANZHUREN_SESSION_LIFETIME_MINUTES", 720, minimum=5),
        session_idle_minutes=_int(env, "BANZHUREN_SESSION_IDLE_MINUTES", 60, minimum=1),
        trusted_proxies=_int(env, "BANZHUREN_TRUSTED_PROXIES", 0),
        wechat_template_remind=get("BANZHUREN_WECHAT_TEMPLATE_REMIND"),
        wechat_template_remind_fields=_template_fields(
            get("BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS") or Settings.wechat_template_remind_fields
        ),
        wechat_template_url=get("BANZHUREN_WECHAT_TEMPLATE_URL"),
        wechat_tap_to_answer=_bool(env, "BANZHUREN_WECHAT_TAP_TO_ANSWER", False),
        public_url=_public_url(get("BANZHUREN_PUBLIC_URL")),
        apply_months=_months(get("BANZHUREN_APPLY_MONTHS")),
    )


def _public_url(raw: str | None) -> str | None:
    """An absolute http(s) address without query or fragment, trailing slash dropped."""
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            "BANZHUREN_PUBLIC_URL 应为完整的 http(s) 地址（例如 https://bzr.example.edu.cn），"
            f"不含 ? 和 #，现为 {raw!r}"
        )
    return raw.rstrip("/")


def _months(raw: str | None) -> tuple[int, ...]:
    """``"6"`` or ``"5,6"``: months 1-12, each once, in calendar order."""
    if raw is None:
        return Settings.apply_months
    months = []
    for part in raw.replace("，", ",").split(","):
        part = part.strip()
        if not part.isdigit() or not 1 <= int(part) <= 12:
            raise ConfigError(
                "BANZHUREN_APPLY_MONTHS 应为 1 到 12 的月份，用逗号分隔（例如 6 或 5,6），"
                f"现为 {raw!r}"
            )
        months.append(int(part))
    return tuple(sorted(set(months)))


def _school_name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not name:
        return Settings.school_name
    if len(name) > 40 or any(not ch.isprintable() for ch in name):
        raise ConfigError("BANZHUREN_SCHOOL_NAME must be one line of at most 40 characters")
    return name


TEMPLATE_VARIABLES = ("title", "term", "deadline", "hint")


def parse_template_fields(raw: str) -> dict[str, str]:
    """``"first=title;keyword1=term"`` → ``{"first": "title", "keyword1": "term"}``."""
    out = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        name, sep, variable = part.partition("=")
        if not sep or not name.strip() or variable.strip() not in TEMPLATE_VARIABLES:
            raise ValueError(part)
        out[name.strip()] = variable.strip()
    if not out:
        raise ValueError(raw)
    return out


def _template_fields(raw: str) -> str:
    try:
        parse_template_fields(raw)
    except ValueError:
        raise ConfigError(
            "BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS must be field=variable pairs separated by ';'"
            f" (variables: {', '.join(TEMPLATE_VARIABLES)}), got {raw!r}"
        ) from None
    return raw


def _seal_key(get, name: str) -> str | None:
    raw = get(name)
    if raw is not None:
        from core.surveys.seal_key import SealError, decode_key

        try:
            decode_key(raw)
        except SealError:
            raise ConfigError(
                f"{name} must be 32 bytes in URL-safe base64 (banzhuren seal-key makes one)"
            ) from None
    return raw
