"""Configuration: defaults, then ``BANZHUREN_*`` environment variables, parsed once.

Kept free of Flask so that the worker, the CLI and the models' session can share it.
A malformed value fails fast with the variable's name in the message.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_API_BASE = "https://api.weixin.qq.com/"
DEFAULT_WECOM_API_BASE = "https://qyapi.weixin.qq.com/"
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
    # Issue 15: the template message used when a student's customer-service allowance is spent
    # (its id in the official account's 模板消息 list), how the template's keywords are filled
    # ("keyword=variable;...", variables: title, term, deadline, hint; never first/remark,
    # which WeChat no longer shows, issue 23) and the page a tap on it opens (none when unset).
    # Without a template id such students are unreachable.
    wechat_template_remind: str | None = None
    wechat_template_remind_fields: str = "thing1=title;time2=deadline;thing3=hint"
    wechat_template_url: str | None = None
    # Issue 15.3: survey questions go out as tappable menu messages (needs 客服消息 permission).
    wechat_tap_to_answer: bool = False
    # Issue 23.4: binding by campus login. The https address the account's pages are served
    # under (no trailing slash; its host is the account's 网页授权域名), the school's CAS prefix
    # (with a trailing slash, as python-cas joins paths onto it), the CAS protocol version and
    # the attribute holding the 学号/工号 when ``cas:user`` is not it.
    public_url: str | None = None
    cas_url: str | None = None
    cas_version: int = 3
    cas_user_attribute: str | None = None
    # Issue 25.5: the school's WeCom (企业微信) self-built app, for staff. All five or none.
    wecom_corp_id: str | None = None
    wecom_agent_id: int | None = None
    wecom_secret: str | None = None
    wecom_token: str | None = None
    wecom_aes_key: str | None = None
    wecom_api_base: str = DEFAULT_WECOM_API_BASE

    @property
    def wecom(self) -> bool:
        """True when the WeCom app is configured (``/wecom`` answers, staff messages go there)."""
        return bool(self.wecom_corp_id and self.wecom_token and self.wecom_aes_key)

    @property
    def campus_login(self) -> bool:
        """True when students and staff bind by campus login (CAS) rather than by code only."""
        return bool(self.cas_url and self.public_url)

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
        apply_months=_months(get("BANZHUREN_APPLY_MONTHS")),
        **_campus_login(get),
        **_wecom(get),
    )


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


_CAS_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")


def _http_url(name: str, raw: str) -> str:
    """``raw`` as an absolute http(s) URL without query or fragment, else ConfigError."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(
            f"{name} 应为完整的 http(s) 地址（例如 https://bzr.example.edu.cn），不含 ? 和 #，"
            f"现为 {raw!r}"
        )
    return raw


def _campus_login(get) -> dict[str, Any]:
    """The campus-login settings, checked together: CAS needs the public address (its service
    URL and WeChat's redirect are built on it) and the AppID and secret (the openid comes from
    WeChat's web authorisation)."""
    public_url = get("BANZHUREN_PUBLIC_URL")
    if public_url is not None:
        public_url = _http_url("BANZHUREN_PUBLIC_URL", public_url).rstrip("/")
    cas_url = get("BANZHUREN_CAS_URL")
    if cas_url is not None:
        cas_url = _http_url("BANZHUREN_CAS_URL", cas_url).rstrip("/") + "/"
        if public_url is None:
            raise ConfigError(
                "设置了 BANZHUREN_CAS_URL（校园统一身份认证）就必须同时设置 BANZHUREN_PUBLIC_URL："
                "本系统对外的 https 地址（例如 https://bzr.example.edu.cn），"
                "CAS 登录后回到它，微信网页授权也回到它"
            )
        if not (get("BANZHUREN_WECHAT_APPID") and get("BANZHUREN_WECHAT_SECRET")):
            raise ConfigError(
                "设置了 BANZHUREN_CAS_URL 还需要 BANZHUREN_WECHAT_APPID 和 BANZHUREN_WECHAT_SECRET："
                "微信网页授权用它们取得学生的 openid"
            )
    raw_version = get("BANZHUREN_CAS_VERSION") or "3"
    if raw_version not in ("2", "3"):
        raise ConfigError(
            f"BANZHUREN_CAS_VERSION 只能是 2 或 3（CAS 协议版本），现为 {raw_version!r}"
        )
    attribute = get("BANZHUREN_CAS_USER_ATTRIBUTE")
    if attribute is not None and not _CAS_ATTRIBUTE.match(attribute):
        raise ConfigError(
            "BANZHUREN_CAS_USER_ATTRIBUTE 应为 CAS 属性名（字母、数字、下划线，例如 employeeNumber），"
            f"现为 {attribute!r}"
        )
    return {
        "public_url": public_url,
        "cas_url": cas_url,
        "cas_version": int(raw_version),
        "cas_user_attribute": attribute,
    }


_WECOM_NAMES = (
    "BANZHUREN_WECOM_CORP_ID",
    "BANZHUREN_WECOM_AGENT_ID",
    "BANZHUREN_WECOM_SECRET",
    "BANZHUREN_WECOM_TOKEN",
    "BANZHUREN_WECOM_AES_KEY",
)
_CORP_ID = re.compile(r"^[A-Za-z0-9]{4,64}$")
_WECOM_SECRET = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


def _wecom(get) -> dict[str, Any]:
    """The WeCom app's settings, all or none: a half-configured app would answer its callback
    but not send, or send but not decrypt."""
    values = {name: get(name) for name in _WECOM_NAMES}
    api_base = get("BANZHUREN_WECOM_API_BASE")
    if api_base is not None:
        api_base = _http_url("BANZHUREN_WECOM_API_BASE", api_base).rstrip("/") + "/"
    given = [name for name, value in values.items() if value is not None]
    if not given:
        return {"wecom_api_base": api_base or DEFAULT_WECOM_API_BASE}
    missing = [name for name in _WECOM_NAMES if values[name] is None]
    if missing:
        raise ConfigError(
            f"企业微信的设置要么全部填写，要么全部不填：已设置 {given[0]}，还缺少 {missing[0]}"
            + (f" 等 {len(missing)} 项" if len(missing) > 1 else "")
            + "（企业微信管理后台 → 应用管理 → 自建应用）"
        )
    corp_id = values["BANZHUREN_WECOM_CORP_ID"]
    if not _CORP_ID.match(corp_id):
        raise ConfigError(
            f"BANZHUREN_WECOM_CORP_ID 应为企业ID（字母和数字，例如 ww1234567890abcdef），现为 {corp_id!r}"
        )
    agent_raw = values["BANZHUREN_WECOM_AGENT_ID"]
    if not (agent_raw.isascii() and agent_raw.isdigit() and 0 < len(agent_raw) <= 10):
        raise ConfigError(
            f"BANZHUREN_WECOM_AGENT_ID 应为自建应用的 AgentId（数字，例如 1000002），现为 {agent_raw!r}"
        )
    secret = values["BANZHUREN_WECOM_SECRET"]
    if not _WECOM_SECRET.match(secret):
        raise ConfigError("BANZHUREN_WECOM_SECRET 应为自建应用的 Secret（字母、数字、- 和 _）")
    token = values["BANZHUREN_WECOM_TOKEN"]
    if not (3 <= len(token) <= 32 and token.isalnum() and token.isascii()):
        raise ConfigError("BANZHUREN_WECOM_TOKEN 应为 3 到 32 个字母或数字（接收消息的 Token）")
    aes_key = values["BANZHUREN_WECOM_AES_KEY"]
    if len(aes_key) != 43 or not aes_key.isalnum() or not aes_key.isascii():
        raise ConfigError(
            "BANZHUREN_WECOM_AES_KEY 应为 43 个字母或数字（接收消息的 EncodingAESKey）"
        )
    return {
        "wecom_corp_id": corp_id,
        "wecom_agent_id": int(agent_raw),
        "wecom_secret": secret,
        "wecom_token": token,
        "wecom_aes_key": aes_key,
        "wecom_api_base": api_base or DEFAULT_WECOM_API_BASE,
    }


def _school_name(raw: str | None) -> str:
    name = (raw or "").strip()
    if not name:
        return Settings.school_name
    if len(name) > 40 or any(not ch.isprintable() for ch in name):
        raise ConfigError("BANZHUREN_SCHOOL_NAME 应为一行、至多 40 个字符的校名")
    return name


TEMPLATE_VARIABLES = ("title", "term", "deadline", "hint")


TEMPLATE_FIELDS_SETTING = "BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS"


def parse_template_fields(raw: str) -> dict[str, str]:
    """``"thing1=title;time2=deadline"`` → ``{"thing1": "title", "time2": "deadline"}``;
    raises ValueError with the reason (Chinese) for a malformed pair, a field WeChat no longer
    shows (``first``, ``remark``), a name that is not a template keyword or an unknown
    variable."""
    from core.wechat.template import KEYWORD_NAME, RETIRED_FIELDS

    out = {}
    for part in raw.split(";"):
        if not part.strip():
            continue
        name, sep, variable = (x.strip() for x in part.partition("="))
        if not sep or not name:
            raise ValueError(f"「{part.strip()}」不是「关键词=变量」的形式")
        if name in RETIRED_FIELDS:
            raise ValueError(
                f"「{name}」字段微信自2023年5月起不再显示，请改用模板的关键词（如 thing1、time2）"
            )
        if not KEYWORD_NAME.fullmatch(name):
            raise ValueError(
                f"「{name}」不是模板关键词的名称（如 thing1、time2、character_string3）"
            )
        if variable not in TEMPLATE_VARIABLES:
            raise ValueError(
                f"「{variable}」不是可用的变量（可用：{'、'.join(TEMPLATE_VARIABLES)}）"
            )
        if name in out:
            raise ValueError(f"关键词「{name}」出现了两次")
        out[name] = variable
    if not out:
        raise ValueError("至少要填一个关键词")
    return out


def _template_fields(raw: str) -> str:
    try:
        parse_template_fields(raw)
    except ValueError as exc:
        raise ConfigError(
            f"{TEMPLATE_FIELDS_SETTING} 设置有误：{exc}。格式为用分号分隔的「关键词=变量」，"
            f"例如 thing1=title;time2=deadline;thing3=hint（当前值 {raw!r}）"
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
