"""A stand-in for a school's CAS server (统一身份认证): a real HTTP server on 127.0.0.1 (in a
thread) speaking CAS 2.0/3.0 as PROTOCOL.md describes it, so that the campus login
(``/bind/...``) talks to something real without leaving the machine. Point
``BANZHUREN_CAS_URL`` at :attr:`FakeCas.url`.

Used by ``banzhuren demo`` (a few students bind by campus login) and by the tests.

What it speaks, under ``/cas/``:

- ``login?service=S``: a login form; posting it (``username``, ``password``, ``service``) with
  the right password sends the browser to ``S?ticket=ST-…``. :meth:`FakeCas.login` does the
  same without the form (a test saying "this person logged in").
- ``p3/serviceValidate`` (3.0, with ``cas:attributes``) and ``serviceValidate`` (2.0, without)
  ``?service&ticket``: ``authenticationSuccess`` with ``cas:user``, or ``authenticationFailure``
  with ``INVALID_REQUEST`` (a parameter missing), ``INVALID_TICKET`` (unknown, or validated
  before: a ticket is consumed by its first validation, successful or not) or
  ``INVALID_SERVICE`` (issued for another service).

Failures on request: ``inject_http_status(500)``. ``validations`` records each validation as
(endpoint, service, ticket, result code).
"""

from __future__ import annotations

import html
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit
from xml.sax.saxutils import escape

NS = "http://www.yale.edu/tp/cas"


class FakeCas:
    """State and server of the fake (see the module docstring)."""

    def __init__(self) -> None:
        self.url = ""  # the CAS prefix, e.g. http://127.0.0.1:PORT/cas/
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        # username -> (password, attributes)
        self._accounts: dict[str, tuple[str, dict[str, str | list[str]]]] = {}
        # ticket -> (service, user, attributes); removed by its first validation
        self._tickets: dict[str, tuple[str, str, dict[str, str | list[str]]]] = {}
        self._statuses: list[int] = []
        self.validations: list[tuple[str, str, str, str]] = []

    # --- running it ---------------------------------------------------------------------------

    def start(self) -> FakeCas:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/cas/"
        threading.Thread(target=self._server.serve_forever, name="fake-cas", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- accounts and tickets -----------------------------------------------------------------

    def add_account(
        self, username: str, password: str, attributes: dict[str, str | list[str]] | None = None
    ) -> None:
        with self._lock:
            self._accounts[username] = (password, dict(attributes or {}))

    def login(
        self, username: str, service: str, attributes: dict[str, str | list[str]] | None = None
    ) -> str:
        """A service ticket for ``username`` logged in for ``service`` (no password asked)."""
        with self._lock:
            known = self._accounts.get(username)
            attrs = dict(attributes if attributes is not None else known[1] if known else {})
            return self._issue(service, username, attrs)

    def _issue(self, service: str, user: str, attributes: dict) -> str:
        ticket = f"ST-{secrets.token_hex(12)}-fakecas"
        self._tickets[ticket] = (service, user, attributes)
        return ticket

    def inject_http_status(self, status: int, times: int = 1) -> None:
        """The next ``times`` validations get an HTTP error page instead of a CAS answer."""
        with self._lock:
            self._statuses.extend([status] * times)

    # --- the server side ----------------------------------------------------------------------

    def handle_login_form(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        service = query.get("service", "")
        if not service:
            return 400, {}, _page("缺少 service 参数")
        return 200, {}, _form(service)

    def handle_login_post(self, form: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        service, username = form.get("service", ""), form.get("username", "")
        if not service:
            return 400, {}, _page("缺少 service 参数")
        with self._lock:
            account = self._accounts.get(username)
            if account is None or not secrets.compare_digest(
                account[0].encode(), form.get("password", "").encode()
            ):
                return 401, {}, _form(service, "用户名或密码错误")
            ticket = self._issue(service, username, account[1])
        separator = "&" if urlsplit(service).query else "?"
        return 302, {"Location": service + separator + urlencode({"ticket": ticket})}, b""

    def handle_validate(self, version: int, query: dict[str, str]) -> tuple[int, dict, bytes]:
        endpoint = "p3/serviceValidate" if version == 3 else "serviceValidate"
        service, ticket = query.get("service", ""), query.get("ticket", "")
        with self._lock:
            if self._statuses:
                return self._statuses.pop(0), {}, b"<html>Internal Server Error</html>"
            if not service or not ticket:
                code = "INVALID_REQUEST"
            else:
                issued = self._tickets.pop(ticket, None)
                if issued is None:
                    code = "INVALID_TICKET"
                elif issued[0] != service:
                    code = "INVALID_SERVICE"
                else:
                    code = "SUCCESS"
            self.validations.append((endpoint, service, ticket, code))
        if code != "SUCCESS":
            return 200, {}, _failure(code, ticket)
        _service, user, attributes = issued
        return 200, {}, _success(user, attributes if version == 3 else {})


def _success(user: str, attributes: dict[str, str | list[str]]) -> bytes:
    lines = [f'<cas:serviceResponse xmlns:cas="{NS}">', "  <cas:authenticationSuccess>"]
    lines.append(f"    <cas:user>{escape(user)}</cas:user>")
    if attributes:
        lines.append("    <cas:attributes>")
        for name, value in attributes.items():
            for one in value if isinstance(value, list) else [value]:
                lines.append(f"      <cas:{name}>{escape(one)}</cas:{name}>")
        lines.append("    </cas:attributes>")
    lines += ["  </cas:authenticationSuccess>", "</cas:serviceResponse>"]
    return "\n".join(lines).encode("utf-8")


def _failure(code: str, ticket: str) -> bytes:
    messages = {
        "INVALID_REQUEST": "'service' and 'ticket' parameters are both required",
        "INVALID_TICKET": f"Ticket {ticket} not recognized",
        "INVALID_SERVICE": f"Ticket {ticket} does not match supplied service",
    }
    return (
        f'<cas:serviceResponse xmlns:cas="{NS}">\n'
        f'  <cas:authenticationFailure code="{code}">{escape(messages[code])}'
        "</cas:authenticationFailure>\n</cas:serviceResponse>"
    ).encode()


def _page(text: str) -> bytes:
    return f"<!doctype html><meta charset=utf-8><p>{html.escape(text)}</p>".encode()


def _form(service: str, error: str = "") -> bytes:
    return (
        "<!doctype html><meta charset=utf-8><title>统一身份认证</title>"
        f"<p>{html.escape(error)}</p>"
        '<form method="post" action="login">'
        f'<input type="hidden" name="service" value="{html.escape(service)}">'
        '<input name="username"><input name="password" type="password">'
        "<button>登录</button></form>"
    ).encode()


def _handler_for(cas: FakeCas) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode("utf-8", "replace")
            route = (self.command, url.path)
            if route == ("GET", "/cas/login"):
                status, headers, data = cas.handle_login_form(query)
            elif route == ("POST", "/cas/login"):
                form = {k: v[0] for k, v in parse_qs(body).items()}
                status, headers, data = cas.handle_login_post(form)
            elif route == ("GET", "/cas/p3/serviceValidate"):
                status, headers, data = cas.handle_validate(3, query)
            elif route == ("GET", "/cas/serviceValidate"):
                status, headers, data = cas.handle_validate(2, query)
            else:
                status, headers, data = 404, {}, _page("没有这个页面")
            self.send_response(status)
            content_type = "text/xml" if "Validate" in url.path and status == 200 else "text/html"
            self.send_header("Content-Type", content_type + "; charset=utf-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _answer

        def log_message(self, *_args) -> None:  # no line per request (with tickets in it)
            pass

    return Handler
