"""The one stand-in for WeChat's API servers: a real HTTP server on 127.0.0.1 (in a thread) that
speaks the calls the product makes, so that outbound messages go somewhere real without leaving
the machine. Point ``BANZHUREN_WECHAT_API_BASE`` at :attr:`FakeWeChatApi.base_url`.

Who uses it:

- ``banzhuren demo`` (``bot.demo.run``): survey notices, feedback forwarded to counsellors and
  class posters' QR codes; it reports :meth:`FakeWeChatApi.count` at the end. The demo's AppID
  may come from the environment, so it accepts any credentials (``appid=None``). It enforces
  the allowance (its player reports what each user does) and counts a refusal as a problem.
- the tests, through the ``fake_wechat_api`` fixture (``tests/support/wechat.py``), which read
  what arrived and make WeChat fail on purpose.
- `bench/soak.py`: what its worker sends (反馈 forwarded to counsellors) arrives here.

What it speaks: ``cgi-bin/token`` (only the latest token is accepted, like WeChat after its
overlap), ``message/custom/send`` (text and ``msgmenu``; recorded in ``sent``),
``message/template/send`` (``templates``), ``qrcode/create`` (``qrcodes``), ``menu/create``
(``menus``) and web authorisation's ``sns/oauth2/access_token`` (a code works once: 40163 when
used again, 40029 when unknown or older than five minutes). :meth:`FakeWeChatApi.authorize`
plays the phone's side of web authorisation: given the ``open.weixin.qq.com`` URL a page sent
the phone to, it checks the URL and returns where WeChat would send the phone back, with a code. Failures on request: ``inject(errcode, times)``, ``inject_http_status(502)``,
``inject_slow_ack(seconds)`` (the message arrives, the answer comes too late for the sender),
``expire_token()``; users WeChat would refuse: ``closed_windows`` (45015 on customer-service
sends) and ``unfollowed`` (43004 on every send).

WeChat's rules since 2023 (issue 23), enforced as WeChat does:

- the customer-service allowance, with ``enforce_allowance`` on: :meth:`user_action` tells it
  what a user did (the tests' ``wechat`` driver does so for every message and event it posts);
  a message grants 5 within 48 hours, a menu click, subscribe or scan 3 within a minute, each
  resetting the last; anything else grants nothing. A customer-service send with no grant in
  force is refused with 45015, past the grant's count with 45047; ``refusals`` lists them.
  ``clock`` (Unix seconds) may be replaced by a test's clock.
- template values: more than 20 characters, a line break or an emoji → 47003 "argument
  invalid". ``first``/``remark`` are taken (WeChat just does not show them) and listed in
  ``retired_fields_used``, which the tests' fixture treats as a failure.

Reading ``sent``, ``templates`` or ``count()`` first waits for this process's embedded outbox
sender (``core.outbox``) to finish, so what was queued here has arrived.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import unicodedata
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

Answer = tuple[int, dict]
OK = {"errcode": 0, "errmsg": "ok"}

# What WeChat grants (count, seconds), written here apart from core.reach.allowance so the
# fake checks the product rather than repeating it.
_MESSAGE_GRANT = (5, 48 * 3600)
_ACTION_GRANT = (3, 60)
_GRANTING_EVENTS = frozenset(
    {
        "click",
        "scancode_push",
        "scancode_waitmsg",
        "subscribe",
        "subscribe_scan",
        "subscribe_scan_product",
        "scan",
    }
)
TEMPLATE_VALUE_LIMIT = 20


def _has_emoji(text: str) -> bool:
    return any(
        ord(ch) >= 0x1F000
        or unicodedata.category(ch) == "So"
        or 0xFE00 <= ord(ch) <= 0xFE0F
        or ch == "\u200d"
        for ch in text
    )


def _drain() -> None:
    from core.outbox import drain

    drain()


class FakeWeChatApi:
    """State and server of the fake (see the module docstring)."""

    def __init__(self, appid: str | None = None, secret: str | None = None) -> None:
        self.appid = appid
        self.secret = secret
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self._sent: list[dict] = []
        self._templates: list[dict] = []
        self.menus: list[dict] = []  # posted to cgi-bin/menu/create, in order
        self.qrcodes: list[dict] = []
        self.closed_windows: set[str] = set()
        self.unfollowed: set[str] = set()
        self._errcodes: list[int] = []
        self._statuses: list[int] = []
        self._slow_acks: list[float] = []
        self.token_requests = 0
        self.send_requests = 0
        self.current_token: str | None = None
        # Web authorisation: code -> (openid, issued at); codes spent move to _used_codes.
        self._oauth_codes: dict[str, tuple[str, float]] = {}
        self._used_codes: set[str] = set()
        self.enforce_allowance = False
        self.clock: Callable[[], float] = time.time
        # openid → [messages left, expiry (clock seconds)]
        self._grants: dict[str, list] = {}
        self.refusals: list[tuple[str, int]] = []  # (openid, 45015 / 45047)
        self.retired_fields_used: list[str] = []  # template fields WeChat no longer shows

    # --- running it ---------------------------------------------------------------------------

    def start(self) -> FakeWeChatApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(
            target=self._server.serve_forever, name="fake-wechat-api", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        """The server's URL with a trailing slash (for ``wechat_api_base``)."""
        return self.url

    # --- what arrived -------------------------------------------------------------------------

    @property
    def sent(self) -> list[dict]:
        """Customer-service messages accepted so far."""
        _drain()
        with self._lock:
            return list(self._sent)

    @property
    def templates(self) -> list[dict]:
        """Template messages accepted so far."""
        _drain()
        with self._lock:
            return list(self._templates)

    def count(self) -> int:
        """Messages delivered: customer-service and template."""
        _drain()
        with self._lock:
            return len(self._sent) + len(self._templates)

    def texts_to(self, openid: str) -> list[str]:
        return [
            m["text"]["content"]
            for m in self.sent
            if m.get("touser") == openid and m.get("msgtype") == "text"
        ]

    def menus_to(self, openid: str) -> list[dict]:
        """``msgmenu`` bodies sent to ``openid``."""
        return [
            m["msgmenu"]
            for m in self.sent
            if m.get("touser") == openid and m.get("msgtype") == "msgmenu"
        ]

    def templates_to(self, openid: str) -> list[dict]:
        return [m for m in self.templates if m.get("touser") == openid]

    def messages_to(self, openid: str) -> int:
        """Everything that reached ``openid``: customer-service and template messages."""
        return sum(1 for m in self.sent if m.get("touser") == openid) + len(
            self.templates_to(openid)
        )

    # --- what users did (the customer-service allowance) --------------------------------------

    def user_action(self, openid: str, msg_type: str, event: str | None = None) -> None:
        """``openid`` sent a message of ``msg_type`` (or an event, ``msg_type`` "event"), as
        WeChat sees it; a granting action resets the user's allowance."""
        msg_type = msg_type.lower()
        if msg_type == "event":
            if (event or "").lower() not in _GRANTING_EVENTS:
                return
            count, seconds = _ACTION_GRANT
        elif msg_type.startswith("device_"):
            return
        else:
            count, seconds = _MESSAGE_GRANT
        with self._lock:
            self._grants[openid] = [count, self.clock() + seconds]

    def allowance_left(self, openid: str) -> int:
        """Customer-service messages WeChat would still take for ``openid`` now."""
        with self._lock:
            grant = self._grants.get(openid)
            return grant[0] if grant is not None and self.clock() < grant[1] else 0

    def _allowance_refusal(self, openid: str) -> Answer | None:
        """45015 / 45047 when the allowance does not cover one more message, else spend one
        (caller holds the lock)."""
        if not self.enforce_allowance:
            return None
        grant = self._grants.get(openid)
        if grant is None or self.clock() >= grant[1]:
            self.refusals.append((openid, 45015))
            return 200, {"errcode": 45015, "errmsg": "response out of time limit"}
        if grant[0] <= 0:
            self.refusals.append((openid, 45047))
            return 200, {"errcode": 45047, "errmsg": "out of response count limit"}
        grant[0] -= 1
        return None

    # --- failures on request ------------------------------------------------------------------

    def inject(self, errcode: int, times: int = 1) -> None:
        """The next ``times`` authenticated calls are answered with ``errcode``."""
        with self._lock:
            self._errcodes.extend([errcode] * times)

    def inject_http_status(self, status: int, times: int = 1) -> None:
        """The next ``times`` authenticated calls get an HTTP error status (a network-level
        failure)."""
        with self._lock:
            self._statuses.extend([status] * times)

    def inject_slow_ack(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` sends are delivered, but answered only after ``seconds``."""
        with self._lock:
            self._slow_acks.extend([seconds] * times)

    def expire_token(self) -> None:
        """The token handed out is no longer accepted (errcode 40001 until a new fetch)."""
        with self._lock:
            self.current_token = None

    # --- web authorisation (网页授权) ----------------------------------------------------------

    OAUTH_CODE_SECONDS = 300

    def issue_oauth_code(self, openid: str) -> str:
        """A web-authorisation code for ``openid`` (what WeChat appends to the redirect)."""
        code = "CODE" + secrets.token_hex(12)
        with self._lock:
            self._oauth_codes[code] = (openid, time.monotonic())
        return code

    def authorize(self, openid: str, authorize_url: str) -> str:
        """The phone of ``openid`` opened ``authorize_url``: where WeChat sends it back
        (``redirect_uri?code=…&state=…``). ValueError when WeChat would show an error page
        instead (another host, AppID or scope, no ``#wechat_redirect``)."""
        url = urlsplit(authorize_url)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if (url.scheme, url.netloc, url.path) != (
            "https",
            "open.weixin.qq.com",
            "/connect/oauth2/authorize",
        ):
            raise ValueError(f"not WeChat's authorisation page: {authorize_url}")
        if url.fragment != "wechat_redirect":
            raise ValueError("the URL must end with #wechat_redirect")
        if self.appid is not None and query.get("appid") != self.appid:
            raise ValueError("appid 参数错误")
        if query.get("response_type") != "code" or query.get("scope") not in (
            "snsapi_base",
            "snsapi_userinfo",
        ):
            raise ValueError("scope 参数错误或没有 scope 权限")
        redirect = query.get("redirect_uri", "")
        if not redirect.startswith(("http://", "https://")):
            raise ValueError("redirect_uri 参数错误")
        back = {"code": self.issue_oauth_code(openid), "state": query.get("state", "")}
        return redirect + ("&" if urlsplit(redirect).query else "?") + urlencode(back)

    def handle_oauth_token(self, query: dict[str, str], _body: bytes) -> Answer:
        with self._lock:
            if self._statuses:
                return self._statuses.pop(0), {}
            if query.get("grant_type") != "authorization_code":
                return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
            if self.appid is not None and query.get("appid") != self.appid:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            if self.secret is not None and query.get("secret") != self.secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            code = query.get("code", "")
            if code in self._used_codes:
                return 200, {"errcode": 40163, "errmsg": "code been used"}
            issued = self._oauth_codes.pop(code, None)
            if issued is None or time.monotonic() - issued[1] > self.OAUTH_CODE_SECONDS:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            self._used_codes.add(code)
            return 200, {
                "access_token": "OAUTH-" + secrets.token_hex(12),
                "expires_in": 7200,
                "refresh_token": "REFRESH-" + secrets.token_hex(12),
                "openid": issued[0],
                "scope": "snsapi_base",
            }

    # --- the server side (each handler takes the query and the body) --------------------------

    def handle_token(self, query: dict[str, str], _body: bytes) -> Answer:
        with self._lock:
            self.token_requests += 1
            if query.get("grant_type") != "client_credential":
                return 200, {"errcode": 40002, "errmsg": "invalid grant_type"}
            if self.appid is not None and query.get("appid") != self.appid:
                return 200, {"errcode": 40013, "errmsg": "invalid appid"}
            if self.secret is not None and query.get("secret") != self.secret:
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.current_token = f"TOKEN-{self.token_requests}-{secrets.token_hex(6)}"
            return 200, {"access_token": self.current_token, "expires_in": 7200}

    def _refusal(self, query: dict[str, str]) -> Answer | None:
        """What WeChat answers an authenticated call before looking at its body, if not OK
        (caller holds the lock)."""
        if self._statuses:
            return self._statuses.pop(0), {}
        token = query.get("access_token")
        if not token or token != self.current_token:
            return 200, {"errcode": 40001, "errmsg": "invalid credential"}
        if self._errcodes:
            code = self._errcodes.pop(0)
            return 200, {"errcode": code, "errmsg": f"injected {code}"}
        return None

    def _payload(self, query: dict[str, str], body: bytes, send: bool = False) -> dict | Answer:
        """The call's JSON body, or WeChat's answer when it goes no further (caller holds the
        lock). ``send``: counted in ``send_requests``."""
        if send:
            self.send_requests += 1
        refusal = self._refusal(query)
        if refusal is not None:
            return refusal
        try:
            return json.loads(body.decode("utf-8"))
        except ValueError:
            return 200, {"errcode": 47001, "errmsg": "data format error"}

    def handle_send(self, query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            payload = self._payload(query, body, send=True)
            if isinstance(payload, tuple):
                return payload
            if not payload.get("touser") or payload.get("msgtype") not in ("text", "msgmenu"):
                return 200, {"errcode": 40003, "errmsg": "invalid openid"}
            if payload["touser"] in self.unfollowed:
                return 200, {"errcode": 43004, "errmsg": "require subscribe"}
            if payload["touser"] in self.closed_windows:
                return 200, {"errcode": 45015, "errmsg": "response out of time limit"}
            refusal = self._allowance_refusal(payload["touser"])
            if refusal is not None:
                return refusal
            self._sent.append(payload)
            delay = self._slow_acks.pop(0) if self._slow_acks else 0.0
        if delay:
            time.sleep(delay)  # delivered; the answer comes too late for the sender
        return 200, OK

    def handle_template(self, query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            payload = self._payload(query, body, send=True)
            if isinstance(payload, tuple):
                return payload
            if not payload.get("touser"):
                return 200, {"errcode": 40003, "errmsg": "invalid openid"}
            if not payload.get("template_id"):
                return 200, {"errcode": 40037, "errmsg": "invalid template_id"}
            if payload["touser"] in self.unfollowed:
                return 200, {"errcode": 43004, "errmsg": "require subscribe"}
            data = payload.get("data")
            if not isinstance(data, dict):
                return 200, {"errcode": 47003, "errmsg": "argument invalid! data is empty"}
            for name, item in data.items():
                if name in ("first", "remark"):
                    self.retired_fields_used.append(name)
                value = item.get("value") if isinstance(item, dict) else None
                if (
                    not isinstance(value, str)
                    or len(value) > TEMPLATE_VALUE_LIMIT
                    or "\n" in value
                    or "\r" in value
                    or _has_emoji(value)
                ):
                    return 200, {"errcode": 47003, "errmsg": f"argument invalid! data.{name}"}
            self._templates.append(payload)
            return 200, OK | {"msgid": len(self._templates)}

    def handle_qrcode(self, query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            payload = self._payload(query, body)
            if isinstance(payload, tuple):
                return payload
            scene = payload.get("action_info", {}).get("scene", {})
            if payload.get("action_name") != "QR_LIMIT_STR_SCENE" or not scene.get("scene_str"):
                return 200, {"errcode": 40053, "errmsg": "invalid action name"}
            ticket = f"TICKET-{secrets.token_hex(8)}"
            url = f"http://weixin.qq.com/q/{secrets.token_hex(10)}"
            self.qrcodes.append({"scene": scene["scene_str"], "ticket": ticket, "url": url})
            return 200, {"ticket": ticket, "url": url}

    def handle_menu(self, query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            menu = self._payload(query, body)
            if isinstance(menu, tuple):
                return menu
            if not 1 <= len(menu.get("button", [])) <= 3:
                return 200, {"errcode": 40016, "errmsg": "invalid button size"}
            self.menus.append(menu)
            return 200, OK


def _handler_for(api: FakeWeChatApi) -> type[BaseHTTPRequestHandler]:
    routes = {
        ("GET", "/cgi-bin/token"): api.handle_token,
        ("POST", "/cgi-bin/message/custom/send"): api.handle_send,
        ("POST", "/cgi-bin/message/template/send"): api.handle_template,
        ("POST", "/cgi-bin/qrcode/create"): api.handle_qrcode,
        ("POST", "/cgi-bin/menu/create"): api.handle_menu,
        ("GET", "/sns/oauth2/access_token"): api.handle_oauth_token,
    }

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            route = routes.get((self.command, url.path))
            if route is None:
                status, payload = 404, {"errcode": 404, "errmsg": "no such api"}
            else:
                status, payload = route(query, body)
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *_args) -> None:  # no line per request (with the token in it)
            pass

    return Handler
