"""Pytest plugin: WeChat fixtures.

- ``fake_wechat_api``: a real HTTP server on 127.0.0.1 (in a thread) speaking WeChat's
  ``cgi-bin/token`` and ``cgi-bin/message/custom/send``; it records what was sent
  (``.sent``, ``.texts_to(openid)``), counts token fetches (``.token_requests``), accepts only
  the latest token (like WeChat after its overlap), and can be told to fail:
  ``.inject(errcode, times=1)``, ``.inject_http_status(502)``, ``.expire_token()``, and
  ``.inject_slow_ack(seconds)`` (accept a message, then answer only after ``seconds``: the
  sender times out although the message arrived).
- Issue 15: it also speaks ``message/template/send`` (``.templates``), ``msgmenu`` customer-
  service messages (in ``.sent``; ``.menus_to(openid)``) and ``qrcode/create`` (``.qrcodes``);
  ``.closed_windows`` (openids answered 45015 on customer-service sends) and ``.unfollowed``
  (43004 on every send) model users WeChat would refuse.
- ``wechat_settings``: embedded settings in safe mode (random EncodingAESKey and AppID) whose
  API base is the fake server.
- ``wechat``: sends messages through the app's ``/wechat`` the way WeChat does (safe mode) and
  returns the reply text: ``wechat("测评", openid="o-1")``, ``wechat.voice(...)``,
  ``wechat.event("CLICK", "SURVEY")``, ``wechat.bind(student)``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator


class FakeWeChatApi:
    """State of the fake API server (see the module docstring)."""

    def __init__(self, appid: str, secret: str) -> None:
        self.appid = appid
        self.secret = secret
        self.url = ""
        self._lock = threading.Lock()
        self._sent: list[dict] = []
        # Menus posted to cgi-bin/menu/create, in order.
        self.menus: list[dict] = []
        self._errcodes: list[int] = []
        self._statuses: list[int] = []
        self._slow_acks: list[float] = []
        self.token_requests = 0
        self.send_requests = 0
        self.current_token: str | None = None
        # Issue 15: template sends, QR codes created, users outside the window / unfollowed.
        self._templates: list[dict] = []
        self.qrcodes: list[dict] = []
        self.closed_windows: set[str] = set()
        self.unfollowed: set[str] = set()

    # --- what tests call -------------------------------------------------------------------

    def settings(self, database_url: str, **overrides):
        """Test settings whose outbound WeChat calls come to this server."""
        from tests.conftest import make_settings

        fields = dict(wechat_appid=self.appid, wechat_secret=self.secret, wechat_api_base=self.url)
        return make_settings(database_url, **(fields | overrides))

    @property
    def base_url(self) -> str:
        """The server's URL with a trailing slash (for ``wechat_api_base``)."""
        return self.url

    @property
    def sent(self) -> list[dict]:
        """Messages accepted so far (after the embedded sender has finished its work)."""
        from core.outbox import drain

        drain()
        with self._lock:
            return list(self._sent)

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

    @property
    def templates(self) -> list[dict]:
        """Template messages accepted so far (after the embedded sender has finished)."""
        from core.outbox import drain

        drain()
        with self._lock:
            return list(self._templates)

    def templates_to(self, openid: str) -> list[dict]:
        return [m for m in self.templates if m.get("touser") == openid]

    def messages_to(self, openid: str) -> int:
        """Everything that reached ``openid``: customer-service and template messages."""
        return sum(1 for m in self.sent if m.get("touser") == openid) + len(
            self.templates_to(openid)
        )

    def inject(self, errcode: int, times: int = 1) -> None:
        """The next ``times`` sends are answered with ``errcode``."""
        with self._lock:
            self._errcodes.extend([errcode] * times)

    def inject_http_status(self, status: int, times: int = 1) -> None:
        """The next ``times`` sends get an HTTP error status (a network-level failure)."""
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

    # --- the server side -------------------------------------------------------------------

    def handle_token(self, query: dict[str, str]) -> dict:
        with self._lock:
            self.token_requests += 1
            if query.get("grant_type") != "client_credential":
                return {"errcode": 40002, "errmsg": "invalid grant_type"}
            if query.get("appid") != self.appid:
                return {"errcode": 40013, "errmsg": "invalid appid"}
            if query.get("secret") != self.secret:
                return {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.current_token = f"TOKEN-{self.token_requests}-{secrets.token_hex(6)}"
            return {"access_token": self.current_token, "expires_in": 7200}

    def _refusal(self, query: dict[str, str]) -> tuple[int, dict] | None:
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

    def handle_send(self, query: dict[str, str], body: bytes) -> tuple[int, dict]:
        with self._lock:
            self.send_requests += 1
            refusal = self._refusal(query)
            if refusal is not None:
                return refusal
            try:
                payload = json.loads(body.decode("utf-8"))
            except ValueError:
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            if not payload.get("touser") or payload.get("msgtype") not in ("text", "msgmenu"):
                return 200, {"errcode": 40003, "errmsg": "invalid openid"}
            if payload["touser"] in self.unfollowed:
                return 200, {"errcode": 43004, "errmsg": "require subscribe"}
            if payload["touser"] in self.closed_windows:
                return 200, {"errcode": 45015, "errmsg": "response out of time limit"}
            self._sent.append(payload)
            delay = self._slow_acks.pop(0) if self._slow_acks else 0.0
        if delay:
            time.sleep(delay)  # delivered; the answer comes too late for the sender
        return 200, {"errcode": 0, "errmsg": "ok"}

    def handle_template(self, query: dict[str, str], body: bytes) -> tuple[int, dict]:
        with self._lock:
            self.send_requests += 1
            refusal = self._refusal(query)
            if refusal is not None:
                return refusal
            try:
                payload = json.loads(body.decode("utf-8"))
            except ValueError:
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            if not payload.get("touser"):
                return 200, {"errcode": 40003, "errmsg": "invalid openid"}
            if not payload.get("template_id"):
                return 200, {"errcode": 40037, "errmsg": "invalid template_id"}
            if payload["touser"] in self.unfollowed:
                return 200, {"errcode": 43004, "errmsg": "require subscribe"}
            self._templates.append(payload)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": len(self._templates)}

    def handle_qrcode(self, query: dict[str, str], body: bytes) -> tuple[int, dict]:
        with self._lock:
            refusal = self._refusal(query)
            if refusal is not None:
                return refusal
            payload = json.loads(body.decode("utf-8") or "{}")
            scene = payload.get("action_info", {}).get("scene", {})
            if payload.get("action_name") != "QR_LIMIT_STR_SCENE" or not scene.get("scene_str"):
                return 200, {"errcode": 40053, "errmsg": "invalid action name"}
            ticket = f"TICKET-{secrets.token_hex(8)}"
            url = f"http://weixin.qq.com/q/{secrets.token_hex(10)}"
            self.qrcodes.append({"scene": scene["scene_str"], "ticket": ticket, "url": url})
            return 200, {"ticket": ticket, "url": url}

    def handle_menu(self, query: dict[str, str], body: bytes) -> tuple[int, dict]:
        with self._lock:
            refusal = self._refusal(query)
            if refusal is not None:
                return refusal
            try:
                menu = json.loads(body.decode("utf-8"))
            except ValueError:
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            if not 1 <= len(menu.get("button", [])) <= 3:
                return 200, {"errcode": 40016, "errmsg": "invalid button size"}
            self.menus.append(menu)
            return 200, {"errcode": 0, "errmsg": "ok"}


def _handler_for(api: FakeWeChatApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _query(self) -> dict[str, str]:
            return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

        def _reply(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if urlsplit(self.path).path == "/cgi-bin/token":
                self._reply(200, api.handle_token(self._query()))
            else:
                self._reply(404, {"errcode": 404, "errmsg": "no such api"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            path = urlsplit(self.path).path
            if path == "/cgi-bin/message/custom/send":
                self._reply(*api.handle_send(self._query(), body))
            elif path == "/cgi-bin/message/template/send":
                self._reply(*api.handle_template(self._query(), body))
            elif path == "/cgi-bin/qrcode/create":
                self._reply(*api.handle_qrcode(self._query(), body))
            elif path == "/cgi-bin/menu/create":
                self._reply(*api.handle_menu(self._query(), body))
            else:
                self._reply(404, {"errcode": 404, "errmsg": "no such api"})

        def log_message(self, *_args) -> None:  # keep test output clean
            pass

    return Handler


@pytest.fixture(autouse=True)
def _outbox_drained() -> Iterator[None]:
    """After every test, wait for the embedded outbox sender (core.outbox) to finish, so no
    send of one test runs into the next one's database setup."""
    yield
    from core.outbox import drain

    drain()


@pytest.fixture
def fake_wechat_api() -> Iterator[FakeWeChatApi]:
    api = FakeWeChatApi(appid="wx" + secrets.token_hex(8), secret=secrets.token_hex(16))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, name="fake-wechat-api", daemon=True)
    thread.start()
    yield api
    from core.outbox import drain

    drain()
    server.shutdown()
    server.server_close()


@pytest.fixture
def wechat_settings(db_url, fake_wechat_api):
    """Embedded settings, safe mode, outbound API pointed at ``fake_wechat_api``.

    Afterwards the process's Celery configuration (which the outbox reads) is put back to
    plain embedded settings, so that a later test never sends to this test's stopped server.
    """
    from core.celery_app import configure_celery
    from core.outbox import drain
    from tests.conftest import make_settings

    yield fake_wechat_api.settings(db_url, wechat_aes_key=crypto.random_aes_key())
    drain()
    configure_celery(make_settings(db_url))


class WeChatDriver:
    """Talks to the app's ``/wechat`` as WeChat does; every method returns the reply text
    ("" when the app answered ``success``)."""

    def __init__(self, client, simulator: WeChatSimulator, openid: str = "o-test-user") -> None:
        self.client = client
        self.sim = simulator
        self.openid = openid
        self.last_response = None

    def post(self, query: dict, body: bytes):
        """POST a prepared request; returns the Flask response."""
        self.last_response = self.client.post(
            "/wechat", query_string=query, data=body, content_type="text/xml"
        )
        return self.last_response

    def reply_of(self, response) -> str:
        assert response.status_code == 200, (response.status_code, response.data[:200])
        return self.sim.read_reply(response.data).get("Content", "")

    def send(self, text: str, openid: str | None = None, msg_id: int | None = None) -> str:
        return self.reply_of(self.post(*self.sim.text(openid or self.openid, text, msg_id)))

    __call__ = send

    def voice(self, recognition: str, openid: str | None = None) -> str:
        return self.reply_of(self.post(*self.sim.voice(openid or self.openid, recognition)))

    def image(self, openid: str | None = None, media_id: str | None = None) -> str:
        return self.reply_of(self.post(*self.sim.image(openid or self.openid, media_id)))

    def event(self, event: str, key: str | None = None, openid: str | None = None) -> str:
        # Events are deduplicated on FromUserName+CreateTime: two in one second would be
        # one event to the app, as they would be to WeChat.
        reply = self.reply_of(
            self.post(*self.sim.event(openid or self.openid, event, key, create_time=_tick()))
        )
        return reply

    def bind(self, person, openid: str | None = None) -> str:
        """Bind ``openid`` to a Student or Teacher (committed) with the person's code."""
        number = getattr(person, "student_no", None) or person.staff_no
        reply = self.send(f"绑定 {number} {person.binding_code}", openid=openid)
        assert "绑定成功" in reply, reply
        return reply


_last_tick = [0]
_tick_lock = threading.Lock()


def _tick() -> int:
    """A CreateTime for an event, distinct from the previous one (events have no MsgId)."""
    with _tick_lock:
        now = int(time.time())
        _last_tick[0] = max(now, _last_tick[0] + 1)
        return _last_tick[0]


@pytest.fixture
def wechat_app(wechat_settings):
    from bot import create_app

    app = create_app(wechat_settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def wechat(wechat_app, wechat_settings) -> WeChatDriver:
    sim = WeChatSimulator(
        wechat_settings.wechat_token,
        wechat_settings.wechat_aes_key,
        wechat_settings.wechat_appid,
        mode="safe",
    )
    return WeChatDriver(wechat_app.test_client(), sim)
