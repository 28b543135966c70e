"""The campus login's two outside calls (PROTOCOL.md, "Web page authorisation" and "Campus
single sign-on"): WeChat's web authorisation gives the page the student's openid (silently,
``snsapi_base``), the school's CAS gives their 学号/工号.

wechatpy's :class:`~wechatpy.oauth.WeChatOAuth` builds the authorise URL and exchanges the code,
pointed at the configured API base; python-cas validates the ticket. Both get a timeout (neither
library sets one), and every way an outside server can fail ends in one of three exceptions, so
the web edge shows a page, never a 500.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree

import requests
from cas import CASClient
from wechatpy.exceptions import WeChatOAuthException
from wechatpy.oauth import WeChatOAuth

from core.settings import Settings

# Where the phone is sent for the openid: WeChat's own page, never a configurable one (the
# tests and the demo play WeChat's part from the URL built here, see FakeWeChatApi.authorize).
AUTHORIZE_BASE = "https://open.weixin.qq.com/connect/"
START_PATH = "/bind/start"
WECHAT_PATH = "/bind/wechat"
CAS_PATH = "/bind/cas"
# Seconds to wait for WeChat or CAS: the student is looking at a blank page meanwhile.
TIMEOUT = 8
CAS_NS = "{http://www.yale.edu/tp/cas}"
# Longest 学号/工号 taken from CAS (the roster's columns are shorter still).
MAX_CAMPUS_ID = 64


class CampusLoginError(Exception):
    """The campus login cannot go on; the subclass says why."""


class Unreachable(CampusLoginError):
    """WeChat or CAS did not answer, or answered something that is not their protocol."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service  # "wechat" or "cas"
        self.detail = detail


class CodeRefused(CampusLoginError):
    """WeChat refused the authorisation code (40029 invalid, 40163 used, expired...)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode


class TicketRefused(CampusLoginError):
    """CAS refused the ticket: ``code`` is its failure code (INVALID_TICKET, INVALID_SERVICE,
    INVALID_REQUEST...)."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(f"{code} {message}".strip())
        self.code = code


def start_url(settings: Settings) -> str:
    """What the menu's 绑定 button opens."""
    assert settings.public_url
    return settings.public_url + START_PATH


def wechat_redirect_uri(settings: Settings) -> str:
    assert settings.public_url
    return settings.public_url + WECHAT_PATH


def cas_service_url(settings: Settings) -> str:
    """The CAS service URL: the same string at login and at validation (CAS compares them)."""
    assert settings.public_url
    return settings.public_url + CAS_PATH


class _OAuth(WeChatOAuth):
    OAUTH_BASE_URL = AUTHORIZE_BASE

    def __init__(self, settings: Settings, state: str = "", path: str = WECHAT_PATH) -> None:
        assert settings.public_url
        super().__init__(
            settings.wechat_appid,
            settings.wechat_secret,
            settings.public_url + path,
            scope="snsapi_base",
            state=state,
        )
        # wechatpy 1.8 reads the base from the instance: the fake API in tests and the demo.
        self.API_BASE_URL = settings.wechat_api_base

    def _request(self, method, url_or_endpoint, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        return super()._request(method, url_or_endpoint, **kwargs)


def authorize_url(settings: Settings, state: str, path: str = WECHAT_PATH) -> str:
    """WeChat's web authorisation page for ``state``; WeChat comes back to ``path`` under the
    public address (/bind/wechat; the online application's /apply/wechat, issue 25.2)."""
    return _OAuth(settings, state, path).authorize_url


def openid_for_code(settings: Settings, code: str) -> str:
    """Exchange the authorisation code for the user's openid (``sns/oauth2/access_token``)."""
    try:
        answer = _OAuth(settings).fetch_access_token(code)
    except WeChatOAuthException as exc:
        if exc.errcode is None:  # an HTTP error status
            raise Unreachable("wechat", str(exc)) from None
        raise CodeRefused(int(exc.errcode), str(exc.errmsg)) from None
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        raise Unreachable("wechat", f"{type(exc).__name__}: {exc}") from None
    openid = answer.get("openid")
    if not isinstance(openid, str) or not 0 < len(openid) <= 64:
        raise Unreachable("wechat", "no openid in the answer")
    return openid


class _TimeoutSession(requests.Session):
    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(*args, **kwargs)


def _cas_client(settings: Settings):
    assert settings.cas_url
    return CASClient(
        version=settings.cas_version,
        service_url=cas_service_url(settings),
        server_url=settings.cas_url,
        session=_TimeoutSession(),
    )


def cas_login_url(settings: Settings) -> str:
    """The school's CAS login page, coming back to /bind/cas with a ticket."""
    return _cas_client(settings).get_login_url()


# CAS protocol 3.0 (3.1.1, 3.7): tickets are letters, digits and hyphens, and a client should
# accept up to 256 characters; Apereo CAS appends its host name (dots), so the URL-unreserved
# characters are let through. Anything else never came from CAS: it is refused without asking
# CAS (which might echo it back in a reply that is not well-formed XML).
_TICKET = re.compile(r"[A-Za-z0-9._~-]{1,256}")


def plausible_ticket(ticket: str) -> bool:
    return bool(_TICKET.fullmatch(ticket))


def failure_code(xml: bytes) -> tuple[str, str] | None:
    """(code, message) of a CAS ``authenticationFailure``, or None when it is not one."""
    root = ElementTree.fromstring(xml)
    failure = root.find(CAS_NS + "authenticationFailure")
    if failure is None:
        return None
    return failure.get("code") or "UNKNOWN", (failure.text or "").strip()


def campus_id(user: str | None, attributes: dict | None, attribute: str | None) -> str | None:
    """The 学号/工号 from a CAS answer: ``cas:user``, or the attribute ``attribute`` (the first
    value of a multi-valued one). None when absent, blank or implausibly long."""
    value: object = user
    if attribute:
        value = (attributes or {}).get(attribute)
        if isinstance(value, list):
            value = value[0] if value else None
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > MAX_CAMPUS_ID or not value.isprintable():
        return None
    return value


def validate_ticket(settings: Settings, ticket: str) -> str | None:
    """Validate ``ticket`` at CAS (``p3/serviceValidate``, or ``serviceValidate`` for version 2)
    for this service; the 学号/工号 it names (None when CAS names none). Raises
    :class:`TicketRefused` or :class:`Unreachable`."""
    client = _cas_client(settings)
    try:
        xml = client.get_verification_response(ticket)
    except requests.RequestException as exc:
        raise Unreachable("cas", f"{type(exc).__name__}: {exc}") from None
    try:
        failed = failure_code(xml)
        if failed is not None:
            raise TicketRefused(*failed)
        user, attributes, _pgtiou = client.verify_response(xml)
    except (ElementTree.ParseError, IndexError, AttributeError) as exc:
        raise Unreachable("cas", f"not a CAS answer: {type(exc).__name__}") from None
    if user is None:
        raise Unreachable("cas", "neither success nor failure")
    return campus_id(user, attributes, settings.cas_user_attribute)
