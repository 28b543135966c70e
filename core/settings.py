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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_BASE = "https://api.weixin.qq.com/"
# deploy/.env.example's placeholder values start with this; they fail validation until replaced.
PLACEHOLDER_PREFIX = "changeme"
PLACEHOLDER = "CHANGE-ME"
MIN_SECRET_KEY_LENGTH = 32


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
        raise ConfigError(f"{name} 应为整数，现为 {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} 至少为 {minimum}，现为 {value}")
    if maximum is not None and value > maximum:
        raise ConfigError(f"{name} 至多为 {maximum}，现为 {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} 应为 true 或 false，现为 {raw!r}")


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the ``BANZHUREN_*`` variables into a :class:`Settings`, validating each."""
    env = os.environ if environ is None else environ
    get = lambda name: env.get(name) or None  # noqa: E731 - empty means unset

    # deploy/.env.example ships CHANGE-ME placeholders: refuse them until they are replaced.
    for name, value in env.items():
        if name.startswith("BANZHUREN_") and value and PLACEHOLDER in value.upper():
            raise ConfigError(f"{name} 仍是 .env.example 的占位值 {PLACEHOLDER}：请换成真实的值")

    secret_key = get("BANZHUREN_SECRET_KEY")
    secret_key_configured = secret_key is not None
    if secret_key is not None and len(secret_key) < MIN_SECRET_KEY_LENGTH:
        # Sessions and CSRF tokens are signed with it: a short one can be guessed offline
        # from a single cookie.
        raise ConfigError(
            f"BANZHUREN_SECRET_KEY 太短（{len(secret_key)} 个字符，至少 {MIN_SECRET_KEY_LENGTH} 个）；"
            '生成：python3 -c "import secrets; print(secrets.token_hex(32))"'
        )
    if secret_key is None:
        secret_key = secrets.token_hex(32)

    token = get("BANZHUREN_WECHAT_TOKEN")
    if token is not None and not (3 <= len(token) <= 32 and token.isalnum() and token.isascii()):
        raise ConfigError(
            "BANZHUREN_WECHAT_TOKEN 应为 3-32 位英文字母或数字（公众号服务器配置的 Token）"
        )
    if token is not None and token.lower().startswith(PLACEHOLDER_PREFIX):
        raise ConfigError(
            "BANZHUREN_WECHAT_TOKEN 仍是 .env.example 的占位值：请设为公众号服务器配置中的 Token"
        )

    aes_key = get("BANZHUREN_WECHAT_AES_KEY")
    previous_aes_key = get("BANZHUREN_WECHAT_PREVIOUS_AES_KEY")
    for name, key in (
        ("BANZHUREN_WECHAT_AES_KEY", aes_key),
        ("BANZHUREN_WECHAT_PREVIOUS_AES_KEY", previous_aes_key),
    ):
        if key is not None and (len(key) != 43 or not key.isalnum()):
            raise ConfigError(f"{name} 应为 43 位的 EncodingAESKey（公众号服务器配置）")

    tz = get("BANZHUREN_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"BANZHUREN_TIMEZONE：未知时区 {tz!r}（例如 Asia/Shanghai）") from None

    api_base = get("BANZHUREN_WECHAT_API_BASE") or DEFAULT_API_BASE
    if not api_base.startswith(("http://", "https://")):
        raise ConfigError("BANZHUREN_WECHAT_API_BASE 应为 http(s):// 开头的网址")
    if not api_base.endswith("/"):
        api_base += "/"

    redis_url = get("BANZHUREN_REDIS_URL")
    if redis_url is not None and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "BANZHUREN_REDIS_URL 应为 redis:// 开头的网址，例如 redis://127.0.0.1:6379/0"
        )

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
    )


def _school_name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not name:
        return Settings.school_name
    if len(name) > 40 or any(not ch.isprintable() for ch in name):
        raise ConfigError("BANZHUREN_SCHOOL_NAME 应为一行、至多 40 个字符的校名")
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
            "BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS 应为以 ; 分隔的 字段=变量"
            f"（变量：{', '.join(TEMPLATE_VARIABLES)}），现为 {raw!r}"
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
                f"{name} 应为 URL 安全 base64 编码的 32 字节密钥，生成："
                'python3 -c "from core.surveys.seal_key import generate_key; print(generate_key())"'
            ) from None
    return raw
