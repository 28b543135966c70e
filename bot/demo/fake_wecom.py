"""A stand-in for WeCom's API servers (``qyapi.weixin.qq.com``): a real HTTP server on
127.0.0.1 in a thread, like :mod:`bot.demo.fake_wechat` for the official account. Point
``BANZHUREN_WECOM_API_BASE`` at :attr:`FakeWeComApi.url`.

What it speaks: ``GET cgi-bin/gettoken?corpid&corpsecret`` (40013 for another CorpID, 40001 for
a wrong secret; only the latest token is accepted afterwards) and ``POST cgi-bin/message/send?
access_token`` (40014 without the current token; ``agentid`` must be the app's, else 301002;
``touser`` split on ``|``: users in :attr:`FakeWeComApi.users` receive the message, the others
come back in ``invaliduser`` with errcode 0, or 81013 when nobody was valid — as WeCom does;
``all_invalid_is_error = False`` answers errcode 0 then too).
Failures on request: ``inject(errcode, times)``, ``expire_token()``.

Reading :attr:`FakeWeComApi.sent` first waits for this process's embedded outbox sender.
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict]


def _drain() -> None:
    from core.outbox import drain

    drain()


class FakeWeComApi:
    """State and server of the fake (see the module docstring)."""

    def __init__(
        self, corp_id: str, secret: str, agent_id: int, users: set[str] | None = None
    ) -> None:
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        # UserIds in the school's WeCom address book.
        self.users: set[str] = set(users or ())
        # WeCom answers 81013 when every recipient is invalid; False: errcode 0 and the users
        # in ``invaliduser`` only (what it does when some recipients are valid).
        self.all_invalid_is_error = True
        self.url = ""
        self.current_token: str | None = None
        self.token_requests = 0
        self.send_requests = 0
        self._sent: list[dict] = []
        self._errcodes: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> FakeWeComApi:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(
            target=self._server.serve_forever, name="fake-wecom-api", daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def sent(self) -> list[dict]:
        """Messages delivered (one per valid recipient), in order."""
        _drain()
        with self._lock:
            return list(self._sent)

    def texts_to(self, userid: str) -> list[str]:
        return [m["text"]["content"] for m in self.sent if m["touser"] == userid]

    def inject(self, errcode: int, times: int = 1) -> None:
        """The next ``times`` sends are answered with ``errcode``."""
        with self._lock:
            self._errcodes.extend([errcode] * times)

    def expire_token(self) -> None:
        with self._lock:
            self.current_token = None

    # --- the server side ------------------------------------------------------------------------

    def handle_gettoken(self, query: dict[str, str], _body: bytes) -> Answer:
        with self._lock:
            self.token_requests += 1
            if query.get("corpid") != self.corp_id:
                return 200, {"errcode": 40013, "errmsg": "invalid corpid"}
            if query.get("corpsecret") != self.secret:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            self.current_token = f"WECOM-{self.token_requests}-{secrets.token_hex(6)}"
            return 200, {
                "errcode": 0,
                "errmsg": "ok",
                "access_token": self.current_token,
                "expires_in": 7200,
            }

    def handle_send(self, query: dict[str, str], body: bytes) -> Answer:
        with self._lock:
            self.send_requests += 1
            token = query.get("access_token")
            if not token or token != self.current_token:
                return 200, {"errcode": 40014, "errmsg": "invalid access_token"}
            if self._errcodes:
                code = self._errcodes.pop(0)
                return 200, {"errcode": code, "errmsg": f"injected {code}"}
            try:
                payload = json.loads(body.decode("utf-8"))
            except ValueError:
                return 200, {"errcode": 47001, "errmsg": "data format error"}
            if payload.get("agentid") != self.agent_id:
                return 200, {"errcode": 301002, "errmsg": "not allow operate another agent"}
            if payload.get("msgtype") != "text" or not payload.get("text", {}).get("content"):
                return 200, {"errcode": 41009, "errmsg": "missing content"}
            users = [u for u in str(payload.get("touser", "")).split("|") if u]
            valid = [u for u in users if u in self.users]
            invalid = [u for u in users if u not in self.users]
            for user in valid:
                self._sent.append({"touser": user, "text": payload["text"]})
            answer = {
                "errcode": 81013 if not valid and self.all_invalid_is_error else 0,
                "errmsg": "ok" if valid else "user & party & tag all invalid",
                "invaliduser": "|".join(invalid),
                "msgid": secrets.token_hex(8),
            }
            return 200, answer


def _handler_for(api: FakeWeComApi) -> type[BaseHTTPRequestHandler]:
    routes = {
        ("GET", "/cgi-bin/gettoken"): api.handle_gettoken,
        ("POST", "/cgi-bin/message/send"): api.handle_send,
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
