"""A stand-in for WeChat's API servers on 127.0.0.1, so that the demo's outbound messages
(survey notices, feedback forwarded to counsellors) go somewhere real without leaving the
machine. It speaks the calls the bot makes: the access token, customer-service and template
sends (both recorded in ``sent``), and ``qrcode/create`` for class posters."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass, field

from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response


@dataclass
class FakeWeChat:
    """Records every customer-service message it is asked to send."""

    sent: list[dict] = field(default_factory=list)
    token: str = field(default_factory=lambda: "demo-" + secrets.token_hex(16))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: BaseWSGIServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}/"

    def __call__(self, environ, start_response):
        request = Request(environ)
        path = request.path.rstrip("/")
        if path in ("/cgi-bin/token", "/cgi-bin/stable_token"):
            body = {"access_token": self.token, "expires_in": 7200}
        elif path in ("/cgi-bin/message/custom/send", "/cgi-bin/message/template/send"):
            if request.args.get("access_token") != self.token:
                body = {"errcode": 40001, "errmsg": "invalid credential"}
            else:
                with self._lock:
                    self.sent.append(json.loads(request.get_data() or b"{}"))
                body = {"errcode": 0, "errmsg": "ok"}
        elif path == "/cgi-bin/qrcode/create":
            ticket = secrets.token_hex(8)
            body = {"ticket": ticket, "url": f"http://weixin.qq.com/q/demo-{ticket}"}
        else:
            body = {"errcode": 0, "errmsg": "ok"}
        response = Response(json.dumps(body), content_type="application/json")
        return response(environ, start_response)

    def start(self) -> FakeWeChat:
        # werkzeug logs every request (with the access token in the URL) at INFO.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = make_server("127.0.0.1", 0, self, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def count(self) -> int:
        with self._lock:
            return len(self.sent)
